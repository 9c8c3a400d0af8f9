// GGUF parser tests: the real stories260K file, hand-built files of every supported dtype, and malformed files.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BadModelFileError, MissingTensorError, SieveError, UnsupportedArchitectureError, UnsupportedDtypeError,
} from '../errors/index.ts';
import { parseGguf } from './gguf.ts';

const STORIES = new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url);

// ---- a small GGUF writer (the format of ggml/docs/gguf.md, written independently for the tests) ----

type MetaValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'u64' | 'i64' | 'f64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; items: MetaValue[]; itemType: MetaValue['type'] };

const TYPE_IDS: Record<MetaValue['type'], number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

interface TensorSpec {
  name: string;
  ne: number[];
  ggmlType: number;
  data: Uint8Array;
  /** Override the computed data offset (relative to the data section). */
  offset?: number;
}

class ByteWriter {
  private chunks: number[] = [];
  get length(): number { return this.chunks.length; }
  bytes(b: Uint8Array | number[]): void { for (const x of b) this.chunks.push(x); }
  private view(n: number, set: (v: DataView) => void): void {
    const dv = new DataView(new ArrayBuffer(n));
    set(dv);
    this.bytes(new Uint8Array(dv.buffer));
  }
  u32(v: number): void { this.view(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number | bigint): void { this.view(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  string(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  value(v: MetaValue): void {
    switch (v.type) {
      case 'u8': this.bytes([v.value]); break;
      case 'i8': this.view(1, (d) => d.setInt8(0, v.value)); break;
      case 'u16': this.view(2, (d) => d.setUint16(0, v.value, true)); break;
      case 'i16': this.view(2, (d) => d.setInt16(0, v.value, true)); break;
      case 'u32': this.u32(v.value); break;
      case 'i32': this.view(4, (d) => d.setInt32(0, v.value, true)); break;
      case 'f32': this.view(4, (d) => d.setFloat32(0, v.value, true)); break;
      case 'u64': this.u64(v.value); break;
      case 'i64': this.view(8, (d) => d.setBigInt64(0, BigInt(v.value), true)); break;
      case 'f64': this.view(8, (d) => d.setFloat64(0, v.value, true)); break;
      case 'bool': this.bytes([v.value ? 1 : 0]); break;
      case 'string': this.string(v.value); break;
      case 'array':
        this.u32(TYPE_IDS[v.itemType]);
        this.u64(v.items.length);
        for (const item of v.items) this.value(item);
        break;
    }
  }
  pad(alignment: number): void { while (this.chunks.length % alignment !== 0) this.chunks.push(0); }
  done(): Uint8Array { return new Uint8Array(this.chunks); }
}

function buildGguf(meta: [string, MetaValue][], tensors: TensorSpec[], opts: { version?: number; alignment?: number } = {}): Uint8Array {
  const alignment = opts.alignment ?? 32;
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(opts.version ?? 3);
  w.u64(tensors.length);
  w.u64(meta.length);
  for (const [key, value] of meta) {
    w.string(key);
    w.u32(TYPE_IDS[value.type]);
    w.value(value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const n of t.ne) w.u64(n);
    w.u32(t.ggmlType);
    w.u64(t.offset ?? offset);
    offset = Math.ceil((offset + t.data.length) / alignment) * alignment;
  }
  w.pad(alignment);
  for (const t of tensors) {
    w.pad(alignment);
    w.bytes(t.data);
  }
  return w.done();
}

const u32 = (value: number): MetaValue => ({ type: 'u32', value });
const f32 = (value: number): MetaValue => ({ type: 'f32', value });
const str = (value: string): MetaValue => ({ type: 'string', value });
const strings = (values: string[]): MetaValue => ({ type: 'array', itemType: 'string', items: values.map(str) });

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
function u16Bytes(bits: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(bits).buffer);
}
/** One Q8_0 block: f16 scale bits then 32 int8 quants. */
function q8Block(scaleBits: number, quants: number[]): number[] {
  expect(quants.length).toBe(32);
  return [scaleBits & 0xff, scaleBits >> 8, ...quants.map((q) => q & 0xff)];
}

/** A tiny but complete llama-like model: hidden 32 (one Q8_0 block per row), 1 layer, 2 heads of 16, vocab 4. */
function tinyModel(
  arch = 'llama', extraMeta: [string, MetaValue][] = [], extraTensors: TensorSpec[] = [], opts: { version?: number; alignment?: number } = {},
): Uint8Array {
  const h = 32, ffn = 32, vocab = 4;
  const f32Tensor = (name: string, ne: number[]): TensorSpec => {
    const n = ne.reduce((a, b) => a * b, 1);
    return { name, ne, ggmlType: 0, data: f32Bytes(Array.from({ length: n }, (_, i) => (i % 7) - 3)) };
  };
  const meta: [string, MetaValue][] = [
    ['general.architecture', str(arch)],
    [`${arch}.embedding_length`, u32(h)],
    [`${arch}.block_count`, u32(1)],
    [`${arch}.feed_forward_length`, u32(ffn)],
    [`${arch}.attention.head_count`, u32(2)],
    [`${arch}.attention.head_count_kv`, u32(1)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(1e-6)],
    [`${arch}.context_length`, u32(128)],
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.tokens', strings(['a', 'b', 'c', '<eos>'])],
    ['tokenizer.ggml.eos_token_id', u32(3)],
    ...extraMeta,
  ];
  const tensors = [
    f32Tensor('token_embd.weight', [h, vocab]),
    f32Tensor('output_norm.weight', [h]),
    f32Tensor('blk.0.attn_norm.weight', [h]),
    f32Tensor('blk.0.attn_q.weight', [h, h]),
    f32Tensor('blk.0.attn_k.weight', [h, 16]),
    f32Tensor('blk.0.attn_v.weight', [h, 16]),
    f32Tensor('blk.0.attn_output.weight', [h, h]),
    f32Tensor('blk.0.ffn_norm.weight', [h]),
    f32Tensor('blk.0.ffn_gate.weight', [h, ffn]),
    f32Tensor('blk.0.ffn_up.weight', [h, ffn]),
    f32Tensor('blk.0.ffn_down.weight', [ffn, h]),
    ...extraTensors.map((t) => (t.data.length ? t : f32Tensor(t.name, t.ne))),
  ];
  return buildGguf(meta, tensors, opts);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('parseGguf on stories260K', () => {
  const parsed = parseGguf(new Uint8Array(readFileSync(STORIES)), 'stories260K.gguf');

  it('reads the documented config', () => {
    expect(parsed.config).toEqual({
      architecture: 'llama', vocabSize: 512, hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8,
      numKvHeads: 4, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'interleaved',
      maxPositionEmbeddings: 2048, tieWordEmbeddings: true, attentionBias: false, qkNorm: false, bosTokenId: 1,
      eosTokenIds: [2],
    });
  });

  it('maps every tensor to its Hugging Face name and shape, keeping the tied embedding once', () => {
    const names = parsed.weights.names();
    expect(names).toHaveLength(2 + 5 * 9);
    expect(parsed.weights.get('model.embed_tokens.weight').shape).toEqual([512, 64]);
    expect(parsed.weights.get('model.layers.4.self_attn.k_proj.weight').shape).toEqual([32, 64]);
    expect(parsed.weights.get('model.layers.2.mlp.down_proj.weight').shape).toEqual([64, 172]);
    expect(parsed.weights.get('model.layers.2.mlp.gate_proj.weight').shape).toEqual([172, 64]);
    expect(parsed.weights.has('lm_head.weight')).toBe(false);
    const e = thrown(() => parsed.weights.get('lm_head.weight'));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect((e as Error).message).toContain('stories260K.gguf');
  });

  it('reads the vocabulary', () => {
    const v = parsed.vocabulary;
    expect(v.model).toBe('llama');
    expect(v.tokens).toHaveLength(512);
    expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(v.tokens[13]).toBe('<0x0A>');
    expect(v.scores).toHaveLength(512);
    expect(v.tokenTypes?.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(v.bosTokenId).toBe(1);
    expect(v.eosTokenId).toBe(2);
    expect(v.addBosToken).toBe(true);
    expect(parsed.metadata.get('llama.rope.dimension_count')).toBe(8);
  });
});

describe('parseGguf on built files', () => {
  it('converts f32, f16, bf16 and q8_0 tensors to the expected f32 values', () => {
    // f16 bit patterns with their exact values: 1, -2, 1/3 rounded, smallest subnormal, largest normal, -0, +inf, 0.5
    const f16Bits = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x8000, 0x7c00, 0x3800];
    const f16Values = [1, -2, 0.333251953125, 2 ** -24, 65504, -0, Infinity, 0.5];
    // bf16 is the top half of an f32: 1.5, -3, 2^-126 (smallest normal), 3.140625
    const bf16Bits = [0x3fc0, 0xc040, 0x0080, 0x4049];
    const bf16Values = [1.5, -3, 2 ** -126, 3.140625];
    // q8_0, 2 rows x 64 (two blocks per row): scales 0.25, 0.0999755859375 (f16 0x2E66), 1, -0.5
    const quants = (k: number) => Array.from({ length: 32 }, (_, j) => ((j * 37 + k * 11) % 256) - 128);
    const scales = [[0x3400, 0.25], [0x2e66, 0.0999755859375], [0x3c00, 1], [0xb800, -0.5]] as const;
    const q8 = scales.flatMap(([bits], k) => q8Block(bits, quants(k)));
    const q8Expected = scales.flatMap(([, d], k) => quants(k).map((q) => Math.fround(d * q)));
    const model = tinyModel('llama', [], [
      { name: 'a.f32', ne: [3], ggmlType: 0, data: f32Bytes([1.5, -0.25, 3e-8]) },
      { name: 'b.f16', ne: [4, 2], ggmlType: 1, data: u16Bytes(f16Bits) },
      { name: 'c.bf16', ne: [4], ggmlType: 30, data: u16Bytes(bf16Bits) },
      { name: 'd.q8_0', ne: [64, 2], ggmlType: 8, data: new Uint8Array(q8) },
    ]);
    const { weights } = parseGguf(model, 'tiny.gguf');
    expect(Array.from(weights.get('a.f32').data)).toEqual([1.5, -0.25, Math.fround(3e-8)]);
    expect(weights.get('b.f16').shape).toEqual([2, 4]);
    expect(Array.from(weights.get('b.f16').data)).toEqual(f16Values);
    expect(Object.is(weights.get('b.f16').data[5], -0)).toBe(true);
    expect(Array.from(weights.get('c.bf16').data)).toEqual(bf16Values);
    expect(weights.get('d.q8_0').shape).toEqual([2, 64]);
    expect(Array.from(weights.get('d.q8_0').data)).toEqual(q8Expected);
  });

  it('reads every metadata value type, arrays included, in v2 and v3 files, with a custom alignment', () => {
    const meta: [string, MetaValue][] = [
      ['general.architecture', str('llama')],
      ['general.alignment', u32(64)],
      ['t.u8', { type: 'u8', value: 250 }],
      ['t.i8', { type: 'i8', value: -100 }],
      ['t.u16', { type: 'u16', value: 65000 }],
      ['t.i16', { type: 'i16', value: -30000 }],
      ['t.u32', u32(4294967295)],
      ['t.i32', { type: 'i32', value: -2000000000 }],
      ['t.f32', f32(0.1)],
      ['t.u64', { type: 'u64', value: 2 ** 40 }],
      ['t.i64', { type: 'i64', value: -(2 ** 40) }],
      ['t.f64', { type: 'f64', value: 0.1 }],
      ['t.bool', { type: 'bool', value: true }],
      ['t.string', str('héllo ▁world')],
      ['t.ints', { type: 'array', itemType: 'i32', items: [1, -2, 3].map((value) => ({ type: 'i32', value })) }],
      ['t.nested', { type: 'array', itemType: 'array', items: [strings(['x']), strings(['y', 'z'])] }],
      ['t.empty', { type: 'array', itemType: 'f32', items: [] }],
    ];
    // Two header lengths 32 bytes apart: in one of them 64-alignment and 32-alignment put the data at different places.
    for (const [version, pad] of [[2, ''], [3, ''], [3, 'x'.repeat(32)]] as const) {
      const model = tinyModel('llama', [...meta.slice(1), ['t.pad', str(pad)]], [{ name: 'extra', ne: [3], ggmlType: 0, data: f32Bytes([7, 8, 9]) }], { version, alignment: 64 });
      const { metadata, weights, config } = parseGguf(model, 'tiny.gguf');
      expect(config.numLayers).toBe(1);
      // With the default 32 the tensors after the first would be read from the wrong place.
      expect(Array.from(weights.get('extra').data)).toEqual([7, 8, 9]);
      expect(metadata.get('general.alignment')).toBe(64);
    expect(metadata.get('t.u8')).toBe(250);
    expect(metadata.get('t.i8')).toBe(-100);
    expect(metadata.get('t.u16')).toBe(65000);
    expect(metadata.get('t.i16')).toBe(-30000);
    expect(metadata.get('t.u32')).toBe(4294967295);
    expect(metadata.get('t.i32')).toBe(-2000000000);
    expect(metadata.get('t.f32')).toBe(0.1);
    expect(metadata.get('t.u64')).toBe(2 ** 40);
    expect(metadata.get('t.i64')).toBe(-(2 ** 40));
    expect(metadata.get('t.f64')).toBe(0.1);
    expect(metadata.get('t.bool')).toBe(true);
    expect(metadata.get('t.string')).toBe('héllo ▁world');
    expect(metadata.get('t.ints')).toEqual([1, -2, 3]);
    expect(metadata.get('t.nested')).toEqual([['x'], ['y', 'z']]);
    expect(metadata.get('t.empty')).toEqual([]);
    }
  });

  it('reads a Qwen3 file: q/k norms mapped, half-split RoPE, head dim from key_length', () => {
    const { config, weights } = parseGguf(
      tinyModel('qwen3', [['qwen3.attention.key_length', u32(16)], ['qwen3.rope.freq_base', f32(1000000)]], [
        { name: 'blk.0.attn_q_norm.weight', ne: [16], ggmlType: 0, data: new Uint8Array() },
        { name: 'blk.0.attn_k_norm.weight', ne: [16], ggmlType: 0, data: new Uint8Array() },
        { name: 'output.weight', ne: [32, 4], ggmlType: 0, data: f32Bytes(new Array(128).fill(0.5)) },
      ]),
      'qwen3.gguf',
    );
    expect(config).toMatchObject({
      architecture: 'qwen3', headDim: 16, numHeads: 2, numKvHeads: 1, qkNorm: true, attentionBias: false,
      ropeLayout: 'half', ropeTheta: 1000000, tieWordEmbeddings: false, vocabSize: 4, bosTokenId: null, eosTokenIds: [3],
      rmsNormEps: 1e-6,
    });
    expect(weights.get('model.layers.0.self_attn.q_norm.weight').shape).toEqual([16]);
    expect(weights.get('model.layers.0.self_attn.k_norm.weight').shape).toEqual([16]);
    expect(weights.get('lm_head.weight').shape).toEqual([4, 32]);
    expect(weights.get('model.layers.0.mlp.down_proj.weight').shape).toEqual([32, 32]);
  });

  it('reads a Qwen2 file: q/k/v biases mapped and flagged', () => {
    const { config, weights, vocabulary } = parseGguf(
      tinyModel('qwen2', [['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }]], [
        { name: 'blk.0.attn_q.bias', ne: [32], ggmlType: 0, data: new Uint8Array() },
        { name: 'blk.0.attn_k.bias', ne: [16], ggmlType: 0, data: new Uint8Array() },
        { name: 'blk.0.attn_v.bias', ne: [16], ggmlType: 0, data: new Uint8Array() },
      ]),
      'qwen2.gguf',
    );
    expect(config).toMatchObject({ architecture: 'qwen2', attentionBias: true, qkNorm: false, ropeLayout: 'half', headDim: 16 });
    expect(weights.get('model.layers.0.self_attn.k_proj.bias').shape).toEqual([16]);
    expect(vocabulary).toMatchObject({ model: 'gpt2', addBosToken: false, eosTokenId: 3, scores: null, tokenTypes: null });
  });
});

describe('parseGguf on bad files', () => {
  const good = tinyModel();

  function expectBad(bytes: Uint8Array, field: string): BadModelFileError {
    const e = thrown(() => parseGguf(bytes, 'bad.gguf'));
    expect(e).toBeInstanceOf(BadModelFileError);
    expect((e as Error).message).toContain('bad.gguf');
    expect((e as Error).message).toContain(field);
    return e as BadModelFileError;
  }

  function patched(bytes: Uint8Array, at: number, write: (v: DataView) => void): Uint8Array {
    const copy = bytes.slice();
    write(new DataView(copy.buffer, at));
    return copy;
  }

  it('the good file parses', () => {
    expect(parseGguf(good, 'good.gguf').config.numLayers).toBe(1);
  });

  it('every truncation gives a BadModelFileError, never another error', () => {
    for (let len = 0; len < good.length; len += 1) {
      const e = thrown(() => parseGguf(good.subarray(0, len), 'cut.gguf'));
      if (!(e instanceof BadModelFileError)) throw new Error(`length ${len}: ${String(e)}`);
      expect(e.message).toContain('cut.gguf');
    }
  });

  it('a bad magic, an old version', () => {
    expectBad(patched(good, 0, (v) => v.setUint32(0, 0x12345678, true)), 'magic');
    expectBad(patched(good, 4, (v) => v.setUint32(0, 1, true)), 'version');
  });

  it('absurd counts are refused before anything is allocated', () => {
    expectBad(patched(good, 8, (v) => v.setBigUint64(0, 1n << 40n, true)), 'tensor_count');
    expectBad(patched(good, 16, (v) => v.setBigUint64(0, 1n << 62n, true)), 'metadata_kv_count');
    // The token array's length field: find it after the key "tokenizer.ggml.tokens" and its type (9) and item type (8).
    const at = indexOf(good, 'tokenizer.ggml.tokens') + 'tokenizer.ggml.tokens'.length + 8;
    expect(new DataView(good.buffer).getUint32(at - 8, true)).toBe(9);
    expectBad(patched(good, at, (v) => v.setBigUint64(0, 1n << 50n, true)), 'tokenizer.ggml.tokens array length');
    // A string length past the end
    const keyAt = indexOf(good, 'general.architecture') - 8;
    expectBad(patched(good, keyAt, (v) => v.setBigUint64(0, 1n << 33n, true)), 'metadata key #0');
  });

  it('arrays nested absurdly deep are refused, not a stack overflow', () => {
    let deep: MetaValue = strings(['x']);
    for (let i = 0; i < 1000; i++) deep = { type: 'array', itemType: 'array', items: [deep] };
    expectBad(tinyModel('llama', [['t.deep', deep]]), 'metadata t.deep');
  });

  it('a tensor whose data offset or size runs past the end names the tensor', () => {
    const offsetAt = tensorFieldOffset(good, 'blk.0.ffn_down.weight', 'offset');
    expectBad(patched(good, offsetAt, (v) => v.setBigUint64(0, 1n << 32n, true)), 'tensor blk.0.ffn_down.weight data offset');
    expectBad(patched(good, offsetAt, (v) => v.setBigUint64(0, 4n, true)), 'tensor blk.0.ffn_down.weight data offset');
    const dimAt = tensorFieldOffset(good, 'blk.0.ffn_down.weight', 'dim1');
    expectBad(patched(good, dimAt, (v) => v.setBigUint64(0, 40n, true)), 'tensor blk.0.ffn_down.weight data offset');
    expectBad(patched(good, dimAt, (v) => v.setBigUint64(0, 1n << 40n, true)), 'tensor blk.0.ffn_down.weight shape');
    expectBad(patched(good, dimAt, (v) => v.setBigUint64(0, 0n, true)), 'tensor blk.0.ffn_down.weight dim 1');
    expectBad(patched(good, dimAt - 12, (v) => v.setUint32(0, 7, true)), 'tensor blk.0.ffn_down.weight n_dims');
  });

  it('an unsupported dtype names the file and the tensor', () => {
    const typeAt = tensorFieldOffset(good, 'blk.0.ffn_up.weight', 'type');
    const e = thrown(() => parseGguf(patched(good, typeAt, (v) => v.setUint32(0, 11, true)), 'q3k.gguf'));
    expect(e).toBeInstanceOf(UnsupportedDtypeError);
    expect((e as Error).message).toContain('q3k.gguf');
    expect((e as Error).message).toContain('blk.0.ffn_up.weight');
    expect((e as Error).message).toContain('Q3_K');
  });

  it('an unsupported architecture, a missing hyperparameter, a wrong metadata type', () => {
    expect(() => parseGguf(tinyModel('gpt2'), 'gpt2.gguf')).toThrow(UnsupportedArchitectureError);
    const noHeads = buildGguf([['general.architecture', str('llama')], ['llama.embedding_length', u32(8)]], []);
    expectBad(noHeads, 'llama.block_count');
    const wrongType = tinyModel('llama', [], []);
    const at = indexOf(wrongType, 'llama.block_count') + 'llama.block_count'.length;
    expectBad(patched(wrongType, at, (v) => v.setUint32(0, 42, true)), 'metadata llama.block_count type');
    const e = thrown(() => parseGguf(tinyModel('llama', [['llama.rope.dimension_count', u32(8)]]), 'partial.gguf'));
    expect(e).toBeInstanceOf(SieveError);
    expect((e as Error).message).toContain('rope.dimension_count');
  });
});

function indexOf(bytes: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`"${text}" not in file`);
}

/** Byte offset of a field of a 2-D tensor's info record: after its name come n_dims, dims, type, offset. */
function tensorFieldOffset(bytes: Uint8Array, name: string, field: 'dim1' | 'type' | 'offset'): number {
  const after = indexOf(bytes, name) + name.length;
  expect(new DataView(bytes.buffer).getUint32(after, true)).toBe(2);
  const dims = after + 4;
  return { dim1: dims + 8, type: dims + 16, offset: dims + 20 }[field];
}
