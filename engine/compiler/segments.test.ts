// Segment graphs run in ONNX Runtime (wasm EP, Node) on small random models of each architecture and must match
// the same math in plain TypeScript: any n through one session, lastOnly, every layer through one session.
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { InvalidArgumentError, MissingTensorError } from '../errors/index.ts';
import { layerWeight, type ModelConfig, type Tensor } from '../model/index.ts';
import { buildSegment, segmentFeedNames, SEGMENT_TENSORS, type SegmentGraph, type SegmentKind, type SegmentShape } from './index.ts';
import {
  embedMath, headMath, layerMath, randomArray, runSegment, scaledMaxError, seededRandom,
} from './segment-math.test-helper.ts';

ort.env.wasm.numThreads = 1;

/** f32 Gemm in ORT vs f64-accumulated TypeScript: a few ulps times sqrt(fan-in) stays far below this. */
const SEGMENT_TOLERANCE = 1e-5;

/** The ops a segment may use: all implemented by ORT Web's webgpu EP (and wasm). */
const ALLOWED_OPS = new Set(['Gemm', 'Gather', 'Mul', 'Add', 'Sigmoid', 'ReduceMean', 'Sqrt', 'Reciprocal', 'Reshape', 'Slice']);

function config(overrides: Partial<ModelConfig>): ModelConfig {
  return {
    architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 3, numHeads: 4, numKvHeads: 2,
    headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: 256,
    tieWordEmbeddings: false, attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [], ...overrides,
  };
}

interface Case {
  name: string;
  config: ModelConfig;
  /** Optional weights present beyond what the config implies. */
  extra: string[];
}

const CASES: Case[] = [
  { name: 'llama (GQA, untied)', config: config({}), extra: [] },
  { name: 'qwen2 (q/k/v biases, tied)', config: config({ architecture: 'qwen2', attentionBias: true, tieWordEmbeddings: true, rmsNormEps: 1e-6, intermediateSize: 40 }), extra: [] },
  { name: 'qwen3 (qk norm, d != D/H)', config: config({ architecture: 'qwen3', qkNorm: true, headDim: 16, tieWordEmbeddings: true, rmsNormEps: 1e-6 }), extra: [] },
  {
    name: 'llama with attention and MLP biases (o_proj.bias, mlp_bias)',
    config: config({ attentionBias: true, numKvHeads: 1 }),
    extra: ['self_attn.o_proj.bias', 'mlp.gate_proj.bias', 'mlp.up_proj.bias', 'mlp.down_proj.bias'],
  },
];

