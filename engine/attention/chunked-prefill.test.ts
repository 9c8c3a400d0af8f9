// A prompt prefilled in chunks of 16 (two boundaries and a partial chunk) through PagedAttention on Dawn/SwiftShader,
// against the CPU reference run over the same chunks: dense outputs of every chunk, and an evicting policy (H2O, A2SF)
// evicting after each chunk to the reference's kept tokens, its scores carried across chunks.
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../gpu/index.ts';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import { randoms, seededUniform } from '../gpu/test-inputs.test-helper.ts';
import { PagedKVCache, type SequenceHandle } from '../kv/index.ts';
import { ropeInverseFrequencies, ropeTable } from '../model/index.ts';
import { selectKeptSlots } from './evicting-reference.ts';
import { createPolicy, PagedAttention, ReferenceKVCache, referenceAttention, referenceColumnSums, type AttentionPolicy } from './index.ts';
import { parseAttentionSpec } from './spec.ts';

/** As paged-attention.test.ts: f32 kernels against f64 sums of convex combinations of values in [-1, 1]. */
const TOLERANCE = 1e-5;
const CHUNK = 16;
const PROMPT = 40; // chunks 16 + 16 + 8
const shape = { numHeads: 4, numKvHeads: 2, headDim: 16, ropeLayout: 'half' as const };
const L = 2;


/** True positions held by (layer, KV head) in slot order, read back from the GPU's counts and pages. */
async function heldPositions(device: GPUDevice, cache: PagedKVCache, seq: SequenceHandle, layer: number, kvHead: number): Promise<number[]> {
  const count = new Uint32Array((await readBuffer(device, cache.counts, cache.countIndex(seq.slot, layer, kvHead) * 4, 4)).buffer)[0];
  const out: number[] = [];
  for (let page = 0; page * cache.pageSize < count; page++) {
    const bytes = await readBuffer(device, cache.arenaOf(layer).positions, cache.pageId(seq, page, layer, kvHead) * cache.pageSize * 4, cache.pageSize * 4);
    const positions = new Uint32Array(bytes.buffer, bytes.byteOffset, cache.pageSize);
    for (let i = 0; i < cache.pageSize && page * cache.pageSize + i < count; i++) out.push(positions[i]);
  }
  return out;
}

/** The reference's state of one (layer, KV head) between chunks: what it holds and the policy's running scores. */
interface HeldHead { keys: Float32Array[]; values: Float32Array[]; positions: number[]; scores: number[] }

describe('chunked prefill (chunks of 16 over a 40-token prompt) against the reference over the same chunks', () => {
  it.each(['dense', 'h2o:sinks=2,heavy=7,recent=5', 'a2sf:sinks=2,select=7,recent=5,forgetting=0.8'])('%s', async (text) => {
    const device = await nodeGpuDevice();
    const { numHeads: H, numKvHeads: G, headDim: d } = shape;
    const cache = new PagedKVCache(device, { numLayers: L, numKvHeads: G, headDim: d, maxTokensPerSequence: 64, memoryBudgetBytes: 1 << 20 });
    const attention = new PagedAttention(device, cache, { ...shape, maxPrefillTokens: CHUNK });
    const spec = parseAttentionSpec(text);
    const policy: AttentionPolicy = createPolicy(spec);
    policy.checkModel?.({ numLayers: L } as never);
    const [sinks, top, recent] = spec.policy === 'h2o' ? [spec.sinks, spec.heavy, spec.recent] as number[]
      : spec.policy === 'a2sf' ? [spec.sinks, spec.select, spec.recent] as number[] : [0, 0, 0];
    const budget = sinks + top + recent;
    const decay = spec.policy === 'a2sf' ? (spec.forgetting as number) : 1;
    const seq = cache.createSequence();
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const io = Array.from({ length: L }, () => Object.fromEntries(['q', 'k', 'v', 'out'].map((name) => [name,
      device.createBuffer({ size: CHUNK * (name === 'k' || name === 'v' ? G : H) * d * 4, usage })])) as Record<'q' | 'k' | 'v' | 'out', GPUBuffer>);
    const inv = ropeInverseFrequencies({ headDim: d, ropeTheta: 10000, ropeScaling: null });
    const held: HeldHead[][] = Array.from({ length: L }, () => Array.from({ length: G }, () => ({ keys: [], values: [], positions: [], scores: [] })));
    const next = seededUniform(41);
    let evictions = 0;

    for (let start = 0; start < PROMPT; start += CHUNK) {
      const n = Math.min(CHUNK, PROMPT - start);
      const { cos, sin } = ropeTable(inv, start, n);
      device.pushErrorScope('validation');
      attention.beginStep(seq, { startPosition: start, numTokens: n, cos, sin });
      const encoder = device.createCommandEncoder();
      const inputs = [];
      for (let l = 0; l < L; l++) {
        const input = { q: randoms(next, n * H * d, 2), k: randoms(next, n * G * d, 1), v: randoms(next, n * G * d, 1) };
        for (const name of ['q', 'k', 'v'] as const) device.queue.writeBuffer(io[l][name], 0, input[name]);
        attention.encodeLayer(encoder, { layer: l, ...io[l], numTokens: n, policy });
        inputs.push(input);
      }
      const evicted = attention.endStep(encoder);
      device.queue.submit([encoder.finish()]);
      if (evicted) cache.truncate(seq, evicted.tokensHeld);
      expect((await device.popErrorScope())?.message).toBeUndefined();

      for (let l = 0; l < L; l++) {
        // The reference over what the head held before this chunk, then this chunk's tokens appended.
        const ref = new ReferenceKVCache(L, G);
        for (let g = 0; g < G; g++) held[l][g].keys.forEach((key, s) => ref.append(l, g, key, held[l][g].values[s], held[l][g].positions[s]));
        const input = { ...inputs[l], numTokens: n, startPosition: start, cos, sin };
        const want = referenceAttention(ref, l, shape, input);
        const got = await readBuffer(device, io[l].out, 0, n * H * d * 4);
        let error = 0;
        for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(got[i] - want[i]));
        expect(error, `chunk at ${start}, layer ${l}`).toBeLessThanOrEqual(TOLERANCE);
        const sums = referenceColumnSums(ref, l, shape, input, decay);
        for (let g = 0; g < G; g++) {
          const head = ref.head(l, g);
          // A2SF forgets: older scores decay by a per query row of the chunk, as n decode steps would.
          const scores = [...held[l][g].scores.map((s) => s * decay ** n), ...new Array<number>(n).fill(0)].map((s, j) => s + sums[g][j]);
          const keep = budget > 0 && head.positions.length > budget
            ? selectKeptSlots(head.positions, top > 0 ? scores : null, sinks, top, recent) : head.positions.map((_, s) => s);
          held[l][g] = { keys: keep.map((s) => head.keys[s]), values: keep.map((s) => head.values[s]), positions: keep.map((s) => head.positions[s]), scores: keep.map((s) => scores[s]) };
          const gpu = await heldPositions(device, cache, seq, l, g);
          expect([...gpu].sort((a, b) => a - b), `chunk at ${start}, layer ${l}, KV head ${g}`).toEqual([...held[l][g].positions].sort((a, b) => a - b));
        }
      }
      if (budget > 0 && start + n > budget) evictions++;
    }
    expect(cache.tokensHeld(seq)).toBe(budget > 0 ? budget : PROMPT);
    // The evicting runs evicted after every chunk past the budget: after the first (16 > 14) and both later ones.
    expect(evictions).toBe(budget > 0 ? 3 : 0);
  });
});
