// Numbers of the paged attention kernels; each must match the constant of the same name in its .wgsl file.

/** Threads per workgroup of every kernel: a multiple of 32 (NVIDIA warps) and 64 (AMD wavefronts). */
export const WORKGROUP_SIZE = 64;

/** Slots per chunk of the decode kernels (CHUNK in decode-attention.wgsl and its siblings; engine/wgsl decode-chunk). */
export const DECODE_CHUNK = 64;

/**
 * Threads per workgroup of the decode attention kernels (WG there), per decode-chunk variant (engine/wgsl): 'lanes'
 * (GPUs) runs DECODE_CHUNK slots times staged-dot's 4 lanes per key, so every phase of a chunk keeps all threads busy
 * with a few independent loads each (the one-slot-per-thread kernel of the H200 run of 2026-12-04 walked 64 slots
 * serially per thread and read KV at 2-5% of bandwidth); 256 is WebGPU's default maxComputeInvocationsPerWorkgroup.
 * 'serial' (CPU adapters) keeps one slot per thread: on SwiftShader (Dawn, 2-core CI machine) 300 dense decode steps
 * of the tiny test model cost 3.0 s of CPU with it against 7.9 s with 'lanes' (one workgroup per KV head), and 3.8 s
 * against 16.1 s (splits).
 */
export const DECODE_WORKGROUP_SIZE = { lanes: 256, serial: DECODE_CHUNK } as const;

/** Most query heads per KV head of the decode kernels (MAX_GROUP of engine/wgsl decode-chunk: register accumulators). */
export const DECODE_MAX_GROUP = 16;

/**
 * Cached slots up to which a dense decode step's attention is one workgroup per KV head walking every chunk
 * (decode-step-attention.wgsl's attend: 1 dispatch, merge and commit inside) rather than a split across workgroups
 * and a merge dispatch. 4 chunks: past that, one workgroup's serial walk costs more than the second dispatch's
 * launch (an estimate; bench/wgsl-decode-shapes.ts reports the step at both sides of it).
 */
export const DECODE_ONE_WORKGROUP_SLOTS = 256;

/**
 * Splits per KV head a dense decode step keeps at most (TARGET_SPLITS of engine/wgsl decode-chunk): past this many
 * chunks a split walks several, merging online. The H200 run of 2026-12-04 spent most of a long step merging one
 * 64-slot split per chunk (2,048 of them per head at 128K, 86 GB/s of KV); 256 per head still gives the 1B shape's 8
 * KV heads 2,048 workgroups (16 warps per SM of a 132-SM GPU) and keeps the merge's walk short. An estimate, not tuned.
 */
export const DECODE_TARGET_SPLITS = 256;

/** Largest head dim: prefill-attention.wgsl's output registers hold 4 chunks of 4 * 16 dims. */
export const MAX_HEAD_DIM = 256;

/**
 * A prefill attention tiling (prefill-attention.wgsl's CT and RT): a workgroup of keyGroups x rowGroups threads takes
 * 4 * rowGroups query rows and 4 * keyGroups keys per tile, each thread a 4 x 4 register tile of scores and 4 rows x 4
 * dims of the output per 4 * keyGroups-wide chunk of the head dim.
 */
export interface PrefillTile {
  keyGroups: 4 | 8 | 16;
  rowGroups: number;
}

/**
 * The tilings in order of preference: the engine takes the first whose workgroup memory and threads the device
 * allows (prefillTiling). 16 x 8 first: 128 threads, 32 rows x 64 keys (35 KB at head dim 64, within the H200's
 * 48 KB; 16 x 16 would need 53 KB); 8 x 16 (64 rows x 32 keys) reads each K/V tile for twice the rows. Neither has
 * run on the H200 yet: bench/node-prefill.ts measures them all (--attention-tiles) and keeps the first until a figure
 * picks another.
 */
export const PREFILL_TILE_CANDIDATES: readonly PrefillTile[] = [
  { keyGroups: 16, rowGroups: 8 },
  { keyGroups: 8, rowGroups: 16 },
  { keyGroups: 16, rowGroups: 4 },
  { keyGroups: 8, rowGroups: 8 },
  { keyGroups: 16, rowGroups: 2 },
  { keyGroups: 8, rowGroups: 4 },
  { keyGroups: 4, rowGroups: 8 },
  { keyGroups: 4, rowGroups: 4 },
  { keyGroups: 4, rowGroups: 1 },
];

/**
 * Split-K of prefill attention (PagedAttentionOptions.prefillSplitRule). A prefill grid of ceil(n * group / rows) x KV
 * heads workgroups is small for a model with few KV heads (SmolLM2-135M, chunk 512: 48 x 3 workgroups of 32 rows for
 * the H200's 132 SMs), and each walks the whole context. Target: about 6 resident 35 KB workgroups on each of a
 * 132-SM GPU's SMs (228 KB of shared memory each), rounded up; an estimate, measured by bench/node-prefill.ts
 * (wgsl-nosplit beside wgsl).
 */
export const PREFILL_SPLIT_TARGET_WORKGROUPS = 1024;

/** Key tiles a split-K run keeps at least (4 tiles of up to 64 slots): below that its partial costs more than it saves. */
export const PREFILL_MIN_TILES_PER_SPLIT = 4;

/** Most split-K runs per prefill step. */
export const PREFILL_MAX_SPLITS = 32;

/** The split-K partials buffer's size cap (it holds [chunk][heads][splits][head dim + 2] f32). */
export const PREFILL_SPLIT_PARTIALS_BYTES = 32 * 1024 * 1024;

/** Stride of the per-layer uniforms: WebGPU's default minUniformBufferOffsetAlignment. */
export const LAYER_UNIFORM_STRIDE = 256;

/** Bytes of the step header (seq slot, start position, n, padding) before the RoPE table. */
export const STEP_HEADER_BYTES = 16;

/**
 * Prompt tokens per prefill chunk by default: the GPU path and the CPU references run a longer prompt in chunks of
 * this many (an evicting policy evicts between chunks), so both must chunk alike. Bounds the chunk's activations.
 */
export const DEFAULT_PREFILL_CHUNK = 512;
