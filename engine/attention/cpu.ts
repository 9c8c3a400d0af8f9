// The attention module's CPU-only face (no WGSL imports): the spec grammar and parameter tables, for Node tools
// such as the CLI's reference backend, which cannot load `.wgsl?raw` modules outside Vite.
export {
  parseAttentionSpec, createSpecParser, policyParameterTable,
  type NormalizedSpec, type AttentionSpecInput, type PolicyParameterRow,
} from './spec.ts';
