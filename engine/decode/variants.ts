// Kernel variants per adapter: the same WGSL entry points with the workgroup shape that suits the hardware, chosen
// once per device from its adapter info. One decode path everywhere; only these numbers differ.
import { isCpuAdapter, type AdapterFacts } from '../gpu/index.ts';
import type { QuantizationMode } from '../quant/index.ts';

export interface MatvecShape {
  workgroupSize: number;
  threadsPerRow: number;
  /** At most 8; gated matvecs take at most 4 (matvec.wgsl keeps 2 per row in 8 registers). */
  rowsPerThread: number;
  /**
   * A matrix whose grid would have fewer workgroups takes fewer rows per thread (then twice the lanes per row) down
   * to 4 rows a workgroup: 0 keeps the shape whatever the grid.
   */
  minWorkgroups: number;
  /**
   * Lanes meet through subgroup shuffles (matvec-reduce-subgroup.wgsl) instead of a workgroup-shared tree, where the
   * device has 'subgroups' and its smallest subgroup holds threadsPerRow lanes (else the tree; DecodeKernels checks).
   */
  subgroups?: boolean;
  /** int4/int8: codes turned into f32 through the exponent bits instead of f32() (matvec-int4.wgsl's header). */
  exponentUnpack?: boolean;
  /**
   * The workgroup stages the (normed) input in workgroup memory once, so lanes read it without one cache line per
   * lane (matvec.wgsl stageInput), where it fits the device's workgroup storage (else read from global memory).
   */
  stageInput?: boolean;
  /**
   * u32 words of a 16-byte unit a lane reads at once (matvec.wgsl LANE_WORDS; default 4, the whole unit): 1 or 2 make
   * a warp's input loads touch 4x or 2x fewer cache lines for the same weights. f16 takes at least 2, f32 always 4
   * (DecodeKernels widens what a format cannot split).
   */
  laneWords?: 1 | 2 | 4;
}

/**
 * The shape of one matvec dispatch: `v` while its grid reaches v.minWorkgroups, else fewer rows a workgroup (rows per
 * thread 4 -> 2 -> 1, then twice the lanes per row). Why: the H200 run of 2026-12-03 read 14336x4096 f32 at 84% of
 * bandwidth with 32 rows a workgroup, but SmolLM2-135M's 576-row matrices then had 18 workgroups for 132 SMs and its
 * step was slower than with 4 rows a workgroup (4.12 against 3.35 ms). Not yet measured with this rule.
 */
export function matvecShapeFor(v: MatvecShape, rows: number): MatvecShape {
  const workgroups = (s: MatvecShape) => Math.ceil(rows / ((s.workgroupSize / s.threadsPerRow) * s.rowsPerThread));
  if (v.minWorkgroups <= 0 || v.threadsPerRow === 1) return v;
  const ladder: MatvecShape[] = [v];
  for (let r = v.rowsPerThread >> 1; r >= 1; r >>= 1) ladder.push({ ...v, rowsPerThread: r });
  if (v.threadsPerRow * 2 <= v.workgroupSize / 4) ladder.push({ ...v, rowsPerThread: 1, threadsPerRow: v.threadsPerRow * 2 });
  return ladder.find((s) => workgroups(s) >= v.minWorkgroups) ?? ladder[ladder.length - 1];
}

/** The workgroup shape of the matvec kernels (WG and TPR overrides of matvec.wgsl and matvec-quant.wgsl). */
export interface DecodeKernelVariant {
  name: 'gpu' | 'cpu-adapter';
  /**
   * f32/f16 matvec (matvec.wgsl's WG, TPR, RPT): threads per workgroup, lanes per row group, rows per thread
   * (rows per workgroup = workgroupSize / threadsPerRow * rowsPerThread).
   */
  matvec: MatvecShape;
  /** int8 matvec (and int4 where int4Matvec is not set apart): likewise. */
  quantMatvec: MatvecShape;
  /** int4 matvec: likewise. */
  int4Matvec: MatvecShape;
  /**
   * Shapes measured fastest for particular matrices (bench/matvec-sweep.ts writes them per case and format): a matvec
   * of that format, mode, rows and width takes its pick's shape instead of the format's above. Empty until a run on
   * the adapter's kind of GPU picks them.
   */
  matvecPicks: readonly MatvecPick[];
  /** Threads of the one greedy argmax workgroup (argmax.wgsl). */
  argmaxWorkgroupSize: number;
  /** The prefill GEMM's register tile (engine/prefill/gemm.wgsl), which WgslPrefill records its products with. */
  gemmTile: GemmTile;
}

