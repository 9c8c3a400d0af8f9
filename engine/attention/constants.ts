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

/** Largest head dim: the prefill kernel's threads per query row (D / PREFILL_CHANNELS_PER_THREAD) fit a workgroup. */
export const MAX_HEAD_DIM = 256;

/** Head-dim channels of a query row per prefill thread (CHANNELS = 4 * VECS in prefill-attention.wgsl). */
export const PREFILL_CHANNELS_PER_THREAD = 16;

/** Most slots per prefill key tile (MAX_TILE_KEYS): bounds the per-thread score array. */
export const PREFILL_MAX_TILE_KEYS = 32;

/**
 * Split-K of prefill attention (PagedAttentionOptions.prefillSplitRule). A prefill grid of ceil(n * group / rows) x KV
 * heads workgroups is small for a model with few KV heads (SmolLM2-135M, chunk 512: 288 workgroups of 64 threads for
 * the H200's 132 SMs), and each walks the whole context: at 8K tokens the H200 ran such a prefill several times slower
 * per FLOP than the 1B shape's 1,024-workgroup grid (docs/prefill.md). Target: 16 workgroups of 64 threads per SM of
 * a 132-SM GPU (its 2,048 resident threads per SM); not yet tuned by measurement (bench/node-prefill.ts measures it).
 */
export const PREFILL_SPLIT_TARGET_WORKGROUPS = 2048;

/** Key tiles a split-K run keeps at least (8 tiles of up to 32 slots): below that its partial costs more than it saves. */
export const PREFILL_MIN_TILES_PER_SPLIT = 8;

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
