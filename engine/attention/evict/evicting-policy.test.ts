// The evicting policies on the GPU (Dawn/SwiftShader) against their CPU references: stories260K decoded token by
// token through our WGSL decoder with StreamingLLM, H2O and A2SF, the kept positions of every (layer, KV head)
// compared after every step; and a 37-token prefill of random inputs evicted at once.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBuffer } from '../../gpu/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache, type SequenceHandle } from '../../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel } from '../../model/index.ts';
import { loadModelFromPath } from '../../model/node.ts';
import { ReferenceModel } from '../../reference/index.ts';
import { GpuDecodeRun } from '../gpu-decode-run.test-helper.ts';
import { EvictingReferenceModel, type EvictingHead, type ReferenceEvictionPolicy } from '../evicting-reference.ts';
import { createPolicy, PagedAttention, ReferenceKVCache, referenceAttention, referenceColumnSums, type AttentionPolicy } from '../index.ts';
import { createReferenceEvictionPolicy } from '../reference-policy.ts';
import { selectKeptSlots } from '../evicting-reference.ts';
import { parseAttentionSpec } from '../spec.ts';

const MODEL = fileURLToPath(new URL('../../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
/** GPU (f32) against the f64 reference: the golden tests see ~1e-6 on this model. */
const LOGITS_TOLERANCE = 1e-3;
/** ATTENTION.md: a policy whose budget covers the sequence equals dense within 1e-4. */
const DENSE_TOLERANCE = 1e-4;
/** Issue 4: kept sets may differ only where scores are within 1e-5 (relative) of the cut. */
const TIE_TOLERANCE = 1e-5;
/** Tokens decoded per run: budget 16 evicts from step 17 on (4 evicting steps); SwiftShader decodes ~1 token/s. */
const STEPS = 20;
const ids = Array.from({ length: STEPS }, (_, i) => 3 + ((i * 131) % 500));

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModelFromPath(MODEL);
});

/** One decoder for the file's sequences (GpuDecodeRun: beginStep, the decoder's layers, endStep, submit, truncate). */
let run: GpuDecodeRun | null = null;
async function gpuRun(policy: AttentionPolicy): Promise<GpuDecodeRun> {
  run ??= new GpuDecodeRun(await nodeGpuDevice(), model);
  run.start(policy);
  return run;
}

/** True positions held by (layer, KV head), sorted, read back from the GPU (counts and pages). */
async function heldPositions(device: GPUDevice, cache: PagedKVCache, seq: SequenceHandle, layer: number, kvHead: number): Promise<number[]> {
  const counts = new Uint32Array((await readBuffer(device, cache.counts, cache.countIndex(seq.slot, layer, kvHead) * 4, 4)).buffer);
  const count = counts[0];
  const out: number[] = [];
  for (let page = 0; page * cache.pageSize < count; page++) {
    const id = cache.pageId(seq, page, layer, kvHead);
    const bytes = await readBuffer(device, cache.arenaOf(layer).positions, id * cache.pageSize * 4, cache.pageSize * 4);
    const positions = new Uint32Array(bytes.buffer, bytes.byteOffset, cache.pageSize);
    for (let i = 0; i < cache.pageSize && page * cache.pageSize + i < count; i++) out.push(positions[i]);
  }
  return out.sort((a, b) => a - b);
}

/** Wraps a reference policy to remember each head's positions and scores just before its keep decision. */
class RecordingPolicy implements ReferenceEvictionPolicy {
  readonly name: string;
  readonly budget: number;
  /** Per head object (the reference keeps one per (layer, KV head)): its tokens and scores before the last keep. */
  readonly before = new Map<EvictingHead, { positions: number[]; scores: number[] }>();

  constructor(private readonly inner: ReferenceEvictionPolicy) {
    this.name = inner.name;
    this.budget = inner.budget;
  }

  observe(head: EvictingHead, layer: number, rows: readonly Float64Array[]): void {
    this.inner.observe(head, layer, rows);
  }

  keep(head: EvictingHead, layer: number): number[] {
    this.before.set(head, { positions: [...head.positions], scores: [...head.scores] });
    return this.inner.keep(head, layer);
  }
}

