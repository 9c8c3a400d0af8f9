// The matvec sweep (issue 14 item 5): every candidate shape of the decode matvec (engine/decode/variants.ts
// MATVEC_CANDIDATES) x matrix shape x weight format, timed with GPU timestamps against a WGSL read-bandwidth
// baseline measured in the same run, each checked against the CPU reference (engine/quant's dequantizer, f64
// sums over sampled rows); then whole decode steps of the 1B and 135M shapes with the candidates it would pick
// against the engine's GPU variant and the 2026-12-03 shape, interleaved. Bundled by bench/build-node-bench.mjs; the H200 segment is
// bench/h200/segments/matvec.sh.
//
// Then the prefill GEMM (engine/prefill/gemm.wgsl, issue 18): every register tile (GEMM_TILE_CANDIDATES) on the 1B
// and 135M products in int4, f16 and f32, TFLOPS from GPU timestamps, sampled outputs against f64 sums.
//
// Usage: node matvec-sweep.mjs [smoke] --out sweep.json --summary summary.txt --budget-s 80
//   [--parts matvec,gemm,decode] [--candidates name,name (matvec candidates besides today's)]
//
// How a matvec is timed: one compute pass of K dispatches (K chosen so a pass takes ~1.5 ms), cycling through
// enough copies of the weights that they cannot stay in the L2 (>= 128 MiB a cycle; the H200's L2 is 50 MB), with
// timestamp writes at the pass's start and end; Dawn puts a barrier between dispatches that write the same output,
// as between a decode step's matvecs. Rounds interleave the candidates (A B C ... A B C), 5 of them; the median
// and spread (max - min) / median per candidate.
import { writeFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { DAWN_FLAGS } from './dawn-flags.ts';
import { argOf } from './node-harness.ts';
import { PagedAttention } from '../engine/attention/index.ts';
import { SeededRandom } from '../engine/generation/index.ts';
import { createEngineDevice } from '../engine/gpu/index.ts';
import { PagedKVCache } from '../engine/kv/index.ts';
import { ropeInverseFrequencies, ropeTable, type ModelConfig } from '../engine/model/index.ts';
import { dequantizeMatrix, type QuantizationMode } from '../engine/quant/index.ts';
import {
  countingEncoder, DecodeKernels, encodeDispatch, GPU_VARIANT, laneWordsFor, MATVEC_CANDIDATES, matvecShapeFor, WgslDecoder,
  type DecodeKernelVariant, type Dispatch, type GemmTile, type DispatchCounts, type MatrixBuffer, type MatvecCandidate, type MatvecMode, type MatvecPick, type MatvecShape,
} from '../engine/decode/index.ts';
import { GEMM_TILE_CANDIDATES, gemmTileName, PrefillKernels } from '../engine/prefill/index.ts';
import readBandwidthSource from './read-bandwidth.wgsl?raw';
import { modelShape, uploadRandom } from './random-gpu-weights.ts';

Object.assign(globalThis, globals);
// Dawn quantizes timestamps unless told not to (a privacy measure of browsers; this bench wants the raw ticks).
const gpu = create([...DAWN_FLAGS, 'disable-dawn-features=timestamp_quantization']);

const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => +((Math.max(...xs) - Math.min(...xs)) / median(xs)).toFixed(3);

/** One matrix-vector product of a decode step: matrices of `rows` x `in` fed to one dispatch of `mode`. */
interface MatvecCase { name: string; model: string; mode: MatvecMode; rows: number[]; in: number }

const TARGET_CASES: MatvecCase[] = [
  { name: '14336x4096', model: 'target', mode: 'normed', rows: [14336], in: 4096 },
  { name: '128256x2048', model: 'target', mode: 'normed', rows: [128256], in: 2048 },
];
const MODEL_CASES: MatvecCase[] = [
  { name: 'gate/up 8192x2048', model: 'Llama-3.2-1B', mode: 'gated', rows: [8192, 8192], in: 2048 },
  { name: 'down 2048x8192', model: 'Llama-3.2-1B', mode: 'residual', rows: [2048], in: 8192 },
  { name: 'qkv 3072x2048', model: 'Llama-3.2-1B', mode: 'normed', rows: [2048, 512, 512], in: 2048 },
  { name: 'o 2048x2048', model: 'Llama-3.2-1B', mode: 'residual', rows: [2048], in: 2048 },
  { name: 'lm 49152x576', model: 'SmolLM2-135M', mode: 'normed', rows: [49152], in: 576 },
  { name: 'gate/up 1536x576', model: 'SmolLM2-135M', mode: 'gated', rows: [1536, 1536], in: 576 },
  { name: 'down 576x1536', model: 'SmolLM2-135M', mode: 'residual', rows: [576], in: 1536 },
  { name: 'qkv 960x576', model: 'SmolLM2-135M', mode: 'normed', rows: [576, 192, 192], in: 576 },
  { name: 'o 576x576', model: 'SmolLM2-135M', mode: 'residual', rows: [576], in: 576 },
  // Qwen2.5-0.5B: 14 heads of 64 over 2 KV heads, its 151936-row tied head.
  { name: 'lm 151936x896', model: 'Qwen2.5-0.5B', mode: 'normed', rows: [151936], in: 896 },
  { name: 'gate/up 4864x896', model: 'Qwen2.5-0.5B', mode: 'gated', rows: [4864, 4864], in: 896 },
  { name: 'down 896x4864', model: 'Qwen2.5-0.5B', mode: 'residual', rows: [896], in: 4864 },
  { name: 'qkv 1152x896', model: 'Qwen2.5-0.5B', mode: 'normed', rows: [896, 128, 128], in: 896 },
  { name: 'o 896x896', model: 'Qwen2.5-0.5B', mode: 'residual', rows: [896], in: 896 },
];
/** The dry run's (SwiftShader, where one small dispatch of a 256-thread kernel takes ~0.1 s): normed and gated. */
const SMOKE_CASES: MatvecCase[] = [
  { name: 'qkv 64x64', model: 'smoke', mode: 'normed', rows: [32, 16, 16], in: 64 },
  { name: 'gate/up 40x64', model: 'smoke', mode: 'gated', rows: [40, 40], in: 64 },
];
const SMOKE_FORMATS: QuantizationMode[] = ['int4', 'f32'];

const FORMATS: QuantizationMode[] = ['int4', 'int8', 'f16', 'f32'];

/** The decode steps' model shapes (as bench/wgsl-decode-shapes.ts's). */
const MODELS: [string, ModelConfig][] = [
  modelShape('smoke', { vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 }),
  modelShape('SmolLM2-135M', { vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3 }),
  modelShape('Llama-3.2-1B', { vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8 }),
];

/** Pass timing: GPU timestamps where the device has them, else the wall time from submit to a mapped readback. */
class PassTimer {
  private readonly querySet: GPUQuerySet | null;
  private readonly resolve: GPUBuffer;
  private readonly read: GPUBuffer;
  constructor(private readonly device: GPUDevice) {
    this.querySet = device.features.has('timestamp-query') ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
    this.resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }
  get source(): string { return this.querySet ? 'timestamp-query' : 'wall clock (no timestamp-query)'; }
  /** ms of one compute pass holding what `encode` records. */
  async ms(encode: (pass: GPUComputePassEncoder) => void): Promise<number> {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass(this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    encode(pass);
    pass.end();
    if (this.querySet) encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.read, 0, 16);
    const t0 = now();
    this.device.queue.submit([encoder.finish()]);
    await this.read.mapAsync(GPUMapMode.READ);
    const wall = now() - t0;
    const [a, b] = new BigUint64Array(this.read.getMappedRange().slice(0));
    this.read.unmap();
    // A device whose timestamps do not advance (SwiftShader's) falls back to the wall time.
    return this.querySet && b > a ? Number(b - a) / 1e6 : wall;
  }
}

/** GB/s of read-bandwidth.wgsl streaming `bytes` (the ceiling the matvecs are measured against), one pass. */
function bandwidthProbe(device: GPUDevice, bytes: number, workgroups: number) {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ size: bytes, usage });
  const sink = device.createBuffer({ size: workgroups * 4, usage: GPUBufferUsage.STORAGE });
  const module = device.createShaderModule({ code: readBandwidthSource });
  const read = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'stream', constants: { WORKGROUPS: workgroups, VEC4S: bytes / 16 } } });
  const empty = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'empty', constants: { WORKGROUPS: 1, VEC4S: 1 } } });
  const group = device.createBindGroup({ layout: read.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: sink } }] });
  const emptyGroup = device.createBindGroup({ layout: empty.getBindGroupLayout(0), entries: [] });
  return {
    encodeRead: (pass: GPUComputePassEncoder) => { pass.setPipeline(read); pass.setBindGroup(0, group); pass.dispatchWorkgroups(workgroups); },
    encodeEmpty: (pass: GPUComputePassEncoder, n: number) => { pass.setPipeline(empty); pass.setBindGroup(0, emptyGroup); for (let i = 0; i < n; i++) pass.dispatchWorkgroups(1); },
    bytes,
    destroy: () => { src.destroy(); sink.destroy(); },
  };
}

