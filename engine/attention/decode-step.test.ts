// The decoder's dense attention kernels (decode-step-attention.wgsl) through the WGSL decoder, token by token past
// several chunks, against the CPU reference: one workgroup walking every chunk, splits of one chunk, and splits of
// chunk runs merged online (what long contexts take), with f32 and with f16 pages (the reference rounding K/V alike).
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeGpuDevice } from '../gpu/node-webgpu.test-helper.ts';
import type { KvDtype } from '../kv/index.ts';
import { tinyConfig, tinyTensors, writeCheckpoint } from '../model/checkpoint.test-helper.ts';
import type { LoadedModel } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { GpuDecodeRun, maxLogitDiff } from './gpu-decode-run.test-helper.ts';
import { DensePolicy } from './index.ts';
import { decodeStepSplits } from './paged-attention.ts';
import type { DecodeChunkVariant } from '../wgsl/index.ts';

/** 150 tokens: three 64-slot chunks, the last partial. */
const STEPS = 150;
/** f32: the GPU's f32 sums against the reference's f64 (the decoder's own tests allow 1e-4). */
const F32_TOLERANCE = 1e-4;
/**
 * f16: K/V rounded alike, but a value whose f32 bits differ (RoPE in f32 against f64) may round to the neighbouring
 * f16 (2^-10 of it), which this model's logits (magnitude ~1) carry at about that size.
 */
const F16_TOLERANCE = 4e-3;
const ids = Array.from({ length: STEPS }, (_, i) => (i * 7 + 3) % 16);

let loaded: LoadedModel;
beforeAll(async () => {
  loaded = await loadModelFromPath(await writeCheckpoint({ config: tinyConfig('llama', { max_position_embeddings: 256 }), tensors: tinyTensors('llama') }));
});

describe('dense decode attention in the decoder against the CPU reference', () => {
  it('splits a step into runs of chunks past the target (host and kernels alike)', () => {
    expect([64, 65, 150].map((slots) => decodeStepSplits(slots, 2))).toEqual([1, 2, 2]);
    expect(decodeStepSplits(16384)).toBe(256);
    expect(decodeStepSplits(130048)).toBe(254); // 2,032 chunks in runs of 8
  });

  // This adapter's variant ('serial') in every shape; the GPUs' ('lanes') in both kernels' long paths.
  const cases: [string, KvDtype, number, number, DecodeChunkVariant | undefined][] = [
    ['one workgroup walks every chunk, f16', 'f16', 1024, 256, undefined],
    ['splits of one chunk, f16', 'f16', 40, 256, undefined],
    ['splits of two-chunk runs merged online, f32', 'f32', 40, 2, undefined],
    ['splits of two-chunk runs merged online, f16', 'f16', 40, 2, undefined],
    ['decode-chunk lanes: one workgroup walks every chunk, f32', 'f32', 1024, 256, 'lanes'],
    ['decode-chunk lanes: splits of two-chunk runs merged online, f16', 'f16', 40, 2, 'lanes'],
  ];
  it.for(cases)('%s', { timeout: 300_000 }, async ([, kvDtype, decodeOneWorkgroupSlots, decodeTargetSplits, decodeChunkVariant]) => {
    const run = new GpuDecodeRun(await nodeGpuDevice(), loaded, { kvDtype, maxTokens: STEPS + 16, decodeOneWorkgroupSlots, decodeTargetSplits, decodeChunkVariant });
    const got = await run.decodeAll(new DensePolicy(), ids);
    const reference = new ReferenceModel(loaded.config, loaded.weights, { kvDtype });
    const want = [reference.prefill([ids[0]])];
    for (let i = 1; i < STEPS; i++) want.push(reference.decode(ids[i]));
    const diff = maxLogitDiff(got, want);
    console.log(`${decodeChunkVariant ?? 'default'} ${kvDtype}, one workgroup to ${decodeOneWorkgroupSlots} slots, ${decodeTargetSplits} splits at most: max |logit - reference| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(kvDtype === 'f16' ? F16_TOLERANCE : F32_TOLERANCE);
  });
});
