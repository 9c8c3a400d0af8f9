// The three selecting policies of this folder and its siblings (Quest, TidalDecode, Recycled Attention) through the
// GPU decoder on stories260K, token by token: with a budget of at least the sequence length their logits equal the
// dense GPU run's within 1e-4 at every step (their plans list every slot), and at a small budget they do not.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { WgslDecoder } from '../../decode/index.ts';
import { nodeGpuDevice } from '../../gpu/node-webgpu.test-helper.ts';
import { PagedKVCache, type SequenceHandle } from '../../kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type LoadedModel } from '../../model/index.ts';
import { loadModelFromPath } from '../../model/node.ts';
import { GpuWeights } from '../../runtime/index.ts';
import { createPolicy, PagedAttention, type AttentionPolicy } from '../index.ts';
import { parseAttentionSpec } from '../spec.ts';

const MODEL = fileURLToPath(new URL('../../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
/** ATTENTION.md: a policy whose budget covers the sequence equals dense within 1e-4. */
const DENSE_TOLERANCE = 1e-4;
/** Tokens decoded: a full 16-token page and part of a second; SwiftShader decodes about a token a second. */
const STEPS = 18;
const ids = Array.from({ length: STEPS }, (_, i) => 3 + ((i * 131) % 500));

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModelFromPath(MODEL);
});

/** One sequence through PagedAttention and the WGSL decoder, as GpuModel's decode loop runs it. */
class GpuRun {
  private readonly cache: PagedKVCache;
  private readonly attention: PagedAttention;
  private readonly decoder: WgslDecoder;
  private readonly staging: GPUBuffer;
  private readonly inv: Float64Array;
  private readonly seq: SequenceHandle;
  private position = 0;

  constructor(private readonly device: GPUDevice, loaded: LoadedModel, private readonly policy: AttentionPolicy) {
    const c = loaded.config;
    const maxTokens = 64;
    this.cache = new PagedKVCache(device, {
      numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens,
      memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 2 * 4 * (maxTokens + 64),
    });
    this.attention = new PagedAttention(device, this.cache, {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, maxPrefillTokens: 1,
    });
    this.decoder = new WgslDecoder(device, c, GpuWeights.upload(device, loaded), this.attention);
    this.staging = device.createBuffer({ size: c.vocabSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.inv = ropeInverseFrequencies(c);
    this.seq = this.cache.createSequence();
    policy.checkModel?.(c);
  }

  async step(id: number): Promise<Float32Array> {
    const { cos, sin } = ropeTable(this.inv, this.position, 1);
    this.attention.beginStep(this.seq, { startPosition: this.position, numTokens: 1, cos, sin });
    this.decoder.writeToken(id);
    const encoder = this.device.createCommandEncoder();
    this.decoder.encodeStep(encoder, { policy: this.policy });
    this.attention.endStep(encoder);
    encoder.copyBufferToBuffer(this.decoder.logits, 0, this.staging, 0, this.staging.size);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    this.position += 1;
    return logits;
  }
}

async function decodeAll(device: GPUDevice, spec: string): Promise<Float32Array[]> {
  const run = new GpuRun(device, model, createPolicy(parseAttentionSpec(spec)));
  const out: Float32Array[] = [];
  for (const id of ids) out.push(await run.step(id));
  return out;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((row, s) => row.forEach((v, i) => { m = Math.max(m, Math.abs(v - b[s][i])); }));
  return m;
}

let dense: Float32Array[] | null = null;

describe('selecting policies through the GPU decoder (stories260K)', () => {
  // Budgets of 32 with 24 tokens: every slot is read. Layers 1.. plan lists (stories260K has 5 layers).
  const full = [
    'quest:budget=32,dense-layers=1', 'tidal:budget=32,select-layer=1,reselect-layer=3',
    'recycled:budget=32,stride=4', 'recycled:budget=32,dynamic=0.95,check-every=2',
  ];
  it.for(full)('%s with a budget covering the sequence gives dense logits within 1e-4 at every step', async (spec) => {
    const device = await nodeGpuDevice();
    dense ??= await decodeAll(device, 'dense');
    const got = await decodeAll(device, spec);
    const diff = maxDiff(got, dense);
    console.log(`${spec}: max |logit - dense| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(DENSE_TOLERANCE);
  });

  it.for(['quest:budget=16,dense-layers=1', 'tidal:budget=8,select-layer=1,reselect-layer=3', 'recycled:budget=4,stride=8'])(
    '%s reads less than every token and so changes the logits', async (spec) => {
      const device = await nodeGpuDevice();
      dense ??= await decodeAll(device, 'dense');
      const got = await decodeAll(device, spec);
      expect(maxDiff(got, dense)).toBeGreaterThan(1e-3);
    },
  );
});