// Fill patterns whose periods are not multiples of any row, so rows differ (a kernel reading the wrong row fails).
const F32_PERIOD = 1_000_003;
const HALF_PERIOD = 2_000_006;
const BYTE_PERIOD = 4_000_012;

/** Seeded uniforms in [0, 1) (engine/generation's mulberry32). */
function mulberry(seed: number): () => number {
  const r = new SeededRandom(seed >>> 0);
  return () => r.next();
}

function halfBits(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 127 + 15;
  if (e <= 0) return sign;
  return sign | (e << 10) | ((u >>> 13) & 0x3ff);
}
function halfValue(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

const PATTERNS = (() => {
  const next = mulberry(20261204);
  const f32 = Float32Array.from({ length: F32_PERIOD }, () => (next() * 2 - 1) * 0.05);
  const half = Uint16Array.from({ length: HALF_PERIOD }, () => halfBits((next() * 2 - 1) * 0.05));
  const bytes = Uint8Array.from({ length: BYTE_PERIOD }, () => Math.floor(next() * 256));
  const scales = Float32Array.from({ length: F32_PERIOD }, () => 0.002 + next() * 0.004);
  return { f32, half, bytes, scales };
})();

type Pattern = Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;
/** Element e of the buffer = pattern[(e + start) % period]. */
function fillPattern(device: GPUDevice, buffer: GPUBuffer, pattern: Pattern, count: number, start: number): void {
  let at = 0;
  let pos = start % pattern.length;
  while (at < count) {
    const len = Math.min(pattern.length - pos, count - at);
    device.queue.writeBuffer(buffer, at * pattern.BYTES_PER_ELEMENT, pattern, pos, len);
    at += len;
    pos = 0;
  }
}

/** Matrix m of a case in one format: its GPU buffers (copy 0 filled from the patterns) and a row's CPU reference. */
interface SweepMatrix { gpu: MatrixBuffer; bytes: number; referenceRow: (r: number) => Float32Array; destroy: () => void }

function makeMatrix(device: GPUDevice, format: QuantizationMode, rows: number, inF: number, m: number, fill: boolean): SweepMatrix {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const mk = (bytes: number) => device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  const start = m * 7920;
  if (format === 'f32' || format === 'f16') {
    const half = format === 'f16';
    const n = rows * inF;
    const buffer = mk(n * (half ? 2 : 4));
    if (fill) fillPattern(device, buffer, half ? PATTERNS.half : PATTERNS.f32, n, start);
    return {
      gpu: { buffer, shape: [rows, inF], f16: half }, bytes: n * (half ? 2 : 4), destroy: () => buffer.destroy(),
      referenceRow: (r) => Float32Array.from({ length: inF }, (_, i) => {
        const e = (r * inF + i + start);
        return half ? halfValue(PATTERNS.half[e % HALF_PERIOD]) : PATTERNS.f32[e % F32_PERIOD];
      }),
    };
  }
  const bits = format === 'int4' ? 4 : 8;
  const blocksPerRow = Math.ceil(inF / 32);
  const blob = 32 * bits / 8;
  const codeBytes = rows * blocksPerRow * blob;
  const codes = mk(codeBytes);
  const scales = mk(rows * blocksPerRow * 4);
  if (fill) {
    fillPattern(device, codes, PATTERNS.bytes, codeBytes, start);
    fillPattern(device, scales, PATTERNS.scales, rows * blocksPerRow, start);
  }
  const spec = { bits: bits as 4 | 8, blockSize: 32, symmetric: true };
  return {
    gpu: { buffer: codes, shape: [rows, inF], quantized: { scales, mins: false, bits: bits as 4 | 8, blockSize: 32, blocksPerRow } },
    bytes: codeBytes + rows * blocksPerRow * 4,
    destroy: () => { codes.destroy(); scales.destroy(); },
    // engine/quant's CPU dequantizer on the row's own bytes.
    referenceRow: (r) => {
      const data = Uint8Array.from({ length: blocksPerRow * blob }, (_, j) => PATTERNS.bytes[(r * blocksPerRow * blob + j + start) % BYTE_PERIOD]);
      const rowScales = Float32Array.from({ length: blocksPerRow }, (_, b) => PATTERNS.scales[(r * blocksPerRow + b + start) % F32_PERIOD]);
      return dequantizeMatrix({ rows: 1, cols: inF, spec, blocksPerRow, data, scales: rowScales, mins: null });
    },
  };
}

/** Rows checked against the CPU reference: spread over every matrix, first and last included. */
function sampledRows(rows: number, count: number): number[] {
  const set = new Set<number>([0, rows - 1]);
  for (let i = 1; i < count; i++) set.add(Math.floor((i * rows) / count));
  return [...set].sort((a, b) => a - b);
}

interface MatvecRow {
  case: string; model: string; mode: MatvecMode; format: QuantizationMode; candidate: string;
  /** What a pick is looked up by (engine/decode MatvecPick): rows summed over the fused matrices (gated: per matrix), width. */
  rows: number; in: number;
  /** The shape that ran (matvecShapeFor may take fewer rows a workgroup on small matrices) and its reduction. */
  ran: string; reduce: string; workgroups: number;
  us: number; usSpread: number; GBperS: number; ofReadBandwidth: number | null; maxError: number; correct: boolean; copies: number; dispatchesPerPass: number;
}

/** Weight bytes a pass cycles through: 2.5x the H200's 50 MB L2, so every dispatch reads DRAM as in a decode step. */
const CYCLE_BYTES = 128 << 20;
/** Copies at most (SmolLM2's 576x576 int4 is 0.2 MB: 640 copies). */
const MAX_COPIES = 1024;

/** Tolerance of the sampled rows against the CPU reference, relative to max(1, largest |y|): f32 sums of <= 8192 terms. */
const TOLERANCE = 2e-4;

/**
 * Candidates per format: the f32/f16 kernels have no unpacking, so one of each other setting. The smoke run (the dry
 * run on SwiftShader, where a 256-thread pipeline takes seconds) takes today's and the subgroup-exponent one only:
 * engine/decode/matvec-variants.test.ts checks them all there.
 */
/** --candidates: the matvec candidates to time besides today's (null: all). */
let chosenCandidates: Set<string> | null = null;

function candidatesFor(format: QuantizationMode, smoke: boolean): MatvecCandidate[] {
  const all = allCandidatesFor(format, smoke);
  const chosen = chosenCandidates;
  if (!chosen) return all;
  return all.filter((c, i) => i === 0 || chosen.has(c.name) || [...chosen].some((n) => n.replace(/-(exponent|convert)$/, '') === c.name));
}

function allCandidatesFor(format: QuantizationMode, smoke: boolean): MatvecCandidate[] {
  if (smoke) {
    const all = allCandidatesFor(format, false);
    // Today's, a subgroup one and a narrow-lane one: the dry run checks the sweep's plumbing, not the shapes.
    return [all[0], all.find((c) => c.shape.subgroups)!, ...all.filter((c) => (c.shape.laneWords ?? 4) < 4).slice(0, 1)];
  }
  if (format === 'int4' || format === 'int8') return [...MATVEC_CANDIDATES];
  // f32/f16: no unpacking, and the lane words the format can split (laneWordsFor): candidates that run alike, once.
  const seen = new Set<string>();
  return MATVEC_CANDIDATES.map((c) => {
    const words = laneWordsFor(c.shape, format);
    const shape: MatvecShape = { ...c.shape, exponentUnpack: false, ...(words === 4 ? { laneWords: undefined } : { laneWords: words }) };
    const name = c.name.replace(/-(exponent|convert)$/, '').replace(/-w[12]$/, words === 4 ? '' : `-w${words}`);
    return { name, shape: JSON.parse(JSON.stringify(shape)) as MatvecShape };
  }).filter((c) => {
    if (seen.has(c.name)) return false;
    seen.add(c.name);
    return true;
  });
}

async function sweepCase(device: GPUDevice, timer: PassTimer, mc: MatvecCase, format: QuantizationMode, readGBperS: () => number, smoke: boolean, rounds: number): Promise<MatvecRow[]> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const mk = (bytes: number) => device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  const next = mulberry(mc.in * 31 + mc.rows[0]);
  const x = Float32Array.from({ length: mc.in }, () => next() * 2 - 1);
  const norm = Float32Array.from({ length: mc.in }, () => 0.8 + next() * 0.4);
  const xBuf = mk(mc.in * 4);
  device.queue.writeBuffer(xBuf, 0, x);
  const normBuf = mk(mc.in * 4);
  device.queue.writeBuffer(normBuf, 0, norm);
  const outRows = mc.mode === 'gated' ? mc.rows[0] : mc.rows.reduce((a, b) => a + b, 0);
  const out = mk(outRows * 4);
  // Copy 0 is filled and checked; the others are GPU copies of it, cycled through so the weights come from DRAM.
  const first = mc.rows.map((rows, m) => makeMatrix(device, format, rows, mc.in, m, true));
  const setBytes = first.reduce((n, m) => n + m.bytes, 0);
  const copies = smoke ? 2 : Math.min(MAX_COPIES, Math.max(2, Math.ceil(CYCLE_BYTES / setBytes)));
  const sets = [first];
  const encoder = device.createCommandEncoder();
  for (let c = 1; c < copies; c++) {
    const set = mc.rows.map((rows, m) => makeMatrix(device, format, rows, mc.in, m, false));
    set.forEach((s, m) => {
      encoder.copyBufferToBuffer(first[m].gpu.buffer, 0, s.gpu.buffer, 0, first[m].gpu.buffer.size);
      if (s.gpu.quantized) encoder.copyBufferToBuffer(first[m].gpu.quantized!.scales, 0, s.gpu.quantized.scales, 0, first[m].gpu.quantized!.scales.size);
    });
    sets.push(set);
  }
  device.queue.submit([encoder.finish()]);
  // The CPU reference of the sampled rows: xn = rmsnorm(x) (normed, gated) or x (residual), f64 sums.
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / mc.in + 1e-5);
  const input = mc.mode === 'residual' ? Array.from(x) : Array.from(x, (v, i) => norm[i] * v * inv);
  const dotRow = (m: number, r: number) => { const w = first[m].referenceRow(r); let s = 0; for (let i = 0; i < mc.in; i++) s += w[i] * input[i]; return s; };
  const checks: { at: number; want: number }[] = [];
  if (mc.mode === 'gated') {
    for (const r of sampledRows(mc.rows[0], smoke ? 8 : 40)) { const g = dotRow(0, r); checks.push({ at: r, want: (g / (1 + Math.exp(-g))) * dotRow(1, r) }); }
  } else {
    let at = 0;
    mc.rows.forEach((rows, m) => { for (const r of sampledRows(rows, smoke ? 8 : 40)) checks.push({ at: at + r, want: dotRow(m, r) }); at += rows; });
  }
  const zeros = new Float32Array(outRows);
  const estimateMs = setBytes / 4e9 + 0.004;
  const perPass = smoke ? 1 : Math.min(400, Math.max(10, Math.ceil(1.5 / estimateMs)));
  type Entry = { c: MatvecCandidate; kernels: DecodeKernels; dispatches: Dispatch[]; ms: number[]; maxError: number; ran: MatvecShape; reduce: string };
  const entries: Entry[] = [];
  for (const c of candidatesFor(format, smoke)) {
    const k = new DecodeKernels(device, 1e-5, { variant: { ...GPU_VARIANT, matvec: c.shape, quantMatvec: c.shape, int4Matvec: c.shape, matvecPicks: [] } });
    const dispatches = sets.map((set) => k.matvec(mc.name, mc.mode, { x: xBuf, norm: normBuf, matrices: set.map((s) => s.gpu), out }));
    const ran = matvecShapeFor(mc.mode === 'gated' && c.shape.rowsPerThread > 4 ? { ...c.shape, rowsPerThread: 4 } : c.shape, outRows);
    // Correctness: one dispatch on zeroed output (residual adds to it), sampled rows against the reference.
    device.queue.writeBuffer(out, 0, zeros);
    await timer.ms((pass) => encodeDispatch(pass, dispatches[0]));
    const got = await readBack(device, out, outRows);
    let maxErr = 0;
    let scale = 1;
    for (const { at, want } of checks) { maxErr = Math.max(maxErr, Math.abs(got[at] - want)); scale = Math.max(scale, Math.abs(want)); }
    entries.push({ c, kernels: k, dispatches, ms: [], maxError: maxErr / scale, ran, reduce: k.reduceFor(ran) });
  }
  for (let r = 0; r < rounds; r++) {
    for (const e of entries) {
      const ms = await timer.ms((pass) => { for (let i = 0; i < perPass; i++) encodeDispatch(pass, e.dispatches[i % e.dispatches.length]); });
      e.ms.push(ms / perPass);
    }
  }
  const rowsOut: MatvecRow[] = entries.map((e) => {
    const ms = median(e.ms);
    const bw = readGBperS();
    const rowsPerWg = (e.ran.workgroupSize / e.ran.threadsPerRow) * e.ran.rowsPerThread;
    return {
      case: mc.name, model: mc.model, mode: mc.mode, format, candidate: e.c.name, rows: outRows, in: mc.in,
      ran: `${e.ran.workgroupSize}x${e.ran.threadsPerRow}x${e.ran.rowsPerThread}${laneWordsFor(e.ran, format) === 4 ? '' : `-w${laneWordsFor(e.ran, format)}`}`, reduce: e.reduce,
      workgroups: (mc.mode === 'gated' ? [mc.rows[0]] : mc.rows).reduce((n, rows) => n + Math.ceil(rows / rowsPerWg), 0),
      us: +(ms * 1000).toFixed(2), usSpread: spread(e.ms), GBperS: +(setBytes / 1e6 / ms).toFixed(0),
      ofReadBandwidth: bw > 0 ? +(setBytes / 1e6 / ms / bw).toFixed(3) : null,
      maxError: +e.maxError.toExponential(2), correct: e.maxError < TOLERANCE, copies, dispatchesPerPass: perPass,
    };
  });
  for (const e of entries) e.kernels.destroy();
  for (const set of sets) for (const s of set) s.destroy();
  for (const b of [xBuf, normBuf, out]) b.destroy();
  return rowsOut;
}

