// Engine-independent checks that the golden fixtures agree with themselves: config <-> safetensors headers <-> ids <-> logits.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const GOLDEN_DIR = fileURLToPath(new URL('.', import.meta.url));
/** make_golden.py: NUM_TOKENS, GREEDY_PROMPT, GREEDY_NEW. */
const NUM_TOKENS = 300;
const GREEDY_PROMPT = 10;
const GREEDY_NEW = 20;
/** The five cases make_golden.py writes; a missing folder must fail, not shrink the test. */
const CASES = ['llama-gqa-untied', 'llama3-rope', 'qwen2', 'qwen3', 'llama-legacy-config'];
const SAFETENSORS_DTYPE: Record<string, { name: string; bytes: number }> = {
  float32: { name: 'F32', bytes: 4 },
  float16: { name: 'F16', bytes: 2 },
  bfloat16: { name: 'BF16', bytes: 2 },
};

interface TensorInfo { dtype: string; shape: number[]; data_offsets: [number, number] }

function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The header of a .safetensors file (u64 little-endian length, then JSON), checked against the file size. */
function safetensorsHeader(path: string): Record<string, TensorInfo> {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, TensorInfo>;
  delete header.__metadata__;
  const dataBytes = bytes.length - 8 - length;
  const ends = Object.values(header).map((t) => t.data_offsets[1]);
  expect(Math.max(...ends)).toBe(dataBytes);
  return header;
}

