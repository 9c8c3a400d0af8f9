// Quantized segments (MatMulNBits) run in ONNX Runtime's own implementation (wasm EP, Node) and must equal the same
// math in plain TypeScript over engine/quant's CPU dequantization: this checks our bytes against ORT's reading of
// MatMulNBits' layout (codes, scales, zero points, a K that is not a multiple of the block), for int4 and int8.
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { layerWeight, type ModelConfig, type Tensor } from '../model/index.ts';
import { dequantizeMatrix, isQuantizedWeight, quantizeMatrix, type QuantizationSpec, type QuantizedMatrix } from '../quant/index.ts';
import { buildSegment, MS_DOMAIN, SEGMENT_TENSORS, segmentWeightFeeds, type SegmentGraph } from './index.ts';
import { embedMath, headMath, layerMath, randomArray, scaledMaxError, seededRandom } from './segment-math.test-helper.ts';

ort.env.wasm.numThreads = 1;

/** Same bound as the f32 segments: with dequantized weights on both sides only f32 rounding differs. */
const SEGMENT_TOLERANCE = 1e-5;

const CONFIG: ModelConfig = {
  architecture: 'qwen2', vocabSize: 40, hiddenSize: 64, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 16, rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, ropeLayout: 'half', maxPositionEmbeddings: 256,
  tieWordEmbeddings: true, attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [],
};

const SPECS: [string, QuantizationSpec][] = [
  ['int4 symmetric', { bits: 4, blockSize: 32, symmetric: true }],
  ['int4 asymmetric', { bits: 4, blockSize: 32, symmetric: false }],
  ['int8 symmetric', { bits: 8, blockSize: 32, symmetric: true }],
];

function randomWeights(cfg: ModelConfig): Map<string, Tensor> {
  const rand = seededRandom(7);
  const D = cfg.hiddenSize, F = cfg.intermediateSize, qDim = cfg.numHeads * cfg.headDim, kvDim = cfg.numKvHeads * cfg.headDim;
  const w = new Map<string, Tensor>();
  const add = (name: string, shape: number[], scale: number, offset = 0) => w.set(name, { shape, data: randomArray(rand, shape.reduce((a, b) => a * b, 1), scale, offset) });
  add('model.embed_tokens.weight', [cfg.vocabSize, D], 1);
  add('model.norm.weight', [D], 0.2, 1);
  for (let i = 0; i < cfg.numLayers; i++) {
    const l = (s: string) => layerWeight(i, s);
    add(l('input_layernorm.weight'), [D], 0.2, 1);
    add(l('post_attention_layernorm.weight'), [D], 0.2, 1);
    add(l('self_attn.q_proj.weight'), [qDim, D], 0.2);
    add(l('self_attn.k_proj.weight'), [kvDim, D], 0.2);
    add(l('self_attn.v_proj.weight'), [kvDim, D], 0.2);
    add(l('self_attn.q_proj.bias'), [qDim], 0.1);
    add(l('self_attn.k_proj.bias'), [kvDim], 0.1);
    add(l('self_attn.v_proj.bias'), [kvDim], 0.1);
    add(l('self_attn.o_proj.weight'), [D, qDim], 0.2);
    add(l('mlp.gate_proj.weight'), [F, D], 0.2);
    add(l('mlp.up_proj.weight'), [F, D], 0.2);
    add(l('mlp.down_proj.weight'), [D, F], 0.25); // K = 48: a short last block
  }
  return w;
}

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