async function readBack(device: GPUDevice, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: Math.ceil(floats / 4) * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, staging.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0), 0, floats);
  staging.unmap();
  staging.destroy();
  return out;
}

/**
 * The pick per format: among candidates correct on every case, the least geometric mean over the cases of its time
 * against today's GPU variant's (the first candidate), so a small matrix counts as much as a big one.
 */
function pick(rows: MatvecRow[], format: QuantizationMode): { candidate: string; geoMeanVsToday: number } | null {
  const mine = rows.filter((r) => r.format === format);
  const names = [...new Set(mine.map((r) => r.candidate))];
  const cases = [...new Set(mine.map((r) => r.case))];
  const today = names[0];
  let best: { candidate: string; geoMeanVsToday: number } | null = null;
  for (const n of names) {
    const rs = mine.filter((r) => r.candidate === n);
    if (rs.length < cases.length || rs.some((r) => !r.correct)) continue;
    let logSum = 0;
    for (const r of rs) logSum += Math.log(r.us / mine.find((t) => t.candidate === today && t.case === r.case)!.us);
    const g = Math.exp(logSum / rs.length);
    if (!best || g < best.geoMeanVsToday) best = { candidate: n, geoMeanVsToday: +g.toFixed(3) };
  }
  return best;
}

/**
 * A case's own pick must beat today's shape by this much (the sweep's spreads were mostly < 2% in run 1 of
 * 2026-12-04): closer than that, today's stays.
 */