function tensorsOf(folder: string): Map<string, TensorInfo & { file: string }> {
  const index = join(folder, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? [...new Set(Object.values(readJson<{ weight_map: Record<string, string> }>(index).weight_map))].sort()
    : ['model.safetensors'];
  const out = new Map<string, TensorInfo & { file: string }>();
  for (const file of files) {
    for (const [name, info] of Object.entries(safetensorsHeader(join(folder, file)))) out.set(name, { ...info, file });
  }
  return out;
}

describe('golden fixtures', () => {
  it('has exactly the five cases', () => {
    const found = readdirSync(GOLDEN_DIR).filter((d) => existsSync(join(GOLDEN_DIR, d, 'meta.json'))).sort();
    expect(found).toEqual([...CASES].sort());
  });

  for (const name of CASES) {
    describe(name, () => {
      const folder = join(GOLDEN_DIR, name);
      const config = readJson(join(folder, 'config.json'));
      const meta = readJson(join(folder, 'meta.json'));
      const vocab = config.vocab_size as number;
      const hidden = config.hidden_size as number;
      const heads = config.num_attention_heads as number;
      const kvHeads = config.num_key_value_heads as number;
      const headDim = (config.head_dim as number | undefined) ?? hidden / heads;
      const intermediate = config.intermediate_size as number;
      const tied = config.tie_word_embeddings === true;

      it('has token ids in range and logits of shape [ids, vocab], finite, as meta.json says', () => {
        const ids = readJson<number[]>(join(folder, 'ids.json'));
        expect(ids).toHaveLength(NUM_TOKENS);
        for (const id of ids) expect(Number.isInteger(id) && id >= 0 && id < vocab).toBe(true);
        expect(statSync(join(folder, 'logits.f32')).size).toBe(NUM_TOKENS * vocab * 4);
        const raw = readFileSync(join(folder, 'logits.f32'));
        const logits = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        let maxAbs = 0;
        let nonFinite = 0;
        for (const v of logits) {
          if (!Number.isFinite(v)) nonFinite++;
          else maxAbs = Math.max(maxAbs, Math.abs(v));
        }
        expect(nonFinite).toBe(0);
        expect(maxAbs).toBeCloseTo(meta.max_abs_logit as number, 5);
        // Random weights at std 0.08 give logits of order 1; a blow-up or all-zero file would show here.
        expect(maxAbs).toBeGreaterThan(0.5);
        expect(maxAbs).toBeLessThan(20);
      });

      it('has a greedy continuation of the first ids', () => {
        const ids = readJson<number[]>(join(folder, 'ids.json'));
        const greedy = readJson<{ prompt: number[]; continuation: number[] }>(join(folder, 'greedy.json'));
        expect(greedy.prompt).toEqual(ids.slice(0, GREEDY_PROMPT));
        expect(greedy.continuation).toHaveLength(GREEDY_NEW);
        for (const id of greedy.continuation) expect(id >= 0 && id < vocab).toBe(true);
      });

      it('has weights whose dtypes and shapes match config.json', () => {
        const tensors = tensorsOf(folder);
        const dtypeName = (config.dtype ?? config.torch_dtype) as string;
        expect(dtypeName).toBe(meta.dtype);
        const dtype = SAFETENSORS_DTYPE[dtypeName];
        const expected = new Map<string, number[]>([['model.embed_tokens.weight', [vocab, hidden]], ['model.norm.weight', [hidden]]]);
        if (!tied) expected.set('lm_head.weight', [vocab, hidden]);
        for (let i = 0; i < (config.num_hidden_layers as number); i++) {
          const p = `model.layers.${i}.`;
          expected.set(`${p}input_layernorm.weight`, [hidden]);
          expected.set(`${p}post_attention_layernorm.weight`, [hidden]);
          expected.set(`${p}self_attn.q_proj.weight`, [heads * headDim, hidden]);
          expected.set(`${p}self_attn.k_proj.weight`, [kvHeads * headDim, hidden]);
          expected.set(`${p}self_attn.v_proj.weight`, [kvHeads * headDim, hidden]);
          expected.set(`${p}self_attn.o_proj.weight`, [hidden, heads * headDim]);
          expected.set(`${p}mlp.gate_proj.weight`, [intermediate, hidden]);
          expected.set(`${p}mlp.up_proj.weight`, [intermediate, hidden]);
          expected.set(`${p}mlp.down_proj.weight`, [hidden, intermediate]);
          if (config.model_type === 'qwen2') {
            expected.set(`${p}self_attn.q_proj.bias`, [heads * headDim]);
            expected.set(`${p}self_attn.k_proj.bias`, [kvHeads * headDim]);
            expected.set(`${p}self_attn.v_proj.bias`, [kvHeads * headDim]);
          }
          if (config.model_type === 'qwen3') {
            expected.set(`${p}self_attn.q_norm.weight`, [headDim]);
            expected.set(`${p}self_attn.k_norm.weight`, [headDim]);
          }
        }
        expect([...tensors.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [tensorName, info] of tensors) {
          expect(info.shape, tensorName).toEqual(expected.get(tensorName));
          expect(info.dtype, tensorName).toBe(dtype.name);
          const count = info.shape.reduce((a, b) => a * b, 1);
          expect(info.data_offsets[1] - info.data_offsets[0], tensorName).toBe(count * dtype.bytes);
        }
      });
    });
  }

  it('covers the features each case is named for', () => {
    const config = (name: string) => readJson(join(GOLDEN_DIR, name, 'config.json'));
    const shards = (name: string) => readdirSync(join(GOLDEN_DIR, name)).filter((f) => f.endsWith('.safetensors'));

    const llama3 = config('llama3-rope');
    expect(llama3.rope_parameters).toMatchObject({ rope_type: 'llama3', factor: 8, original_max_position_embeddings: 64 });
    expect(llama3.head_dim).not.toBe((llama3.hidden_size as number) / (llama3.num_attention_heads as number));
    expect(llama3.tie_word_embeddings).toBe(true);
    expect(llama3.dtype).toBe('bfloat16');

    expect(shards('qwen2').length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(GOLDEN_DIR, 'qwen2', 'model.safetensors.index.json'))).toBe(true);
    expect(config('qwen2').dtype).toBe('float16');

    const qwen3 = config('qwen3');
    expect(qwen3.head_dim).not.toBe((qwen3.hidden_size as number) / (qwen3.num_attention_heads as number));

    // The legacy form: RoPE and dtype where transformers 4 put them, with a non-default theta.
    const legacy = config('llama-legacy-config');
    expect(legacy.rope_parameters).toBeUndefined();
    expect(legacy.dtype).toBeUndefined();
    expect(legacy.torch_dtype).toBe('float32');
    expect(legacy.rope_scaling).toBeNull();
    expect(legacy.rope_theta).toBe(25000);
  });
});
