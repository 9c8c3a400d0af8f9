// Tests of loadModel on small checkpoints written by the test: folders, shards, dtypes, tying, and what must fail early.
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BadModelFileError, InvalidArgumentError, MissingTensorError, ModelFetchError } from '../errors/index.ts';
import { safetensorsBytes, TINY, tinyConfig, tinyTensors, writeCheckpoint, type TensorSpec } from './checkpoint.test-helper.ts';
import { loadModel, type LoadProgress } from './index.ts';
import { folderSource, loadModelFromPath, pathFileSource } from './node.ts';
import { parseGguf } from './gguf.ts';
import { streamFromSource } from './load.ts';

const made: string[] = [];
async function checkpoint(files: Parameters<typeof writeCheckpoint>[0]): Promise<string> {
  const dir = await writeCheckpoint(files);
  made.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function expectSameWeights(loaded: Awaited<ReturnType<typeof loadModelFromPath>>, tensors: TensorSpec[]): void {
  for (const t of tensors) {
    const got = loaded.weights.get(t.name);
    expect(got.shape, t.name).toEqual(t.shape);
    expect(Array.from(got.data), t.name).toEqual(t.values);
  }
}

describe('loadModel from a Hugging Face folder', () => {
  it('loads an f32 llama folder without tokenizer files', async () => {
    const tensors = tinyTensors('llama');
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors });
    const m = await loadModelFromPath(dir);
    expect(m.format).toBe('safetensors');
    expect(m.source).toBe(dir);
    expect(m.config).toMatchObject({ architecture: 'llama', hiddenSize: TINY.hidden, headDim: 4, numKvHeads: 1, ropeLayout: 'half' });
    expect(m.tokenizerFiles).toEqual({ tokenizerJson: null, tokenizerConfig: null, generationConfig: null });
    expect(m.ggufVocabulary).toBeNull();
    expect(m.weights.names().sort()).toEqual(tensors.map((t) => t.name).sort());
    expectSameWeights(m, tensors);
  });

  it.each([['F16', 'qwen2', 2], ['BF16', 'qwen3', 3], ['F32', 'llama', 4]] as const)(
    'loads %s %s split over %i shards with an index', async (dtype, arch, shards) => {
      const tensors = tinyTensors(arch, { dtype });
      const dir = await checkpoint({ config: tinyConfig(arch), tensors, shards });
      const m = await loadModelFromPath(dir);
      expect(m.config.architecture).toBe(arch);
      expect(m.config.attentionBias).toBe(arch === 'qwen2');
      expect(m.config.qkNorm).toBe(arch === 'qwen3');
      expectSameWeights(m, tensors);
    },
  );

  it('loads a tied model without lm_head.weight', async () => {
    const dir = await checkpoint({ config: tinyConfig('qwen2', { tie_word_embeddings: true }), tensors: tinyTensors('qwen2', { tied: true }) });
    const m = await loadModelFromPath(dir);
    expect(m.config.tieWordEmbeddings).toBe(true);
    expect(m.weights.has('lm_head.weight')).toBe(false);
    expect(m.weights.get('model.embed_tokens.weight').shape).toEqual([TINY.vocab, TINY.hidden]);
  });

  it('refuses an untied model without lm_head.weight, naming the file and tensor', async () => {
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama', { tied: true }) });
    const e = await rejection(loadModelFromPath(dir));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.message).toBe('model.safetensors: tensor "lm_head.weight" is missing.');
  });

  it('refuses a tensor whose shape disagrees with config.json', async () => {
    const tensors = tinyTensors('llama');
    const k = tensors.find((t) => t.name === 'model.layers.1.self_attn.k_proj.weight')!;
    k.shape = [TINY.hidden, TINY.headDim]; // transposed: same size, wrong layout
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors });
    const e = await rejection(loadModelFromPath(dir));
    expect(e).toBeInstanceOf(BadModelFileError);
    expect(e.message).toBe('model.safetensors: tensor "model.layers.1.self_attn.k_proj.weight" shape: is [8, 4] but config.json implies [4, 8]');
  });

  it('requires q/k/v/o biases when a llama config sets attention_bias, and q/k norms for qwen3', async () => {
    const withBias = await checkpoint({ config: tinyConfig('llama', { attention_bias: true }), tensors: tinyTensors('llama', { oBias: true }) });
    const m = await loadModelFromPath(withBias);
    expect(m.config.attentionBias).toBe(true);
    expect(m.weights.has('model.layers.0.self_attn.o_proj.bias')).toBe(true);
    const noBias = await checkpoint({ config: tinyConfig('llama', { attention_bias: true }), tensors: tinyTensors('llama') });
    expect((await rejection(loadModelFromPath(noBias))).message).toMatch(/"model\.layers\.0\.self_attn\.q_proj\.bias" is missing/);
    const qwen3AsLlama = await checkpoint({ config: tinyConfig('qwen3'), tensors: tinyTensors('llama') });
    expect((await rejection(loadModelFromPath(qwen3AsLlama))).message).toMatch(/"model\.layers\.0\.self_attn\.q_norm\.weight" is missing/);
  });

  it('reads tokenizer files and lets generation_config.json choose the eos ids', async () => {
    const tokenizer = { version: '1.0', model: { type: 'BPE', vocab: { a: 0 }, merges: [] } };
    const dir = await checkpoint({
      config: tinyConfig('llama', { eos_token_id: 2, bos_token_id: null }),
      tensors: tinyTensors('llama'),
      extra: {
        'tokenizer.json': JSON.stringify(tokenizer),
        'tokenizer_config.json': JSON.stringify({ chat_template: '{{ x }}', eos_token: '</s>' }),
        'generation_config.json': JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 7] }),
      },
    });
    const m = await loadModelFromPath(dir);
    expect(m.tokenizerFiles.tokenizerJson).toEqual(tokenizer);
    expect(m.tokenizerFiles.tokenizerConfig?.chat_template).toBe('{{ x }}');
    expect(m.config.eosTokenIds).toEqual([2, 7]);
    expect(m.config.bosTokenId).toBe(1);
  });

  it('fails on a missing tensor of the shard index before fetching any shard', async () => {
    const tensors = tinyTensors('llama').filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight');
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors, shards: 2 });
    const source = folderSource(dir);
    const reads: string[] = [];
    const counting = { description: source.description, read: (p: string, cb?: (l: number, t: number) => void) => (reads.push(p), source.read(p, cb)) };
    const e = await rejection(loadModel(counting));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.message).toBe('model.safetensors.index.json: tensor "model.layers.1.mlp.up_proj.weight" is missing.');
    expect(reads.some((p) => p.startsWith('model-'))).toBe(false);
  });

  it('names the shard when the index promises a tensor the shard lacks', async () => {
    const tensors = tinyTensors('llama');
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors, shards: 2 });
    // Rewrite shard 2 without one of its tensors, leaving the index as it was.
    const shard2 = tensors.filter((_, i) => i % 2 === 1);
    const dropped = shard2.pop()!;
    await writeFile(join(dir, 'model-00002-of-00002.safetensors'), safetensorsBytes(shard2));
    const e = await rejection(loadModelFromPath(dir));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.message).toBe(`model-00002-of-00002.safetensors: tensor "${dropped.name}" is missing.`);
  });

  it('refuses shard names that leave the folder', async () => {
    const dir = await checkpoint({
      config: tinyConfig('llama'),
      extra: { 'model.safetensors.index.json': JSON.stringify({ weight_map: { 'model.norm.weight': '../../etc/x.safetensors' } }) },
    });
    const e = await rejection(loadModelFromPath(dir));
    expect(e).toBeInstanceOf(BadModelFileError);
    expect(e.message).toMatch(/^model\.safetensors\.index\.json: weight_map\["model\.norm\.weight"\]/);
  });

  it('says which file is missing or malformed', async () => {
    const noConfig = await checkpoint({ tensors: tinyTensors('llama') });
    const e1 = await rejection(loadModelFromPath(noConfig));
    expect(e1).toBeInstanceOf(ModelFetchError);
    expect(e1.message).toContain('config.json');
    const noWeights = await checkpoint({ config: tinyConfig('llama') });
    const e2 = await rejection(loadModelFromPath(noWeights));
    expect(e2).toBeInstanceOf(ModelFetchError);
    expect(e2.message).toMatch(/model\.safetensors: not found, and neither is model\.safetensors\.index\.json/);
    const badJson = await checkpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama'), extra: { 'generation_config.json': '{"eos_token_id": ' } });
    const e3 = await rejection(loadModelFromPath(badJson));
    expect(e3).toBeInstanceOf(BadModelFileError);
    expect(e3.message).toMatch(/^generation_config\.json: \(root\): is not valid JSON/);
    const unknownArch = await checkpoint({ config: tinyConfig('llama', { model_type: 'mamba' }), tensors: tinyTensors('llama') });
    expect((await rejection(loadModelFromPath(unknownArch))).message).toMatch(/"mamba" is not supported/);
  });

  it('reports fetch and parse progress per file', async () => {
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama'), shards: 2 });
    const events: LoadProgress[] = [];
    await loadModelFromPath(dir, { onProgress: (p) => events.push(p) });
    const shard = 'model-00001-of-00002.safetensors';
    const fetches = events.filter((p) => p.phase === 'fetch' && p.file === shard);
    expect(fetches.length).toBeGreaterThanOrEqual(2);
    expect(fetches[0].loadedBytes).toBe(0);
    expect(fetches.at(-1)!.loadedBytes).toBe(fetches.at(-1)!.totalBytes);
    expect(fetches.at(-1)!.totalBytes).toBeGreaterThan(0);
    const parses = events.filter((p) => p.phase === 'parse').map((p) => [p.file, p.loadedBytes === p.totalBytes]);
    expect(parses).toEqual([[shard, false], [shard, true], ['model-00002-of-00002.safetensors', false], ['model-00002-of-00002.safetensors', true]]);
    // Weights are parsed as they stream in: a file's parse ends after its last bytes arrived.
    const parsed = events.findIndex((p) => p.phase === 'parse' && p.file === shard && p.loadedBytes === p.totalBytes);
    expect(parsed).toBeGreaterThan(events.lastIndexOf(fetches.at(-1)!));
  });

  it('keeps local paths out of the browser entry point', async () => {
    const e = await rejection(loadModel('/some/folder'));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toContain('loadModelFromPath');
  });
});

