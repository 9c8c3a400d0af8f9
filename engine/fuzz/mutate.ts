// Seeded mutations as fast-check arbitraries: edits of a JSON tree (replace, delete, insert, retype a node) and of bytes.
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One edit of a JSON tree; `at` picks the node (modulo the node count, pre-order), so any number works. */
export interface JsonEdit {
  at: number;
  op: 'replace' | 'delete' | 'insert' | 'number' | 'string' | 'empty';
  key: string;
  value: Json;
}

/** Values that break parsers more often than random ones: extremes, wrong types, near-valid numbers. */
const NASTY: Json[] = [
  null, true, false, 0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, -1e308, 0.5, 1e-300, '', ' ', '0', '-1', '1e999',
  'NaN', '__proto__', 'constructor', '\u0000', '\ud800', '<!doctype html>', [], {}, [[]], [null], { '': null },
];

export const jsonValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
);

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'delete', 'insert', 'number', 'string', 'empty'),
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'dtype', 'shape', 'data_offsets', 'type', 'model', 'vocab', 'merges')),
  value: jsonValue,
});

export const jsonEdits = (maxLength = 4): fc.Arbitrary<JsonEdit[]> => fc.array(jsonEdit, { minLength: 1, maxLength });

interface Slot { parent: Json[] | { [key: string]: Json } | null; key: string | number; node: Json }

function slots(root: Json): Slot[] {
  const out: Slot[] = [{ parent: null, key: '', node: root }];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach((child, i) => { out.push({ parent: node, key: i, node: child }); walk(child); });
    else if (node && typeof node === 'object') for (const [k, child] of Object.entries(node)) { out.push({ parent: node, key: k, node: child }); walk(child); }
  };
  walk(root);
  return out;
}

/** Applies edits to a deep copy of `doc`; the result may be any JSON value. */
export function applyJsonEdits(doc: Json, edits: readonly JsonEdit[]): Json {
  let root: Json = structuredClone(doc);
  for (const edit of edits) {
    const all = slots(root);
    const slot = all[edit.at % all.length];
    const set = (value: Json) => {
      if (slot.parent === null) root = value;
      else if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
      else defineKey(slot.parent, slot.key as string, value);
    };
    const n = slot.node;
    switch (edit.op) {
      case 'replace': set(structuredClone(edit.value)); break;
      case 'delete':
        if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else if (slot.parent) delete slot.parent[slot.key as string];
        else root = null;
        break;
      case 'insert':
        if (Array.isArray(n)) n.splice(edit.at % (n.length + 1), 0, structuredClone(edit.value));
        else if (n && typeof n === 'object') defineKey(n, edit.key, structuredClone(edit.value));
        else set([n, structuredClone(edit.value)]);
        break;
      // Retype a node: numbers become strings and back, containers empty, values wrapped.
      case 'number': set(typeof n === 'number' ? -n * 2 ** (edit.at % 40) + (edit.at % 3) : typeof n === 'string' ? Number(n.length) : edit.at); break;
      case 'string': set(typeof n === 'string' ? n.slice(0, edit.at % (n.length + 1)) : JSON.stringify(n) ?? ''); break;
      case 'empty': set(Array.isArray(n) ? [] : n && typeof n === 'object' ? {} : null); break;
    }
  }
  return root;
}

/** A key set as JSON.parse would: `__proto__` becomes an own property, not the prototype. */
function defineKey(o: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

export interface ByteEdit {
  at: number;
  op: 'flip' | 'set' | 'truncate' | 'insert' | 'u32' | 'u64';
  value: number;
}

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('flip', 'set', 'truncate', 'insert', 'u32', 'u64'),
  value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 0xff, 0x7fffffff, 0xffffffff, 2 ** 40, 2 ** 53 - 1)),
});

export const byteEdits = (maxLength = 4): fc.Arbitrary<ByteEdit[]> => fc.array(byteEdit, { minLength: 1, maxLength });

/**
 * Applies byte edits; `focus` (when given) keeps edit positions in the first `focus` bytes, where headers live,
 * so that most cases hit the fields a parser reads rather than tensor data.
 */
export function applyByteEdits(bytes: Uint8Array, edits: readonly ByteEdit[], focus?: number): Uint8Array {
  let out = bytes.slice();
  for (const e of edits) {
    const span = Math.max(1, Math.min(out.length, focus ?? out.length));
    const at = e.at % span;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (e.op) {
      case 'flip': if (at < out.length) out[at] ^= 1 << (e.value % 8); break;
      case 'set': if (at < out.length) out[at] = e.value & 0xff; break;
      case 'truncate': out = out.slice(0, e.at % (out.length + 1)); break;
      case 'insert': { const grown = new Uint8Array(out.length + 1); grown.set(out.subarray(0, at)); grown[at] = e.value & 0xff; grown.set(out.subarray(at), at + 1); out = grown; break; }
      case 'u32': if (at + 4 <= out.length) view.setUint32(at, e.value >>> 0, true); break;
      case 'u64': if (at + 8 <= out.length) view.setBigUint64(at, BigInt(Math.floor(e.value)), true); break;
    }
  }
  return out;
}