/** Random weights for every HF name the config (plus `extra`) implies. */
function randomWeights(c: Case, seed: number): Map<string, Tensor> {
  const { config: cfg } = c;
  const rand = seededRandom(seed);
  const D = cfg.hiddenSize, F = cfg.intermediateSize, V = cfg.vocabSize;
  const qDim = cfg.numHeads * cfg.headDim, kvDim = cfg.numKvHeads * cfg.headDim;
  const weights = new Map<string, Tensor>();
  const add = (name: string, shape: number[], kind: 'matrix' | 'norm' | 'bias') => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = kind === 'norm' ? randomArray(rand, size, 0.2, 1) : kind === 'bias' ? randomArray(rand, size, 0.1) : randomArray(rand, size, Math.sqrt(3 / shape[shape.length - 1]));
    weights.set(name, { shape, data });
  };
  add('model.embed_tokens.weight', [V, D], 'bias');
  weights.get('model.embed_tokens.weight')!.data.forEach((_, i, a) => (a[i] *= 10)); // embeddings ~ +-1
  if (!cfg.tieWordEmbeddings) add('lm_head.weight', [V, D], 'matrix');
  add('model.norm.weight', [D], 'norm');
  const biasShapes: Record<string, number[]> = {
    'self_attn.o_proj.bias': [D], 'mlp.gate_proj.bias': [F], 'mlp.up_proj.bias': [F], 'mlp.down_proj.bias': [D],
  };
  for (let i = 0; i < cfg.numLayers; i++) {
    const l = (s: string) => layerWeight(i, s);
    add(l('input_layernorm.weight'), [D], 'norm');
    add(l('post_attention_layernorm.weight'), [D], 'norm');
    add(l('self_attn.q_proj.weight'), [qDim, D], 'matrix');
    add(l('self_attn.k_proj.weight'), [kvDim, D], 'matrix');
    add(l('self_attn.v_proj.weight'), [kvDim, D], 'matrix');
    add(l('self_attn.o_proj.weight'), [D, qDim], 'matrix');
    add(l('mlp.gate_proj.weight'), [F, D], 'matrix');
    add(l('mlp.up_proj.weight'), [F, D], 'matrix');
    add(l('mlp.down_proj.weight'), [D, F], 'matrix');
    if (cfg.attentionBias) {
      add(l('self_attn.q_proj.bias'), [qDim], 'bias');
      add(l('self_attn.k_proj.bias'), [kvDim], 'bias');
      add(l('self_attn.v_proj.bias'), [kvDim], 'bias');
    }
    if (cfg.qkNorm) {
      add(l('self_attn.q_norm.weight'), [cfg.headDim], 'norm');
      add(l('self_attn.k_norm.weight'), [cfg.headDim], 'norm');
    }
    for (const s of c.extra) add(l(s), biasShapes[s], 'bias');
  }
  return weights;
}

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

async function compile(c: Case, weights: Map<string, Tensor>, kind: SegmentKind, shape: SegmentShape): Promise<{ graph: SegmentGraph; session: ort.InferenceSession }> {
  const graph = buildSegment(c.config, kind, shape, (name) => weights.has(name));
  const session = await ort.InferenceSession.create(graph.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  sessions.push(session);
  return { graph, session };
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const err = scaledMaxError(actual, expected);
  expect(err, `${what}: scaled max error ${err}`).toBeLessThan(SEGMENT_TOLERANCE);
}

describe.each(CASES)('segments of $name', (c) => {
  const cfg = c.config;
  const weights = randomWeights(c, 1234);
  const get = (name: string): Tensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`test model has no ${name}`);
    return t;
  };
  const has = (name: string) => weights.has(name);
  const D = cfg.hiddenSize, qDim = cfg.numHeads * cfg.headDim, V = cfg.vocabSize;
  const rand = seededRandom(99);
  const ids = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rand() * V));

  it('embed: one session for n = 1, 3, 7', async () => {
    const compiled = await compile(c, weights, 'embed', {});
    for (const [{ graph, session }, n] of [[compiled, 1], [compiled, 3], [compiled, 7]] as const) {
      const tokenIds = ids(n);
      const out = await runSegment(session, graph, 0, get, { ids: tokenIds }, n);
      const want = embedMath(cfg, get, has, tokenIds);
      expect(out[SEGMENT_TENSORS.hiddenOut]).toEqual(want.hidden); // a gather is exact
      expectClose(out[SEGMENT_TENSORS.q], want.q, `q n=${n}`);
      expectClose(out[SEGMENT_TENSORS.k], want.k, `k n=${n}`);
      expectClose(out[SEGMENT_TENSORS.v], want.v, `v n=${n}`);
    }
  });

  it('layer: one session serves every layer and n', async () => {
    const compiled = await compile(c, weights, 'layer', {});
    const runs = [[compiled, 0, 5], [compiled, 1, 5], [compiled, 0, 1], [compiled, 1, 1]] as const;
    for (const [{ graph, session }, layer, n] of runs) {
      const hidden = randomArray(rand, n * D);
      const attn = randomArray(rand, n * qDim);
      const out = await runSegment(session, graph, layer, get, { hidden, attn }, n);
      const want = layerMath(cfg, get, has, layer, hidden, attn, n);
      for (const name of ['hidden', 'q', 'k', 'v'] as const) {
        expectClose(out[name === 'hidden' ? SEGMENT_TENSORS.hiddenOut : SEGMENT_TENSORS[name]], want[name], `${name} layer=${layer} n=${n}`);
      }
    }
  });

  it('head: full logits for any n; lastOnly gives the last row', async () => {
    const full = await compile(c, weights, 'head', {});
    const last = await compile(c, weights, 'head', { lastOnly: true });
    const L = cfg.numLayers;
    for (const n of [1, 4]) {
      const hidden = randomArray(rand, n * D);
      const attn = randomArray(rand, n * qDim);
      const want = headMath(cfg, get, has, hidden, attn, n);
      const logits = (await runSegment(full.session, full.graph, L - 1, get, { hidden, attn }, n))[SEGMENT_TENSORS.logits];
      expectClose(logits, want, `logits n=${n}`);
      const lastLogits = (await runSegment(last.session, last.graph, L - 1, get, { hidden, attn }, n))[SEGMENT_TENSORS.logits];
      expect(lastLogits.length).toBe(V);
      expectClose(lastLogits, want.subarray((n - 1) * V), `lastOnly logits n=${n}`);
    }
  });
});

