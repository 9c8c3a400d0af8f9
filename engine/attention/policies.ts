// The attention policies' CPU modules, one line per policy (their GPU factories are registered in registry.ts, one
// line each): the spec parser's table, the chat page's parameter rows and the CPU references come from here.
import { a2sfModule } from './a2sf/module.ts';
import { denseModule } from './dense/module.ts';
import { doubleSparsityModule } from './double-sparsity/module.ts';
import { fasaModule } from './fasa/module.ts';
import { h2oModule } from './h2o/module.ts';
import type { PolicyDefinition } from './params.ts';
import type { PolicyCpuModule } from './policy-module.ts';
import { questModule } from './quest/module.ts';
import { recycledModule } from './recycled/module.ts';
import { streamingModule } from './streaming/module.ts';
import { tidalModule } from './tidal/module.ts';

export const POLICY_MODULES: readonly PolicyCpuModule[] = [
  denseModule,
  streamingModule,
  h2oModule,
  a2sfModule,
  questModule,
  tidalModule,
  recycledModule,
  doubleSparsityModule,
  fasaModule,
];

export const POLICY_DEFINITIONS: readonly PolicyDefinition[] = POLICY_MODULES.map((m) => m.definition);

/** The CPU module of a policy by name, or undefined. */
export function policyModule(name: string): PolicyCpuModule | undefined {
  return POLICY_MODULES.find((m) => m.definition.name === name);
}
