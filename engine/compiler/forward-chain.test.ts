// A whole forward built from segments (embed -> [attention in TS with RoPE from engine/model] -> layer ... -> head),
// run in ONNX Runtime (wasm, Node) on the golden checkpoints, must give transformers' logits and ReferenceModel's:
// chunked prefill, then single-token chunks through the same sessions (the head's last-row variant).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { loadModelFromPath, type LoadedModel } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { buildSegment, SEGMENT_TENSORS, type SegmentGraph, type SegmentKind, type SegmentShape } from './index.ts';
import { runSegment, TestAttention } from './segment-math.test-helper.ts';

ort.env.wasm.numThreads = 1;

/** Logit agreement asked of the segment path (brief: within 1e-4 of the reference); logits here reach |2.5|. */
const LOGIT_TOLERANCE = 1e-4;
/** Tokens prefilled (in two chunks, so the second starts at a non-zero position) before decoding one at a time. */
const PREFILL_CHUNKS = [37, 211];
const DECODE_TOKENS = 12;

const GOLDEN = ['llama-gqa-untied', 'llama3-rope', 'qwen2', 'qwen3', 'llama-legacy-config'];
const goldenDir = (name: string) => fileURLToPath(new URL(`../../models/golden/${name}/`, import.meta.url));

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

interface Compiled { graph: SegmentGraph; session: ort.InferenceSession }

async function compile(model: LoadedModel, kind: SegmentKind, shape: SegmentShape): Promise<Compiled> {
  const graph = buildSegment(model.config, kind, shape, (name) => model.weights.has(name));
  const session = await ort.InferenceSession.create(graph.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  sessions.push(session);
  return { graph, session };
}

/** Runs `ids` after what `attention` already caches: embed, then per layer attention + junction, then the head. */
async function forward(
  model: LoadedModel, segments: { embed: Compiled; layer: Compiled; head: Compiled }, attention: TestAttention[], ids: number[],
): Promise<Float32Array> {
  const get = (name: string) => model.weights.get(name);
  const L = model.config.numLayers;
  const n = ids.length;
  let out = await runSegment(segments.embed.session, segments.embed.graph, 0, get, { ids: Int32Array.from(ids) }, n);
  for (let i = 0; i < L; i++) {
    const attn = attention[i].step(out[SEGMENT_TENSORS.q], out[SEGMENT_TENSORS.k], out[SEGMENT_TENSORS.v], n);
    const hidden = out[SEGMENT_TENSORS.hiddenOut];
    const next = i === L - 1 ? segments.head : segments.layer;
    out = await runSegment(next.session, next.graph, i, get, { hidden, attn }, n);
  }
  return out[SEGMENT_TENSORS.logits];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) || a.some(Number.isNaN) ? Infinity : m;
}

describe.each(GOLDEN)('segment forward of golden/%s', (name) => {
  it('prefill in chunks and then single tokens (lastOnly head) match transformers and ReferenceModel', async () => {
    const dir = goldenDir(name);
    const model = await loadModelFromPath(dir);
    const ids: number[] = JSON.parse(await readFile(`${dir}ids.json`, 'utf8'));
    const goldenBytes = await readFile(`${dir}logits.f32`);
    const golden = new Float32Array(goldenBytes.buffer.slice(goldenBytes.byteOffset, goldenBytes.byteOffset + goldenBytes.byteLength));
    const V = model.config.vocabSize;
    const L = model.config.numLayers;
    const total = PREFILL_CHUNKS.reduce((a, b) => a + b, 0) + DECODE_TOKENS;
    expect(ids.length).toBeGreaterThanOrEqual(total);

    const prefill = {
      embed: await compile(model, 'embed', {}),
      layer: await compile(model, 'layer', {}),
      head: await compile(model, 'head', {}),
    };
    // Single-token chunks, as a chat's last prompt token may be: the same sessions, the head's last-row variant.
    const decode = { embed: prefill.embed, layer: prefill.layer, head: await compile(model, 'head', { lastOnly: true }) };
    const attention = Array.from({ length: L }, () => new TestAttention(model.config));
    const reference = new ReferenceModel(model.config, model.weights);

    let pos = 0;
    let worstGolden = 0;
    let worstReference = 0;
    for (const chunk of PREFILL_CHUNKS) {
      const chunkIds = ids.slice(pos, pos + chunk);
      const logits = await forward(model, prefill, attention, chunkIds);
      worstGolden = Math.max(worstGolden, maxAbsDiff(logits, golden.subarray(pos * V, (pos + chunk) * V)));
      worstReference = Math.max(worstReference, maxAbsDiff(logits, reference.prefill(chunkIds)));
      pos += chunk;
    }
    for (let t = 0; t < DECODE_TOKENS; t++, pos++) {
      const logits = await forward(model, decode, attention, [ids[pos]]);
      worstGolden = Math.max(worstGolden, maxAbsDiff(logits, golden.subarray(pos * V, (pos + 1) * V)));
      worstReference = Math.max(worstReference, maxAbsDiff(logits, reference.decode(ids[pos])));
    }
    console.log(`golden/${name}: ${pos} tokens, max |logit diff| vs transformers ${worstGolden.toExponential(2)}, vs ReferenceModel ${worstReference.toExponential(2)}`);
    expect(worstGolden).toBeLessThan(LOGIT_TOLERANCE);
    expect(worstReference).toBeLessThan(LOGIT_TOLERANCE);
  });
});