const CASE_PICK_MARGIN = 0.97;

/**
 * Per case and format: the fastest candidate correct there, where it takes at most CASE_PICK_MARGIN of the engine's
 * own shape's time for that format (today's int4 shape is not the sweep's first candidate): the entries of
 * DecodeKernelVariant.matvecPicks this run would set.
 */
function casePicks(rows: MatvecRow[], smoke: boolean): (MatvecPick & { candidate: string; vsEngine: number })[] {
  const picks: (MatvecPick & { candidate: string; vsEngine: number })[] = [];
  for (const key of [...new Set(rows.map((r) => `${r.case}|${r.format}`))]) {
    const mine = rows.filter((r) => `${r.case}|${r.format}` === key);
    const format = mine[0].format;
    const engineShape = format === 'int4' ? GPU_VARIANT.int4Matvec : format === 'int8' ? GPU_VARIANT.quantMatvec : GPU_VARIANT.matvec;
    const engineName = candidatesFor(format, smoke).find((c) => sameShape(c.shape, engineShape, format))?.name ?? mine[0].candidate;
    const engine = mine.find((r) => r.candidate === engineName) ?? mine[0];
    const best = mine.filter((r) => r.correct).reduce<MatvecRow | null>((a, b) => (!a || b.us < a.us ? b : a), null);
    if (!best || best.candidate === engine.candidate || best.us > CASE_PICK_MARGIN * engine.us) continue;
    const shape = candidatesFor(format, smoke).find((c) => c.name === best.candidate)!.shape;
    picks.push({ format, mode: best.mode, rows: best.rows, in: best.in, shape, candidate: best.candidate, vsEngine: +(best.us / engine.us).toFixed(3) });
  }
  return picks;
}