describe('loadModel from a GGUF file', () => {
  // The shared fixture: llama2.c's stories260K (see its README for the numbers asserted here).
  const gguf = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));

  it('loads stories260K.gguf from a path, with its vocabulary and no HF tokenizer files', async () => {
    const events: LoadProgress[] = [];
    const m = await loadModelFromPath(gguf, { onProgress: (p) => events.push(p) });
    expect(m.format).toBe('gguf');
    expect(m.source).toBe(gguf);
    expect(m.config).toMatchObject({
      architecture: 'llama', vocabSize: 512, hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8,
      numKvHeads: 4, headDim: 8, ropeLayout: 'interleaved', tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2],
    });
    expect(m.ggufVocabulary?.tokens.length).toBe(512);
    expect(m.tokenizerFiles).toEqual({ tokenizerJson: null, tokenizerConfig: null, generationConfig: null });
    expect(m.weights.get('model.layers.4.mlp.down_proj.weight').shape).toEqual([64, 172]);
    const fetched = events.filter((p) => p.phase === 'fetch');
    expect(fetched.at(-1)).toEqual({ phase: 'fetch', loadedBytes: 1185376, totalBytes: 1185376, file: 'stories260K.gguf' });
    expect(events.filter((p) => p.phase === 'parse').length).toBe(2);
  });

  it('streams a GGUF: tensors reach the sink while the file is still arriving, equal to the whole-file parse', async () => {
    const goldens = fileURLToPath(new URL('../../models/golden/gguf/', import.meta.url));
    // stories260K writes its classifier twice (dropped: tied), llama3-rope carries rope_freqs first, Q4_K_M mixes block types.
    for (const path of [gguf, join(goldens, 'llama3-rope-f16.gguf'), join(goldens, 'llama-kquant-Q4_K_M.gguf')]) {
      const bytes = new Uint8Array(readFileSync(path));
      const file = path.slice(path.lastIndexOf('/') + 1);
      let yielded = 0;
      const source = {
        description: path,
        file,
        read: async () => bytes,
        // Odd-sized chunks: headers, tensors and block rows straddle them.
        async stream(_: string, onBytes?: (loaded: number, total: number) => void) {
          return (async function* () {
            onBytes?.(0, bytes.byteLength);
            for (let at = 0; at < bytes.byteLength; at += 4093) {
              yielded = Math.min(bytes.byteLength, at + 4093);
              yield bytes.slice(at, yielded);
            }
          })();
        },
      };
      const got = new Map<string, Float32Array[]>();
      let yieldedAtFirstPiece = -1;
      const files = await streamFromSource(source, {
        piece(name, _shape, _rowStart, _rows, data) {
          if (yieldedAtFirstPiece < 0) yieldedAtFirstPiece = yielded;
          got.set(name, [...(got.get(name) ?? []), data.slice()]);
        },
        drop(name) { got.delete(name); },
      });
      const whole = parseGguf(bytes, file);
      // stories260K (1.2 MB) is larger than the first header read (256 KiB): its first tensor comes before its second half.
      if (path === gguf) expect(yieldedAtFirstPiece).toBeLessThan(bytes.byteLength / 2);
      expect(files.config).toEqual(whole.config);
      expect([...got.keys()].sort()).toEqual(whole.weights.names().sort());
      for (const [name, pieces] of got) {
        const joined = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
        pieces.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
        expect(joined).toEqual(whole.weights.get(name).data);
      }
    }
    // A stream cut inside a tensor names it.
    const bytes = new Uint8Array(readFileSync(gguf));
    const cut = { description: 'cut.gguf', file: 'cut.gguf', read: async () => bytes.slice(0, bytes.byteLength - 1000) };
    await expect(streamFromSource(cut, { piece() {} })).rejects.toThrow(/cut\.gguf: tensor blk\.4\.ffn_up\.weight data offset: data \[\d+, \d+\) runs past the end of the file \(1184376 bytes\)/);
  });

  it('refuses a single file that is not a .gguf', async () => {
    const dir = await checkpoint({ config: tinyConfig('llama'), tensors: tinyTensors('llama') });
    const e = await rejection(loadModel(pathFileSource(join(dir, 'model.safetensors'))));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/"model\.safetensors" is a single file but not a \.gguf/);
  });
});
