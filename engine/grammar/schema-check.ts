// A JSON Schema's shape, checked before xgrammar compiles it, so an invalid schema is an error naming where it is
// invalid (a JSON pointer into the schema) instead of xgrammar's message without a place. Checks the keywords that
// constrain generation; unknown keywords (title, description, examples, ...) pass as JSON Schema says.
import { InvalidSchemaError } from '../errors/index.ts';

const TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);
const SCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SCHEMAS = ['items', 'additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'];
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'];

type Node = Record<string, unknown>;
const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `kind` and `root` name the request field in errors ('json_schema' at response_format.json_schema.schema, or a tool's parameters). */
export function checkJsonSchema(schema: unknown, root: string, kind: 'json_schema' | 'tools' = 'json_schema'): void {
  const fail = (path: string, problem: string): never => { throw new InvalidSchemaError(kind, `${root}${path}`, problem); };
  const walk = (node: unknown, path: string): void => {
    if (typeof node === 'boolean') return;
    if (!isObject(node)) fail(path, `must be a schema (an object or a boolean), got ${JSON.stringify(node)}`);
    const s = node as Node;
    if (s.type !== undefined) {
      const list = Array.isArray(s.type) ? s.type : [s.type];
      if (list.length === 0) fail(`${path}/type`, 'must not be an empty list');
      list.forEach((t, i) => {
        if (typeof t !== 'string' || !TYPES.has(t)) fail(Array.isArray(s.type) ? `${path}/type/${i}` : `${path}/type`, `must be one of ${[...TYPES].join(', ')}, got ${JSON.stringify(t)}`);
      });
    }
    for (const key of SCHEMA_MAPS) {
      if (s[key] === undefined) continue;
      if (!isObject(s[key])) fail(`${path}/${key}`, 'must be an object of schemas');
      for (const [name, sub] of Object.entries(s[key] as Node)) walk(sub, `${path}/${key}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
    for (const key of SCHEMA_LISTS) {
      if (s[key] === undefined) continue;
      if (!Array.isArray(s[key]) || (s[key] as unknown[]).length === 0) fail(`${path}/${key}`, 'must be a non-empty list of schemas');
      (s[key] as unknown[]).forEach((sub, i) => walk(sub, `${path}/${key}/${i}`));
    }
    for (const key of SCHEMAS) if (s[key] !== undefined) walk(s[key], `${path}/${key}`);
    for (const key of NUMBERS) {
      if (s[key] !== undefined && (typeof s[key] !== 'number' || !Number.isFinite(s[key]))) fail(`${path}/${key}`, `must be a number, got ${JSON.stringify(s[key])}`);
    }
    if (typeof s.multipleOf === 'number' && s.multipleOf <= 0) fail(`${path}/multipleOf`, 'must be greater than 0');
    for (const key of COUNTS) {
      if (s[key] !== undefined && !(Number.isSafeInteger(s[key]) && (s[key] as number) >= 0)) fail(`${path}/${key}`, `must be a non-negative integer, got ${JSON.stringify(s[key])}`);
    }
    const pairs: [string, string][] = [['minimum', 'maximum'], ['minLength', 'maxLength'], ['minItems', 'maxItems'], ['minProperties', 'maxProperties']];
    for (const [lo, hi] of pairs) {
      if (typeof s[lo] === 'number' && typeof s[hi] === 'number' && (s[lo] as number) > (s[hi] as number)) fail(`${path}/${lo}`, `${s[lo]} is greater than ${hi} ${s[hi]}: nothing is valid`);
    }
    if (s.required !== undefined) {
      if (!Array.isArray(s.required)) fail(`${path}/required`, 'must be a list of property names');
      (s.required as unknown[]).forEach((r, i) => { if (typeof r !== 'string') fail(`${path}/required/${i}`, 'must be a property name (a string)'); });
    }
    if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.length === 0)) fail(`${path}/enum`, 'must be a non-empty list of values');
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== 'string') fail(`${path}/pattern`, 'must be a regular expression (a string)');
      try { new RegExp(s.pattern as string, 'u'); } catch (e) { fail(`${path}/pattern`, `is not a regular expression: ${(e as Error).message}`); }
    }
    if (s.$ref !== undefined && typeof s.$ref !== 'string') fail(`${path}/$ref`, 'must be a reference (a string such as "#/$defs/name")');
  };
  walk(schema, '');
}

/**
 * The schema as xgrammar compiles it correctly. xgrammar 0.1.27 bounds decimals wrongly (under maximum 1 it takes
 * 1.5; under maximum 2.5 it refuses 2), so a number with minimum/maximum is generated as an integer in the bounds
 * (every reply stays valid; decimals in a range are not generated). Bounds with no integer between them are refused.
 */
export function schemaForXgrammar(schema: unknown, root: string, kind: 'json_schema' | 'tools' = 'json_schema'): unknown {
  const walk = (node: unknown, path: string): unknown => {
    if (Array.isArray(node)) return node.map((x, i) => walk(x, `${path}/${i}`));
    if (!isObject(node)) return node;
    const out: Node = {};
    for (const [key, value] of Object.entries(node)) {
      // enum and const hold values, not schemas.
      out[key] = key === 'enum' || key === 'const' ? value : walk(value, `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
    const bounded = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].some((k) => typeof out[k] === 'number');
    if (out.type === 'number' && bounded) {
      const lo = Math.max(typeof out.minimum === 'number' ? Math.ceil(out.minimum) : -Infinity, typeof out.exclusiveMinimum === 'number' ? Math.floor(out.exclusiveMinimum) + 1 : -Infinity);
      const hi = Math.min(typeof out.maximum === 'number' ? Math.floor(out.maximum) : Infinity, typeof out.exclusiveMaximum === 'number' ? Math.ceil(out.exclusiveMaximum) - 1 : Infinity);
      if (lo > hi) throw new InvalidSchemaError(kind, `${root}${path}`, 'a number range with no integer in it: Sieve generates bounded numbers as integers (xgrammar 0.1.27 bounds decimals wrongly)');
      delete out.exclusiveMinimum;
      delete out.exclusiveMaximum;
      out.type = 'integer';
      if (Number.isFinite(lo)) out.minimum = lo; else delete out.minimum;
      if (Number.isFinite(hi)) out.maximum = hi; else delete out.maximum;
    }
    return out;
  };
  return walk(schema, '');
}