describe('segment structure', () => {
  const [llama, qwen2, qwen3, biased] = CASES;
  const presence = (c: Case) => {
    const w = randomWeights(c, 1);
    return (name: string) => w.has(name);
  };

  it('uses only ops the webgpu EP implements', () => {
    for (const c of CASES) {
      for (const kind of ['embed', 'layer', 'head'] as const) {
        const graph = buildSegment(c.config, kind, { lastOnly: kind === 'head' }, presence(c));
        // Op types appear as length-prefixed strings in NodeProto field 4; decode them from the bytes.
        for (const op of opTypesOf(graph.bytes)) expect(ALLOWED_OPS, `${c.name} ${kind}: ${op}`).toContain(op);
      }
    }
  });

  it('names the HF weight of every weight input for a given layer', () => {
    const layer = buildSegment(llama.config, 'layer', {}, presence(llama));
    const feeds = segmentFeedNames(layer, 1);
    expect(feeds['current.self_attn.o_proj.weight']).toBe('model.layers.1.self_attn.o_proj.weight');
    expect(feeds['current.mlp.down_proj.weight']).toBe('model.layers.1.mlp.down_proj.weight');
    expect(feeds['next.input_layernorm.weight']).toBe('model.layers.2.input_layernorm.weight');
    expect(feeds['next.self_attn.k_proj.weight']).toBe('model.layers.2.self_attn.k_proj.weight');
    expect(Object.keys(feeds)).toHaveLength(9); // o, post norm, gate, up, down; next norm, q, k, v
    expect(layer.inputs).toEqual([SEGMENT_TENSORS.hiddenIn, SEGMENT_TENSORS.attn, ...Object.keys(feeds)]);
    expect(layer.outputs).toEqual([SEGMENT_TENSORS.hiddenOut, SEGMENT_TENSORS.q, SEGMENT_TENSORS.k, SEGMENT_TENSORS.v]);
    expect(layer.tensors[SEGMENT_TENSORS.q].dims).toEqual(['n', 32]);

    const embed = segmentFeedNames(buildSegment(qwen2.config, 'embed', {}, presence(qwen2)), 0);
    expect(embed['embed_tokens.weight']).toBe('model.embed_tokens.weight');
    expect(embed['next.self_attn.v_proj.bias']).toBe('model.layers.0.self_attn.v_proj.bias');
    expect(embed['next.self_attn.o_proj.bias']).toBeUndefined();

    const qk = segmentFeedNames(buildSegment(qwen3.config, 'layer', {}, presence(qwen3)), 0);
    expect(qk['next.self_attn.q_norm.weight']).toBe('model.layers.1.self_attn.q_norm.weight');

    const untiedHead = segmentFeedNames(buildSegment(llama.config, 'head', {}, presence(llama)), 2);
    expect(untiedHead['lm_head.weight']).toBe('lm_head.weight');
    expect(untiedHead['norm.weight']).toBe('model.norm.weight');
    const tiedHead = segmentFeedNames(buildSegment(qwen2.config, 'head', {}, presence(qwen2)), 2);
    expect(tiedHead['lm_head.weight']).toBe('model.embed_tokens.weight');

    const biasedHead = segmentFeedNames(buildSegment(biased.config, 'head', {}, presence(biased)), 2);
    expect(biasedHead['current.self_attn.o_proj.bias']).toBe('model.layers.2.self_attn.o_proj.bias');
    expect(biasedHead['current.mlp.up_proj.bias']).toBe('model.layers.2.mlp.up_proj.bias');
  });

  it('rejects layer indices a segment cannot run at, and bad shapes', () => {
    const p = presence(llama);
    const layer = buildSegment(llama.config, 'layer', {}, p);
    expect(() => segmentFeedNames(layer, 2)).toThrow(InvalidArgumentError); // the last layer ends in the head
    expect(() => segmentFeedNames(layer, -1)).toThrow(InvalidArgumentError);
    expect(() => segmentFeedNames(buildSegment(llama.config, 'embed', {}, p), 1)).toThrow(InvalidArgumentError);
    expect(() => segmentFeedNames(buildSegment(llama.config, 'head', {}, p), 1)).toThrow(InvalidArgumentError);
    expect(() => buildSegment(llama.config, 'layer', { lastOnly: true }, p)).toThrow(InvalidArgumentError);
    expect(() => buildSegment({ ...llama.config, numKvHeads: 3 }, 'layer', {}, p)).toThrow(InvalidArgumentError);
  });

  it('fails with MissingTensorError when the config promises weights the checkpoint lacks', () => {
    const noNorm = (name: string) => !name.includes('q_norm') && presence(qwen3)(name);
    expect(() => buildSegment(qwen3.config, 'embed', {}, noNorm)).toThrow(MissingTensorError);
    const noHead = (name: string) => name !== 'lm_head.weight' && presence(llama)(name);
    expect(() => buildSegment(llama.config, 'head', {}, noHead)).toThrow(MissingTensorError);
    expect(() => buildSegment(llama.config, 'layer', {}, noHead)).not.toThrow();
    const noBias = (name: string) => !name.endsWith('k_proj.bias') && presence(qwen2)(name);
    expect(() => buildSegment(qwen2.config, 'layer', {}, noBias)).toThrow(MissingTensorError);
  });
});

/** Op types of the nodes of a serialized ModelProto (graph = field 7, node = field 1, op_type = field 4). */
function opTypesOf(model: Uint8Array): string[] {
  const fields = (buf: Uint8Array): { field: number; value: Uint8Array | null }[] => {
    const out: { field: number; value: Uint8Array | null }[] = [];
    let p = 0;
    const varint = (): number => {
      let v = 0, mul = 1, b: number;
      do { b = buf[p++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
      return v;
    };
    while (p < buf.length) {
      const tag = varint();
      const wire = tag & 7;
      if (wire === 0) { varint(); out.push({ field: tag >>> 3, value: null }); }
      else if (wire === 5) { p += 4; out.push({ field: tag >>> 3, value: null }); }
      else if (wire === 2) { const len = varint(); out.push({ field: tag >>> 3, value: buf.subarray(p, p + len) }); p += len; }
      else throw new Error(`unexpected wire type ${wire}`);
    }
    return out;
  };
  const graph = fields(model).find((f) => f.field === 7)!.value!;
  return fields(graph).filter((f) => f.field === 1).map((node) => new TextDecoder().decode(fields(node.value!).find((f) => f.field === 4)!.value!));
}
