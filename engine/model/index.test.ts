// The browser face must not reach Node built-ins: a page bundle that imports engine/model would otherwise pull in node:fs.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** Every non-relative module reachable from `entry` through static and dynamic imports (type-only ones included). */
function externalImports(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        // A sibling still being written by someone else is not followed until it exists.
        if (existsSync(target)) visit(target);
      } else {
        external.set(spec, file);
      }
    }
  };
  visit(entry);
  return external;
}

function isNodeBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]);
}

describe('engine/model faces', () => {
  it('index.ts reaches no Node built-in', () => {
    const builtins = [...externalImports(resolve(here, 'index.ts'))].filter(([spec]) => isNodeBuiltin(spec));
    expect(builtins).toEqual([]);
  });

  it('node.ts is where node:fs comes in', () => {
    const external = externalImports(resolve(here, 'node.ts'));
    expect(external.get('node:fs/promises')).toBe(resolve(here, 'node-sources.ts'));
  });
});