/** One measured winner: the matvec of `format` in `mode` over `rows` (summed over fused matrices; gated: per matrix) x `in`. */
export interface MatvecPick {
  format: QuantizationMode;
  mode: 'normed' | 'residual' | 'gated';
  rows: number;
  in: number;
  shape: MatvecShape;
}

/**
 * gemm.wgsl's register tile: rows and columns of out per thread (4 or 8 each; 16 x 16 threads, so a workgroup's tile
 * is 16 rows x 16 columns of them). Candidates: engine/prefill's GEMM_TILE_CANDIDATES.
 */
export interface GemmTile {
  rowsPerThread: 4 | 8;
  columnsPerThread: 4 | 8;
}

/** 128 x 64 a workgroup: the tile measured on the H200 on 2026-12-03 (~11 TFLOPS f32 in the 1B prefill). */
export const DEFAULT_GEMM_TILE: GemmTile = { rowsPerThread: 8, columnsPerThread: 4 };

/** Two workgroups per SM of a 132-SM GPU (H200): fewer leave SMs idle in a latency-bound matvec. */
const GPU_MATVEC_MIN_WORKGROUPS = 264;

/**
 * Real GPUs: 32 lanes per row keep a row's loads 512 bytes contiguous (f32, int4, int8 16-byte units; f16 256), and 4
 * rows per thread read each input unit once for 4 rows (input loads were what bound int4: 8 bytes of input per
 * byte of codes). 32 rows a workgroup still give a 1B model's fused q/k/v 96 workgroups.
 */
export const GPU_VARIANT: DecodeKernelVariant = {
  name: 'gpu',
  matvec: { workgroupSize: 256, threadsPerRow: 32, rowsPerThread: 4, minWorkgroups: GPU_MATVEC_MIN_WORKGROUPS },
  quantMatvec: { workgroupSize: 256, threadsPerRow: 32, rowsPerThread: 4, minWorkgroups: GPU_MATVEC_MIN_WORKGROUPS },
  // The H200 run of 2026-12-04 (run 1, bench/results/h200-2026-12-04-run1/matvec, GPU timestamps, 5 interleaved
  // rounds, spreads mostly < 2%): 128 threads, subgroup reduction and the exponent unpacking took 0.90x the time of
  // the shape above over the 1B and 135M int4 matvecs (geometric mean): 14336x4096 47.5 -> 44.8 us, 128256x2048
  // 188.7 -> 179.8, 1B qkv 17.3 -> 13.4, o 9.9 -> 8.4, 135M o 6.1 -> 4.8; the 1B gate/up 30.0 -> 31.4. Whole int4
  // decode steps in the same run did not separate them (1B 4.49 vs 4.73 ms/token, spreads 0.4-0.5). int8 and
  // f16 kept the shape above (no candidate under 0.985x), f32 too (1.0x).
  int4Matvec: { workgroupSize: 128, threadsPerRow: 32, rowsPerThread: 4, minWorkgroups: GPU_MATVEC_MIN_WORKGROUPS, subgroups: true, exponentUnpack: true },
  // None measured yet: the lane-word and wider staged candidates never ran on the H200 (bench/h200/segments/matvec.sh
  // measures them and prints the entries its picks would add here).
  matvecPicks: [],
  argmaxWorkgroupSize: 256,
  gemmTile: DEFAULT_GEMM_TILE,
};

/**
 * CPU implementations of WebGPU run a workgroup's invocations as SIMD loops on a core, and each workgroupBarrier
 * splits those loops: a 256-thread matvec workgroup cost ~2.5 ms on SwiftShader (stories260K's lm_head, 128
 * workgroups: 316 ms; measured in Node on Dawn, 2026-12-02). A thread per row and 64-thread workgroups leave only
 * the norm's barriers.
 */
export const CPU_ADAPTER_VARIANT: DecodeKernelVariant = {
  name: 'cpu-adapter',
  matvec: { workgroupSize: 64, threadsPerRow: 1, rowsPerThread: 1, minWorkgroups: 0 },
  quantMatvec: { workgroupSize: 64, threadsPerRow: 1, rowsPerThread: 1, minWorkgroups: 0 },
  int4Matvec: { workgroupSize: 64, threadsPerRow: 1, rowsPerThread: 1, minWorkgroups: 0 },
  matvecPicks: [],
  argmaxWorkgroupSize: 64,
  gemmTile: DEFAULT_GEMM_TILE,
};