/** Two shapes that run alike in `format` (the float formats ignore the unpacking; lane words as laneWordsFor widens them). */
function sameShape(a: MatvecShape, b: MatvecShape, format: QuantizationMode): boolean {
  const quant = format === 'int4' || format === 'int8';
  return a.workgroupSize === b.workgroupSize && a.threadsPerRow === b.threadsPerRow && a.rowsPerThread === b.rowsPerThread && !!a.subgroups === !!b.subgroups
    && !!a.stageInput === !!b.stageInput && (!quant || !!a.exponentUnpack === !!b.exponentUnpack) && laneWordsFor(a, format) === laneWordsFor(b, format);
}

/** One prefill product: out[m][n] = in[m][k] . W[n][k]^T, in = x or silu(x) * x2 (gated), out += with add. */
interface GemmCase { name: string; model: string; m: number; n: number; k: number; gated?: boolean; add?: boolean }

const GEMM_CASES: GemmCase[] = [
  { name: 'q 2048x2048 @512', model: 'Llama-3.2-1B', m: 512, n: 2048, k: 2048 },
  { name: 'kv 512x2048 @512', model: 'Llama-3.2-1B', m: 512, n: 512, k: 2048 },
  { name: 'gate 8192x2048 @512', model: 'Llama-3.2-1B', m: 512, n: 8192, k: 2048 },
  { name: 'down 2048x8192 @512', model: 'Llama-3.2-1B', m: 512, n: 2048, k: 8192, gated: true, add: true },
  { name: 'q 2048x2048 @2048', model: 'Llama-3.2-1B', m: 2048, n: 2048, k: 2048 },
  { name: 'gate 8192x2048 @2048', model: 'Llama-3.2-1B', m: 2048, n: 8192, k: 2048 },
  { name: 'down 2048x8192 @2048', model: 'Llama-3.2-1B', m: 2048, n: 2048, k: 8192, gated: true, add: true },
  { name: 'q 576x576 @2048', model: 'SmolLM2-135M', m: 2048, n: 576, k: 576 },
  { name: 'kv 192x576 @2048', model: 'SmolLM2-135M', m: 2048, n: 192, k: 576 },
  { name: 'gate 1536x576 @2048', model: 'SmolLM2-135M', m: 2048, n: 1536, k: 576 },
  { name: 'down 576x1536 @2048', model: 'SmolLM2-135M', m: 2048, n: 576, k: 1536, gated: true, add: true },
];
const SMOKE_GEMM_CASES: GemmCase[] = [{ name: 'smoke 70x64 @40', model: 'smoke', m: 40, n: 70, k: 64, gated: true, add: true }];
/** The prefill formats of issue 18's targets: int4 (1B), f16 and f32 (135M). */
const GEMM_FORMATS: QuantizationMode[] = ['int4', 'f16', 'f32'];

interface GemmRow {
  case: string; model: string; format: QuantizationMode; tile: string; workgroups: number;
  ms: number; msSpread: number; tflops: number; maxError: number; correct: boolean; dispatchesPerPass: number;
}

/** Tolerance of sampled outputs against f64 sums, relative to max(1, largest |expected|): f32 sums of <= 8192 terms. */
const GEMM_TOLERANCE = 2e-4;

async function sweepGemm(device: GPUDevice, timer: PassTimer, gc: GemmCase, format: QuantizationMode, smoke: boolean, rounds: number): Promise<GemmRow[]> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const mk = (bytes: number) => device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  const next = mulberry(gc.m * 7 + gc.n * 3 + gc.k);
  // Plain loops: Float32Array.from with a callback takes seconds for the 16M inputs of the 2048-row down_proj.
  const randomInput = () => { const a = new Float32Array(gc.m * gc.k); for (let i = 0; i < a.length; i++) a[i] = next() * 2 - 1; return a; };
  const x = randomInput();
  const x2 = gc.gated ? randomInput() : null;
  const xBuf = mk(x.byteLength);
  device.queue.writeBuffer(xBuf, 0, x);
  const x2Buf = x2 ? mk(x2.byteLength) : null;
  if (x2Buf && x2) device.queue.writeBuffer(x2Buf, 0, x2);
  const out = mk(gc.m * gc.n * 4);
  const dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(dims, 0, new Uint32Array([gc.m, 0, 0, 0]));
  const w = makeMatrix(device, format, gc.n, gc.k, 0, true);
  // Sampled outputs against f64 sums of the CPU reference's weights (engine/quant's dequantizer for int4).
  const checks: { at: number; want: number }[] = [];
  const samples = smoke ? 12 : 24;
  const inputAt = (r: number, i: number) => { const g = x[r * gc.k + i]; return x2 ? (g / (1 + Math.exp(-g))) * x2[r * gc.k + i] : g; };
  for (let s = 0; s < samples; s++) {
    const r = s === 0 ? gc.m - 1 : Math.floor(next() * gc.m);
    const c = s === 1 ? gc.n - 1 : Math.floor(next() * gc.n);
    const wr = w.referenceRow(c);
    let sum = 0;
    for (let i = 0; i < gc.k; i++) sum += inputAt(r, i) * wr[i];
    checks.push({ at: r * gc.n + c, want: sum });
  }
  const zeros = new Float32Array(gc.m * gc.n);
  const estimateMs = (2 * gc.m * gc.n * gc.k) / 15e9;
  const perPass = smoke ? 1 : Math.min(100, Math.max(3, Math.ceil(2 / estimateMs)));
  type Entry = { tile: GemmTile; kernels: PrefillKernels; encode: (pass: GPUComputePassEncoder) => void; ms: number[]; maxError: number };
  const entries: Entry[] = [];
  const tiles = smoke ? GEMM_TILE_CANDIDATES.slice(0, 2) : GEMM_TILE_CANDIDATES;
  for (const tile of tiles) {
    const kernels = new PrefillKernels(device, 1e-5, dims, tile);
    const d = kernels.gemm(gc.name, { x: xBuf, x2: x2Buf ?? undefined, w: w.gpu, out, add: gc.add });
    const encode = (pass: GPUComputePassEncoder) => d.encode(pass, gc.m);
    device.queue.writeBuffer(out, 0, zeros);
    await timer.ms(encode);
    const got = await readBack(device, out, gc.m * gc.n);
    let maxErr = 0;
    let scale = 1;
    for (const { at, want } of checks) { maxErr = Math.max(maxErr, Math.abs(got[at] - want)); scale = Math.max(scale, Math.abs(want)); }
    entries.push({ tile, kernels, encode, ms: [], maxError: maxErr / scale });
  }
  for (let r = 0; r < rounds; r++) {
    for (const e of entries) e.ms.push((await timer.ms((pass) => { for (let i = 0; i < perPass; i++) e.encode(pass); })) / perPass);
  }
  const rows = entries.map((e): GemmRow => {
    const ms = median(e.ms);
    return {
      case: gc.name, model: gc.model, format, tile: gemmTileName(e.tile),
      workgroups: Math.ceil(gc.n / (16 * e.tile.columnsPerThread)) * Math.ceil(gc.m / (16 * e.tile.rowsPerThread)),
      ms: +ms.toFixed(4), msSpread: spread(e.ms), tflops: +((2 * gc.m * gc.n * gc.k) / ms / 1e9).toFixed(2),
      maxError: +e.maxError.toExponential(2), correct: e.maxError < GEMM_TOLERANCE, dispatchesPerPass: perPass,
    };
  });
  for (const e of entries) e.kernels.destroy();
  w.destroy();
  for (const b of [xBuf, x2Buf, out, dims]) b?.destroy();
  return rows;
}