/**
 * Whether two kept sets that differ do so only within TIE_TOLERANCE (relative) of the cut: every token in one set
 * and not the other scores within the tolerance of the lowest score the reference kept among the scored tokens.
 */
function withinTie(want: number[], got: number[], scoresByPosition: Map<number, number>): { ok: boolean; detail: string } {
  const kept = new Set(want);
  const differing = [...want.filter((p) => !got.includes(p)), ...got.filter((p) => !kept.has(p))];
  const cut = Math.min(...want.map((p) => scoresByPosition.get(p) ?? Infinity));
  const ok = differing.every((p) => {
    const s = scoresByPosition.get(p);
    return s !== undefined && Math.abs(s - cut) <= TIE_TOLERANCE * Math.max(Math.abs(cut), 1e-30);
  });
  return { ok, detail: `positions ${differing.join(',')} scores ${differing.map((p) => scoresByPosition.get(p)?.toExponential(6)).join(',')} cut ${cut.toExponential(6)}` };
}

describe('evicting policies on the GPU against the CPU reference (stories260K, token by token)', () => {
  const bounded = ['streaming:budget=16', 'h2o:budget=16', 'a2sf:budget=16,forgetting=0.9'];
  it.each(bounded)('%s keeps the reference\'s tokens in every layer and KV head after every step', async (text) => {
    const device = await nodeGpuDevice();
    const c = model.config;
    const spec = parseAttentionSpec(text);
    const gpu = await gpuRun(createPolicy(spec));
    device.pushErrorScope('validation');
    const recorder = new RecordingPolicy(createReferenceEvictionPolicy(spec, c.numLayers) as ReferenceEvictionPolicy);
    const ref = new EvictingReferenceModel(c, model.weights, recorder);
    let logitsError = 0;
    let compared = 0;
    const ties: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const got = await gpu.step(ids[i]);
      const want = i === 0 ? ref.prefill([ids[0]]) : ref.decode(ids[i]);
      for (let v = 0; v < want.length; v++) logitsError = Math.max(logitsError, Math.abs(got[v] - want[v]));
      expect(gpu.cache.tokensHeld(gpu.seq)).toBe(Math.min(i + 1, 16));
      let diverged = false;
      for (let l = 0; l < c.numLayers && !diverged; l++) {
        for (let g = 0; g < c.numKvHeads; g++) {
          const held = await heldPositions(device, gpu.cache, gpu.seq, l, g);
          const expected = [...ref.head(l, g).positions].sort((a, b) => a - b);
          if (held.join(',') === expected.join(',')) continue;
          // Only a near-tie may separate them; the runs differ from there on, so stop comparing.
          const head = recorder.before.get(ref.head(l, g) as EvictingHead);
          const scores = new Map(head ? head.positions.map((p, s) => [p, head.scores[s]]) : []);
          // StreamingLLM keeps by position alone: no tie can excuse a difference.
          const tie = spec.policy === 'streaming' ? { ok: false, detail: `held ${held.join(',')} expected ${expected.join(',')}` } : withinTie(expected, held, scores);
          ties.push(`step ${i} layer ${l} head ${g}: ${tie.detail}`);
          expect(tie.ok, tie.detail).toBe(true);
          diverged = true;
          break;
        }
      }
      if (diverged) break;
      compared = i + 1;
      expect(logitsError).toBeLessThan(LOGITS_TOLERANCE);
    }
    expect((await device.popErrorScope())?.message).toBeUndefined();
    console.log(`${text}: kept sets equal for ${compared}/${ids.length} steps, logits max abs error ${logitsError.toExponential(1)}${ties.length ? `; near-ties: ${ties.join('; ')}` : ''}`);
    expect(compared).toBeGreaterThan(16);
  }, 300_000);

  it('h2o and a2sf with a budget of at least the sequence length equal dense within 1e-4', async () => {
    const dense = new ReferenceModel(model.config, model.weights);
    const steps = 8;
    const want: Float32Array[] = [];
    for (let i = 0; i < steps; i++) want.push(i === 0 ? dense.prefill([ids[0]]) : dense.decode(ids[i]));
    for (const text of ['h2o:budget=16', 'a2sf:budget=16,forgetting=0.95']) {
      const gpu = await gpuRun(createPolicy(parseAttentionSpec(text)));
      let error = 0;
      for (let i = 0; i < steps; i++) {
        const got = await gpu.step(ids[i]);
        for (let v = 0; v < got.length; v++) error = Math.max(error, Math.abs(got[v] - want[i][v]));
      }
      console.log(`${text} over ${steps} tokens: max abs difference from dense ${error.toExponential(1)}`);
      expect(error).toBeLessThan(DENSE_TOLERANCE);
    }
  }, 300_000);
});