/** A matvec shape the sweep (bench/matvec-sweep.ts) times on real GPUs; each is tested on SwiftShader. */
export interface MatvecCandidate {
  /** threads x lanes a row x rows a thread, reduction, int unpacking: e.g. 256x32x4-subgroup-exponent. */
  name: string;
  shape: MatvecShape;
}

function candidate(workgroupSize: number, threadsPerRow: number, rowsPerThread: number, subgroups: boolean, exponentUnpack: boolean, stageInput = false, laneWords: 1 | 2 | 4 = 4): MatvecCandidate {
  const words = laneWords === 4 ? '' : `-w${laneWords}`;
  return {
    name: `${workgroupSize}x${threadsPerRow}x${rowsPerThread}-${subgroups ? 'subgroup' : 'tree'}${stageInput ? '-staged' : ''}${words}-${exponentUnpack ? 'exponent' : 'convert'}`,
    shape: { workgroupSize, threadsPerRow, rowsPerThread, minWorkgroups: GPU_MATVEC_MIN_WORKGROUPS, subgroups, exponentUnpack, stageInput, ...(laneWords === 4 ? {} : { laneWords }) },
  };
}

/**
 * The shapes the sweep weighs against today's GPU variant (the first): the exponent unpacking and the subgroup
 * reduction alone and together, then rows a thread (input reuse against registers), threads a workgroup and lanes
 * a row (workgroups per SM against loads in flight). f32/f16 ignore the unpacking (the sweep times them once).
 */
export const MATVEC_CANDIDATES: readonly MatvecCandidate[] = [
  candidate(256, 32, 4, false, false),
  candidate(256, 32, 4, false, true),
  candidate(256, 32, 4, true, false),
  candidate(256, 32, 4, true, true),
  candidate(256, 32, 2, true, true),
  candidate(256, 32, 8, true, true),
  candidate(128, 32, 4, true, true),
  candidate(64, 32, 4, true, true),
  candidate(256, 16, 4, true, true),
  candidate(256, 16, 8, true, true),
  candidate(128, 8, 8, true, true),
  // The H200 run of 2026-12-04 (run 1, bench/results/h200-2026-12-04-run1/matvec): the unpacking and the reduction
  // moved int4 by at most 10%; the lanes' input loads, a cache line each, are what bound it. Staged input:
  candidate(256, 32, 4, true, true, true),
  candidate(128, 32, 4, true, true, true),
  candidate(256, 32, 8, true, true, true),
  candidate(256, 16, 8, true, true, true),
  candidate(256, 32, 2, true, true, true),
  candidate(256, 32, 4, false, false, true),
  // Narrow lane slices (laneWords): lane l's input then lies 32 (1 word, int4) or 64 bytes from lane l+1's instead of
  // 128, so a warp-wide input load touches 8 or 16 lines instead of 32, at the price of 4- or 8-byte weight loads
  // (still whole 128-byte lines per row across the warp). With 8 rows a thread each input load serves twice the
  // weights. f16 reads 2 words at least (a 1-word candidate runs as 2); f32 whole units (it runs as its 4-word twin).
  candidate(256, 32, 4, true, true, false, 1),
  candidate(256, 32, 8, true, true, false, 1),
  candidate(128, 32, 8, true, true, false, 1),
  candidate(256, 32, 4, true, true, false, 2),
  candidate(256, 32, 8, true, true, false, 2),
  candidate(256, 16, 8, true, true, false, 2),
  candidate(256, 32, 8, true, true, true, 1),
  candidate(256, 32, 8, true, true, true, 2),
];

export function decodeVariantFor(adapter: AdapterFacts): DecodeKernelVariant {
  return isCpuAdapter(adapter) ? CPU_ADAPTER_VARIANT : GPU_VARIANT;
}

/**
 * The weight format of a load that names none: f16 on real GPUs, f32 on CPU adapters. f16 halves the bytes a decode
 * step reads, and decode on a GPU is bound by those reads once dispatches are few; it moves logits by ~1e-3 (the
 * golden bounds in engine/model/golden.test.ts). A CPU adapter gains little from fewer bytes, and keeping it on f32
 * keeps CI's golden e2e tests (transformers within 2e-3, stories260K's exact text) on the weights they were written
 * for; f16 is tested there explicitly. An explicit `quantization` always wins.
 */
export function defaultWeightFormat(adapter: AdapterFacts): QuantizationMode {
  return isCpuAdapter(adapter) ? 'f32' : 'f16';
}