/** The GEMM tile per format: correct on every case, the least geometric mean of time against the default tile's. */
function pickGemm(rows: GemmRow[], format: QuantizationMode): { tile: string; geoMeanVsDefault: number } | null {
  const mine = rows.filter((r) => r.format === format);
  const tiles = [...new Set(mine.map((r) => r.tile))];
  const cases = [...new Set(mine.map((r) => r.case))];
  let best: { tile: string; geoMeanVsDefault: number } | null = null;
  for (const t of tiles) {
    const rs = mine.filter((r) => r.tile === t);
    if (rs.length < cases.length || rs.some((r) => !r.correct)) continue;
    let logSum = 0;
    for (const r of rs) logSum += Math.log(r.ms / mine.find((d) => d.tile === tiles[0] && d.case === r.case)!.ms);
    const g = Math.exp(logSum / rs.length);
    if (!best || g < best.geoMeanVsDefault) best = { tile: t, geoMeanVsDefault: +g.toFixed(3) };
  }
  return best;
}

interface DecodeRow {
  model: string; format: QuantizationMode; variant: string; msPerToken: number; tokensPerS: number; spread: number; rounds: number;
  dispatchesPerToken: number; hostEncodeMs: number; floorMs: number; overFloor: number; weightGB: number;
}

/** GPU-greedy decode steps (the argmax kernel picks the id, the queue kept full) of one model shape, each variant
 * on its own decoder over the same weights, rounds interleaved. */
async function benchDecode(device: GPUDevice, name: string, c: ModelConfig, format: QuantizationMode, variants: [string, DecodeKernelVariant][], ys: { readGBperS: number; emptyDispatchMs: number }, smoke: boolean): Promise<DecodeRow[]> {
  const weights = uploadRandom(device, c, format);
  const steps = smoke ? 2 : 32;
  const rounds = smoke ? 1 : 5;
  const context = smoke ? 1 : 64;
  const maxTokens = context + steps * rounds + 64;
  const rigs = variants.map(([label, variant]) => {
    const cache = new PagedKVCache(device, {
      numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxTokensPerSequence: maxTokens,
      memoryBudgetBytes: 2 * c.numLayers * c.numKvHeads * c.headDim * 8 * (maxTokens + 64),
    });
    const attention = new PagedAttention(device, cache, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: 'half', maxPrefillTokens: 1 });
    const decoder = new WgslDecoder(device, c, weights, attention, variant);
    return { label, cache, attention, decoder, seq: cache.createSequence(), position: 0, ms: [] as number[], encode: [] as number[], counts: { dispatches: 0, passes: 0 } as DispatchCounts };
  });
  const inv = ropeInverseFrequencies(c);
  const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const sync = async (decoder: WgslDecoder) => {
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(decoder.logits, 0, staging, 0, 16);
    device.queue.submit([e.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    staging.unmap();
  };
  const run = async (rig: (typeof rigs)[number], n: number) => {
    let encodeMs = 0;
    rig.decoder.writeToken(1);
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const t = now();
      const { cos, sin } = ropeTable(inv, rig.position, 1);
      rig.attention.beginStep(rig.seq, { startPosition: rig.position, numTokens: 1, cos, sin });
      rig.counts.dispatches = 0;
      rig.counts.passes = 0;
      const encoder = countingEncoder(device.createCommandEncoder(), rig.counts);
      rig.decoder.encodeStep(encoder, { greedy: true });
      device.queue.submit([encoder.finish()]);
      encodeMs += now() - t;
      rig.position++;
    }
    await sync(rig.decoder);
    return { ms: (now() - t0) / n, encodeMs: encodeMs / n };
  };
  for (const rig of rigs) await run(rig, context);
  for (let r = 0; r < rounds; r++) {
    for (const rig of rigs) {
      const { ms, encodeMs } = await run(rig, steps);
      rig.ms.push(ms);
      rig.encode.push(encodeMs);
    }
  }
  const readMs = ys.readGBperS > 0 ? weights.bytes / 1e6 / ys.readGBperS : 0;
  const rows = rigs.map((rig): DecodeRow => {
    const ms = median(rig.ms);
    const host = median(rig.encode);
    const floor = Math.max(host, rig.counts.dispatches * ys.emptyDispatchMs) + readMs;
    return {
      model: name, format, variant: rig.label, msPerToken: +ms.toFixed(3), tokensPerS: +(1000 / ms).toFixed(0), spread: spread(rig.ms), rounds,
      dispatchesPerToken: rig.counts.dispatches, hostEncodeMs: +host.toFixed(3), floorMs: +floor.toFixed(3), overFloor: +(ms / floor).toFixed(2), weightGB: +(weights.bytes / 1e9).toFixed(3),
    };
  });
  for (const rig of rigs) { rig.decoder.destroy(); rig.cache.destroy(); }
  staging.destroy();
  weights.destroy();
  return rows;
}

