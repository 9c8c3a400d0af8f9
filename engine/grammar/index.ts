// Grammar module face: structured output (JSON, JSON Schema, EBNF, regex) as token bitmasks through xgrammar.
export { compileConstraint, GrammarConstraint } from './constraint.ts';
export type { CompiledConstraint, GrammarSpec } from './constraint.ts';
export { checkJsonSchema } from './schema-check.ts';
export { loadXgrammar } from './xgrammar.ts';