describe.each(SPECS)('quantized segments, %s', (_name, spec) => {
  const cfg = CONFIG;
  const weights = randomWeights(cfg);
  const quantized = new Map<string, QuantizedMatrix>();
  for (const [name, t] of weights) if (isQuantizedWeight(name)) quantized.set(name, quantizeMatrix(t.data, t.shape[0], t.shape[1], spec));
  /** The weights as the quantized model computes with them. */
  const get = (name: string): Tensor => {
    const q = quantized.get(name);
    if (q) return { shape: [q.rows, q.cols], data: dequantizeMatrix(q) };
    const t = weights.get(name);
    if (!t) throw new Error(`test model has no ${name}`);
    return t;
  };
  const has = (name: string) => weights.has(name);
  const rand = seededRandom(3);

  async function run(graph: SegmentGraph, layer: number, activations: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
    const session = await ort.InferenceSession.create(graph.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    sessions.push(session);
    const feeds: Record<string, ort.Tensor> = { ...activations };
    for (const f of segmentWeightFeeds(graph, layer)) {
      const info = graph.tensors[f.input];
      const q = quantized.get(f.weight);
      if (!q) {
        feeds[f.input] = new ort.Tensor('float32', weights.get(f.weight)!.data, info.dims as number[]);
        continue;
      }
      const data = f.part === 'data' ? q.data : f.part === 'scales' ? q.scales : (q.zeroPoints as Uint8Array);
      feeds[f.input] = new ort.Tensor(info.dataType as 'uint8' | 'float32', data, info.dims as number[]);
    }
    const out = await session.run(feeds);
    return Object.fromEntries(graph.outputs.map((name) => [name, out[name].data as Float32Array]));
  }
  const expectClose = (actual: Float32Array, expected: Float32Array, what: string) => {
    const err = scaledMaxError(actual, expected);
    expect(err, `${what}: scaled max error ${err}`).toBeLessThan(SEGMENT_TOLERANCE);
  };

  it('graphs use MatMulNBits for every linear layer and the tied LM head; the embed segment takes gathered rows', () => {
    const embed = buildSegment(cfg, 'embed', {}, has, { quantization: spec });
    expect(embed.inputs).toContain(SEGMENT_TENSORS.hiddenIn);
    expect(embed.inputs).not.toContain(SEGMENT_TENSORS.ids);
    const head = buildSegment(cfg, 'head', {}, has, { quantization: spec });
    const headFeeds = segmentWeightFeeds(head, cfg.numLayers - 1);
    expect(headFeeds.filter((f) => f.weight === 'model.embed_tokens.weight').map((f) => f.part).sort())
      .toEqual(spec.symmetric ? ['data', 'scales'] : ['data', 'scales', 'zeroPoints']);
    expect(head.tensors['lm_head.weight']).toEqual({ name: 'lm_head.weight', dataType: 'uint8', dims: [cfg.vocabSize, 2, 32 * spec.bits / 8] });
    const text = new TextDecoder().decode(head.bytes);
    expect(text).toContain('MatMulNBits');
    expect(text).toContain(MS_DOMAIN);
    expect(text).not.toContain('Gemm');
  });

  it('embed (rows given), layer and head equal the TypeScript math over the dequantized weights', async () => {
    const n = 5;
    const ids = Int32Array.from({ length: n }, () => Math.floor(rand() * cfg.vocabSize));
    const wantEmbed = embedMath(cfg, get, has, ids);
    const embed = buildSegment(cfg, 'embed', {}, has, { quantization: spec });
    const gotEmbed = await run(embed, 0, { [SEGMENT_TENSORS.hiddenIn]: new ort.Tensor('float32', wantEmbed.hidden, [n, cfg.hiddenSize]) });
    for (const name of ['q', 'k', 'v'] as const) expectClose(gotEmbed[SEGMENT_TENSORS[name]], wantEmbed[name], `embed ${name}`);

    const layer = buildSegment(cfg, 'layer', {}, has, { quantization: spec });
    const hidden = randomArray(rand, n * cfg.hiddenSize);
    const attn = randomArray(rand, n * cfg.numHeads * cfg.headDim);
    const act = {
      [SEGMENT_TENSORS.hiddenIn]: new ort.Tensor('float32', hidden, [n, cfg.hiddenSize]),
      [SEGMENT_TENSORS.attn]: new ort.Tensor('float32', attn, [n, cfg.numHeads * cfg.headDim]),
    };
    const gotLayer = await run(layer, 0, act);
    const wantLayer = layerMath(cfg, get, has, 0, hidden, attn, n);
    expectClose(gotLayer[SEGMENT_TENSORS.hiddenOut], wantLayer.hidden, 'layer hidden');
    for (const name of ['q', 'k', 'v'] as const) expectClose(gotLayer[SEGMENT_TENSORS[name]], wantLayer[name], `layer ${name}`);

    const head = buildSegment(cfg, 'head', {}, has, { quantization: spec });
    const gotHead = await run(head, cfg.numLayers - 1, act);
    expectClose(gotHead[SEGMENT_TENSORS.logits], headMath(cfg, get, has, hidden, attn, n), 'logits');
  });
});