async function main() {
  const started = now();
  const smoke = process.argv[2] === 'smoke';
  const outPath = argOf('--out', '');
  const summaryPath = argOf('--summary', '');
  const budgetS = Number(argOf('--budget-s', 'Infinity'));
  // What to run, in this order: the matvec sweep, the prefill GEMM tiles, the decode steps with the matvec picks.
  const parts = new Set(argOf('--parts', 'matvec,gemm,decode').split(','));
  // Matvec candidates by name (today's, the first, always runs): a second run can time the first's winners alone.
  const only = argOf('--candidates', '');
  if (only) chosenCandidates = new Set(only.split(','));
  const left = () => budgetS - (now() - started) / 1000;
  const engine = await createEngineDevice(gpu as unknown as GPU);
  const device = engine.device;
  const info = engine.adapterInfo;
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const timer = new PassTimer(device);
  const subgroupMinSize = (device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize ?? null;
  console.log(`adapter: ${adapter}; timing: ${timer.source}; subgroups ${device.features.has('subgroups')} (min size ${subgroupMinSize}); shader-f16 ${device.features.has('shader-f16')}`);
  const result = {
    date: new Date().toISOString(), adapter, timing: timer.source, subgroups: device.features.has('subgroups'), subgroupMinSize, shaderF16: device.features.has('shader-f16'),
    how: HOW, bandwidth: { samplesGBperS: [] as number[], readGBperS: 0, spread: 0, emptyDispatchUs: 0 },
    matvec: [] as MatvecRow[], picks: {} as Record<string, unknown>, casePicks: [] as (MatvecPick & { candidate: string; vsEngine: number })[], gemm: [] as GemmRow[], gemmPicks: {} as Record<string, unknown>, decode: [] as DecodeRow[], errors: [] as string[], seconds: 0,
  };
  // The JSON and the table after every group, so a run cut short keeps both.
  const save = () => {
    if (outPath) writeFileSync(outPath, JSON.stringify(result, null, 2));
    result.seconds = +((now() - started) / 1000).toFixed(1);
    if (summaryPath) writeFileSync(summaryPath, summarize(result));
  };
  // 16 workgroups per SM of a 132-SM GPU, as bench/wgsl-decode-shapes.ts's yardstick.
  const probe = bandwidthProbe(device, smoke ? 1 << 20 : 1 << 30, smoke ? 16 : 132 * 16);
  const sampleBandwidth = async () => {
    const ms = await timer.ms((pass) => probe.encodeRead(pass));
    result.bandwidth.samplesGBperS.push(+(probe.bytes / 1e6 / ms).toFixed(0));
    result.bandwidth.readGBperS = median(result.bandwidth.samplesGBperS);
    result.bandwidth.spread = spread(result.bandwidth.samplesGBperS);
  };
  await timer.ms((pass) => probe.encodeRead(pass));
  for (let i = 0; i < 3; i++) await sampleBandwidth();
  const emptyN = smoke ? 20 : 2000;
  result.bandwidth.emptyDispatchUs = +((await timer.ms((pass) => probe.encodeEmpty(pass, emptyN))) * 1000 / emptyN).toFixed(3);
  console.log(JSON.stringify({ bandwidth: result.bandwidth }));
  save();
  const formats = (smoke ? SMOKE_FORMATS : FORMATS).filter((f) => f !== 'f16' || device.features.has('shader-f16') || F16_WITHOUT_FEATURE);
  for (const f of (smoke ? SMOKE_FORMATS : FORMATS).filter((f) => !formats.includes(f))) result.errors.push(`${f}: skipped (no shader-f16)`);
  // The target shapes first in every format, then the models' own shapes; a bandwidth sample between groups.
  const cases = parts.has('matvec') ? (smoke ? SMOKE_CASES : [...TARGET_CASES, ...MODEL_CASES]) : [];
  const rounds = smoke ? 1 : 5;
  // Seconds kept for the parts after the matvecs: the GEMMs' ~15 s and the decode steps' ~30 s on the H200.
  const decodeReserveS = smoke || !parts.has('decode') ? 0 : 30;
  const gemmReserveS = smoke || !parts.has('gemm') ? 0 : 15;
  for (const mc of cases) {
    for (const format of formats) {
      if (left() < decodeReserveS + gemmReserveS + 2) { result.errors.push(`matvec ${mc.name} ${format}: skipped, ${left().toFixed(0)} s left`); continue; }
      try {
        const rows = await sweepCase(device, timer, mc, format, () => result.bandwidth.readGBperS, smoke, rounds);
        result.matvec.push(...rows);
        for (const r of rows) console.log(JSON.stringify(r));
      } catch (e) {
        result.errors.push(`matvec ${mc.name} ${format}: ${e instanceof Error ? e.message : String(e)}`);
        console.error(mc.name, format, e);
      }
      await sampleBandwidth();
      save();
    }
  }
  // Re-rate every row against the run's final median bandwidth.
  for (const r of result.matvec) r.ofReadBandwidth = result.bandwidth.readGBperS > 0 ? +(r.GBperS / result.bandwidth.readGBperS).toFixed(3) : null;
  const picked: Partial<Record<QuantizationMode, MatvecShape>> = {};
  for (const f of formats) {
    const p = pick(result.matvec, f);
    result.picks[f] = p;
    if (p) picked[f] = candidatesFor(f, smoke).find((c) => c.name === p.candidate)!.shape;
  }
  result.casePicks = casePicks(result.matvec, smoke);
  save();
  // The prefill GEMMs: every tile on the 1B and 135M products, int4, f16, f32.
  const gemmCases = parts.has('gemm') ? (smoke ? SMOKE_GEMM_CASES : GEMM_CASES) : [];
  const gemmFormats = GEMM_FORMATS.filter((f) => formats.includes(f));
  for (const gc of gemmCases) {
    for (const format of gemmFormats) {
      if (left() < decodeReserveS + 2) { result.errors.push(`gemm ${gc.name} ${format}: skipped, ${left().toFixed(0)} s left`); continue; }
      try {
        const rows = await sweepGemm(device, timer, gc, format, smoke, rounds);
        result.gemm.push(...rows);
        for (const r of rows) console.log(JSON.stringify(r));
      } catch (e) {
        result.errors.push(`gemm ${gc.name} ${format}: ${e instanceof Error ? e.message : String(e)}`);
        console.error(gc.name, format, e);
      }
      save();
    }
  }
  for (const f of gemmFormats) result.gemmPicks[f] = pickGemm(result.gemm, f);
  save();
  // Whole decode steps: the engine's GPU variant, the 2026-12-03 shape where it differs, and this run's pick per format.
  const models = parts.has('decode') ? MODELS.filter(([n]) => (smoke ? n === 'smoke' : n === 'Llama-3.2-1B' || n === 'SmolLM2-135M')) : [];
  const decodeFormats = (['int4', 'f16', 'int8', 'f32'] as QuantizationMode[]).filter((f) => formats.includes(f)).slice(0, smoke ? 1 : 4);
  for (const format of decodeFormats) {
    for (const [name, c] of models) {
      if (left() < 5) { result.errors.push(`decode ${name} ${format}: skipped, ${left().toFixed(0)} s left`); continue; }
      const shape = picked[format];
      // The engine's GPU variant, the 2026-12-03 shape (the first candidate) where they differ, and this run's pick.
      const quant = format === 'int4' || format === 'int8';
      const v = (s: MatvecShape): DecodeKernelVariant => (quant ? { ...GPU_VARIANT, quantMatvec: s, int4Matvec: s, matvecPicks: [] } : { ...GPU_VARIANT, matvec: s, matvecPicks: [] });
      const variants: [string, DecodeKernelVariant][] = [['engine default', GPU_VARIANT]];
      const first = MATVEC_CANDIDATES[0].shape;
      const current = format === 'int4' ? GPU_VARIANT.int4Matvec : quant ? GPU_VARIANT.quantMatvec : GPU_VARIANT.matvec;
      if (!smoke && JSON.stringify(current) !== JSON.stringify(first)) variants.push(['2026-12-03 shape', v(first)]);
      if (shape && JSON.stringify(shape) !== JSON.stringify(current)) variants.push([`picked ${result.picks[format] ? (result.picks[format] as { candidate: string }).candidate : ''}`, v(shape)]);
      // The engine's variant with this run's per-case picks in its table (what committing them would give).
      const table = result.casePicks.filter((p) => p.format === format).map(({ format: f, mode, rows, in: inF, shape: s }): MatvecPick => ({ format: f, mode, rows, in: inF, shape: s }));
      if (table.length > 0) variants.push([`case picks (${table.length})`, { ...GPU_VARIANT, matvecPicks: [...GPU_VARIANT.matvecPicks, ...table] }]);
      try {
        const rows = await benchDecode(device, name, c, format, variants, { readGBperS: result.bandwidth.readGBperS, emptyDispatchMs: result.bandwidth.emptyDispatchUs / 1000 }, smoke);
        result.decode.push(...rows);
        for (const r of rows) console.log(JSON.stringify(r));
      } catch (e) {
        result.errors.push(`decode ${name} ${format}: ${e instanceof Error ? e.message : String(e)}`);
        console.error(name, format, e);
      }
      save();
    }
  }
  save();
  console.log(summarize(result));
  probe.destroy();
  process.exit(0);
}

/** The summary table: per case and format, today's variant against the best and the pick; the decode steps. */
function summarize(r: { adapter: string; timing: string; bandwidth: { readGBperS: number; spread: number; emptyDispatchUs: number; samplesGBperS: number[] }; matvec: MatvecRow[]; picks: Record<string, unknown>; casePicks: (MatvecPick & { candidate: string; vsEngine: number })[]; gemm: GemmRow[]; gemmPicks: Record<string, unknown>; decode: DecodeRow[]; errors: string[]; seconds: number }): string {
  const lines = [
    `matvec sweep, ${r.adapter}, ${r.timing}, ${r.seconds} s`,
    `read bandwidth ${r.bandwidth.readGBperS} GB/s (median of ${r.bandwidth.samplesGBperS.length}, spread ${r.bandwidth.spread}); empty dispatch ${r.bandwidth.emptyDispatchUs} us`,
    `picks: ${Object.entries(r.picks).map(([f, p]) => `${f} ${p ? `${(p as { candidate: string }).candidate} (x${(p as { geoMeanVsToday: number }).geoMeanVsToday} of today's time)` : 'none'}`).join('; ')}`,
    'case | format | today us (of read) | best candidate us (of read) | picked us (of read) | wrong candidates',
  ];
  const keys = [...new Set(r.matvec.map((m) => `${m.case}|${m.format}`))];
  for (const k of keys) {
    const rows = r.matvec.filter((m) => `${m.case}|${m.format}` === k);
    const today = rows[0];
    const good = rows.filter((m) => m.correct);
    const best = good.reduce((a, b) => (b.us < a.us ? b : a), good[0] ?? today);
    const p = r.picks[today.format] as { candidate: string } | null;
    const pk = p ? rows.find((m) => m.candidate === p.candidate) : undefined;
    const bad = rows.filter((m) => !m.correct).map((m) => `${m.candidate} (${m.maxError})`);
    const cell = (m: MatvecRow | undefined) => (m ? `${m.us} (${m.ofReadBandwidth})` : '-');
    lines.push(`${today.case} | ${today.format} | ${cell(today)} | ${best.candidate} ${cell(best)} | ${cell(pk)} | ${bad.join(', ') || 'none'}`);
  }
  lines.push(`case picks (the entries for engine/decode/variants.ts GPU_VARIANT.matvecPicks; each beat the engine's shape by ${((1 - CASE_PICK_MARGIN) * 100).toFixed(0)}% or more):`);
  for (const p of r.casePicks) lines.push(`  { format: '${p.format}', mode: '${p.mode}', rows: ${p.rows}, in: ${p.in}, shape: ${JSON.stringify(p.shape).replace(/"(\w+)":/g, '$1: ')} }, // ${p.candidate} x${p.vsEngine}`);
  lines.push(`gemm picks: ${Object.entries(r.gemmPicks).map(([f, p]) => `${f} ${p ? `${(p as { tile: string }).tile} (x${(p as { geoMeanVsDefault: number }).geoMeanVsDefault} of the default's time)` : 'none'}`).join('; ')}`);
  lines.push('gemm case | format | TFLOPS per tile (ms) | wrong tiles');
  for (const k of [...new Set(r.gemm.map((g) => `${g.case}|${g.format}`))]) {
    const rows = r.gemm.filter((g) => `${g.case}|${g.format}` === k);
    const bad = rows.filter((g) => !g.correct).map((g) => `${g.tile} (${g.maxError})`);
    lines.push(`${rows[0].case} | ${rows[0].format} | ${rows.map((g) => `${g.tile} ${g.tflops} (${g.ms})`).join(', ')} | ${bad.join(', ') || 'none'}`);
  }
  lines.push('decode | format | variant | ms/token | tok/s | spread | over floor');
  for (const d of r.decode) lines.push(`${d.model} | ${d.format} | ${d.variant} | ${d.msPerToken} | ${d.tokensPerS} | ${d.spread} | ${d.overFloor}`);
  for (const e of r.errors) lines.push(`error: ${e.slice(0, 200)}`);
  return lines.join('\n') + '\n';
}

/** f16 weights are packed u32 pairs read with unpack2x16float (matvec-f16.wgsl): no shader-f16 needed. */
const F16_WITHOUT_FEATURE = true;

const HOW = 'Node on Dawn (webgpu npm), bench/matvec-sweep.ts: each matvec case x weight format x candidate (engine/decode/variants.ts MATVEC_CANDIDATES; f32/f16 without the int unpacking) timed as one compute pass of K dispatches over enough weight copies to leave the L2 (>= 128 MiB a cycle), GPU timestamps at the pass start and end, 5 interleaved rounds, median; weights = codes + scales (or values) read once per dispatch; of read = against read-bandwidth.wgsl over 1 GiB in the same run (median of samples taken between groups). Each candidate checked on sampled rows against engine/quant\'s CPU dequantizer with f64 sums. Decode: GPU-greedy steps of random weights, 64 steps of context, 5 interleaved rounds of 32 steps per variant: the engine\'s GPU variant, the 2026-12-03 shape where it differs, and the pick per format.';

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