describe('a prefill longer than the budget, evicted at once (random inputs, given the same statistics)', () => {
  it.each(['h2o:sinks=2,heavy=7,recent=5', 'a2sf:sinks=2,select=7,recent=5,forgetting=0.8', 'streaming:sinks=3,window=9'])('%s keeps exactly the reference\'s tokens', async (text) => {
    const device = await nodeGpuDevice();
    const shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'half' as const };
    const L = 2;
    const n = 37;
    const cache = new PagedKVCache(device, { numLayers: L, numKvHeads: 2, headDim: 16, maxTokensPerSequence: 64, memoryBudgetBytes: 1 << 20 });
    const attention = new PagedAttention(device, cache, { ...shape, maxPrefillTokens: n });
    const spec = parseAttentionSpec(text);
    const policy = createPolicy(spec);
    policy.checkModel?.({ numLayers: L } as never);
    const seq = cache.createSequence();
    let seed = 17;
    const random = (count: number, amplitude: number) => Float32Array.from({ length: count }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed / 4294967296 * 2 - 1) * amplitude;
    });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const { cos, sin } = ropeTable(ropeInverseFrequencies({ headDim: 16, ropeTheta: 10000, ropeScaling: null }), 0, n);
    attention.beginStep(seq, { startPosition: 0, numTokens: n, cos, sin });
    const encoder = device.createCommandEncoder();
    const inputs = [];
    for (let l = 0; l < L; l++) {
      const io = { q: random(n * 4 * 16, 2), k: random(n * 2 * 16, 1), v: random(n * 2 * 16, 1) };
      const buffers = Object.fromEntries(Object.entries({ ...io, out: io.q }).map(([k, a]) => {
        const b = device.createBuffer({ size: a.byteLength, usage });
        device.queue.writeBuffer(b, 0, a);
        return [k, b];
      })) as Record<'q' | 'k' | 'v' | 'out', GPUBuffer>;
      attention.encodeLayer(encoder, { layer: l, ...buffers, numTokens: n, policy });
      inputs.push(io);
    }
    const evicted = attention.endStep(encoder);
    device.queue.submit([encoder.finish()]);
    const budget = (policy as unknown as { budget: number }).budget;
    expect(evicted?.tokensHeld).toBe(budget);
    cache.truncate(seq, budget);

    const ref = new ReferenceKVCache(L, 2);
    const [sinks, top, recent] = spec.policy === 'streaming' ? [spec.sinks, 0, spec.window]
      : spec.policy === 'h2o' ? [spec.sinks, spec.heavy, spec.recent] : spec.policy === 'a2sf' ? [spec.sinks, spec.select, spec.recent] : [0, 0, 0];
    const decay = spec.policy === 'a2sf' ? (spec.forgetting as number) : 1;
    for (let l = 0; l < L; l++) {
      const input = { ...inputs[l], numTokens: n, startPosition: 0, cos, sin };
      referenceAttention(ref, l, shape, input);
      const sums = referenceColumnSums(ref, l, shape, input, decay);
      for (let g = 0; g < 2; g++) {
        const positions = ref.head(l, g).positions;
        const keep = selectKeptSlots(positions, top > 0 ? sums[g] : null, sinks, top, recent).map((s) => positions[s]);
        expect(await heldPositions(device, cache, seq, l, g)).toEqual(keep);
      }
    }
    expect(cache.tokensHeld(seq)).toBe(budget);
  });
});
