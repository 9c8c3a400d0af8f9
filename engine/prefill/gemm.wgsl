// Tiled matrix product of prefill: out[M][N] = X[M][K] . W[N][K]^T + bias (or out += ..., the residual add fused),
// W f32, f16 (HALF: packed pairs, engine/quant/f16.ts) or block-quantized in engine/quant's layout (codes
// [N][BLOCKS][BLOCK * BITS / 8] bytes, one f32 scale per block, or an f32 (scale, min) pair with HAS_MIN), widened or
// dequantized once per workgroup tile in workgroup memory; the tiles and the sums are f32 in every format.
//
// Binding layout (@group(0); every variant binds all 7, unused ones get a 16-byte placeholder):
//   0 x       storage read        [M][K] f32   the input rows (INPUT gated: the gate projection)
//   1 x2      storage read        [M][K] f32   the up projection (INPUT gated: the input is silu(x) * x2)
//   2 w       storage read        f32 [N][K] as u32 bits (QUANT and HALF false); f16 [N][K / 2] pairs (HALF: element
//                                 2i of a row in the low half of its word i, read with core WGSL's unpack2x16float,
//                                 so no shader-f16 is needed); or the codes (QUANT true): element j of a block is
//                                 bits [BITS*(j % (32/BITS)), +BITS) of u32 word j / (32/BITS)
//   3 scales  storage read        [N * BLOCKS] f32, or [N * BLOCKS][2] (scale, min) pairs with HAS_MIN (QUANT)
//   5 bias    storage read        [N] f32 (HAS_BIAS)
//   6 out     storage read_write  [M][N] f32 (ADD: the residual stream, added to in place)
//   7 dims    uniform             x: M, the rows of this product (a chunk's token count: the one runtime size)
//
// Tiles: a workgroup of 16 x 16 threads computes a BM x BN tile of out, each thread TM x TN of it (rows ty*TM ..,
// columns tx*TN ..) in registers, over K in steps of BK = 16; TM and TN are 4 or 8 (engine/prefill/gemm.ts GemmTile,
// picked per adapter: 8 x 4 is the 128 x 64 tile, 8 x 8 reads 16 products per workgroup-memory load instead of 10.7
// but gives a 512-row chunk of a 2048-wide product 64 workgroups). The X tile (BM x 16) and the W tile (BN x 16,
// dequantized) are staged transposed in workgroup memory (12.5 KiB at 128 x 64), so the inner loop reads a thread's
// rows as vec4s (the same for the 16 threads of a row: broadcast) and its columns as vec4s. Each thread stages 4
// consecutive k of a row (contiguous global reads); the tiles' rows are padded by 4 floats so those transposed
// stores spread over the banks (unpadded, the 4 k of a thread's stores hit one bank 4 ways, or 16 with one k per
// thread). BK = 16 divides every block size engine/quant allows (powers of two >= 16), so a W tile row lies in one
// block: one scale (and min) per row.
// Dispatch: (ceil(N / BN), ceil(M / BM)).

override K: u32;
override N: u32;
override QUANT: bool = false;
/** W is f16 pairs (K even). */
override HALF: bool = false;
override BITS: u32 = 4u;
override BLOCK: u32 = 32u;
override BLOCKS: u32 = 1u;
override HAS_MIN: bool = false;
override HAS_BIAS: bool = false;
/** The product is added to `out` (o_proj, down_proj: the residual add) instead of stored. */
override ADD: bool = false;
/** 0: the input is x; 1: silu(x) * x2 (down_proj over the SwiGLU). */
override INPUT: u32 = 0u;

/** Rows and columns of out per thread: 4 or 8 each. */
override TM: u32 = 8u;
override TN: u32 = 4u;
override BM: u32 = 16u * TM;
override BN: u32 = 16u * TN;
const BK: u32 = 16u;
const THREADS: u32 = 256u;
/** Padded tile rows (floats): BM + 4 and BN + 4, multiples of 4 so the vec4 reads stay aligned. */
override XS_STRIDE: u32 = BM + 4u;
override WS_STRIDE: u32 = BN + 4u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x2: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> dims: vec4<u32>;

// Transposed tiles: xs[kk][row], ws[kk][column] (ws as vec4: a thread's 4 columns in one load).
var<workgroup> xs: array<vec4<f32>, BK * XS_STRIDE / 4u>;
var<workgroup> ws: array<vec4<f32>, BK * WS_STRIDE / 4u>;

//#include block-quant

fn inputAt(row: u32, k: u32, m: u32) -> f32 {
  if (row >= m || k >= K) {
    return 0.0;
  }
  let i = row * K + k;
  if (INPUT == 1u) {
    let g = x[i];
    return g / (1.0 + exp(-g)) * x2[i];
  }
  return x[i];
}

fn setXs(kk: u32, r: u32, v: f32) {
  xs[(kk * XS_STRIDE + r) / 4u][r % 4u] = v;
}

fn setWs(kk: u32, c: u32, v: f32) {
  ws[(kk * WS_STRIDE + c) / 4u][c % 4u] = v;
}

// Stages W rows col0 .. col0 + BN, columns k0 .. k0 + BK (dequantized) into ws.
fn loadW(lid: u32, col0: u32, k0: u32) {
  if (HALF || !QUANT) {
    // BN rows x 4 quads of k: BN / 64 quads per thread (f16: two pairs each; K is even, so a pair never straddles K).
    for (var idx = lid; idx < BN * 4u; idx += THREADS) {
      let c = idx / 4u;
      let kq = (idx % 4u) * 4u;
      let n = col0 + c;
      if (HALF) {
        for (var j = 0u; j < 4u; j += 2u) {
          let k = k0 + kq + j;
          var v = vec2<f32>(0.0);
          if (n < N && k < K) {
            v = unpack2x16float(w[(n * K + k) / 2u]);
          }
          setWs(kq + j, c, v.x);
          setWs(kq + j + 1u, c, v.y);
        }
      } else {
        for (var j = 0u; j < 4u; j++) {
          let k = k0 + kq + j;
          var v = 0.0;
          if (n < N && k < K) {
            v = bitcast<f32>(w[n * K + k]);
          }
          setWs(kq + j, c, v);
        }
      }
    }
    return;
  }
  // One u32 code word at a time: 8 int4 or 4 int8 weights of one row.
  let perWord = 32u / BITS;
  let wordsPerTileRow = BK / perWord;
  let mask = (1u << BITS) - 1u;
  for (var idx = lid; idx < BN * wordsPerTileRow; idx += THREADS) {
    let c = idx / wordsPerTileRow;
    let h = idx % wordsPerTileRow;
    let n = col0 + c;
    if (n >= N) {
      for (var j = 0u; j < perWord; j++) {
        setWs(h * perWord + j, c, 0.0);
      }
      continue;
    }
    let b = k0 / BLOCK;
    let word = w[(n * BLOCKS * BLOCK + k0) / perWord + h];
    let a = blockAffine(n * BLOCKS + b);
    for (var j = 0u; j < perWord; j++) {
      setWs(h * perWord + j, c, blockWeight((word >> (BITS * j)) & mask, a));
    }
  }
}

@compute @workgroup_size(16, 16)
fn gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = dims.x;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let tx = local.x;
  let ty = local.y;
  // acc[i]: row i, columns 0..3 of the thread's; acc[8 + i]: columns 4..7 (TN 8).
  var acc: array<vec4<f32>, 16>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    // BM rows x 4 quads of k: BM / 64 quads per thread.
    for (var i = 0u; i < BM * BK / (4u * THREADS); i++) {
      let idx = lid + i * THREADS;
      let r = idx / 4u;
      let kq = (idx % 4u) * 4u;
      for (var j = 0u; j < 4u; j++) {
        setXs(kq + j, r, inputAt(row0 + r, k0 + kq + j, m));
      }
    }
    loadW(lid, col0, k0);
    workgroupBarrier();
    // TM and TN are overrides: the branches fold away and every index stays constant.
    for (var kk = 0u; kk < BK; kk++) {
      let wRow = (kk * WS_STRIDE) / 4u + tx * (TN / 4u);
      let xRow = (kk * XS_STRIDE) / 4u + ty * (TM / 4u);
      let b0 = ws[wRow];
      let a0 = xs[xRow];
      // Read once, used by both row groups (TN 8); folded away at TN 4.
      var b1 = vec4<f32>(0.0);
      if (TN == 8u) {
        b1 = ws[wRow + 1u];
      }
      acc[0] += a0.x * b0;
      acc[1] += a0.y * b0;
      acc[2] += a0.z * b0;
      acc[3] += a0.w * b0;
      if (TN == 8u) {
        acc[8] += a0.x * b1;
        acc[9] += a0.y * b1;
        acc[10] += a0.z * b1;
        acc[11] += a0.w * b1;
      }
      if (TM == 8u) {
        let a1 = xs[xRow + 1u];
        acc[4] += a1.x * b0;
        acc[5] += a1.y * b0;
        acc[6] += a1.z * b0;
        acc[7] += a1.w * b0;
        if (TN == 8u) {
          acc[12] += a1.x * b1;
          acc[13] += a1.y * b1;
          acc[14] += a1.z * b1;
          acc[15] += a1.w * b1;
        }
      }
    }
    workgroupBarrier();
  }
  // Constant indices only: a dynamically indexed `acc` would live in local memory instead of registers.
  let r0 = row0 + ty * TM;
  let c0 = col0 + tx * TN;
  storeRow(r0, c0, acc[0], m);
  storeRow(r0 + 1u, c0, acc[1], m);
  storeRow(r0 + 2u, c0, acc[2], m);
  storeRow(r0 + 3u, c0, acc[3], m);
  if (TM == 8u) {
    storeRow(r0 + 4u, c0, acc[4], m);
    storeRow(r0 + 5u, c0, acc[5], m);
    storeRow(r0 + 6u, c0, acc[6], m);
    storeRow(r0 + 7u, c0, acc[7], m);
  }
  if (TN == 8u) {
    storeRow(r0, c0 + 4u, acc[8], m);
    storeRow(r0 + 1u, c0 + 4u, acc[9], m);
    storeRow(r0 + 2u, c0 + 4u, acc[10], m);
    storeRow(r0 + 3u, c0 + 4u, acc[11], m);
    if (TM == 8u) {
      storeRow(r0 + 4u, c0 + 4u, acc[12], m);
      storeRow(r0 + 5u, c0 + 4u, acc[13], m);
      storeRow(r0 + 6u, c0 + 4u, acc[14], m);
      storeRow(r0 + 7u, c0 + 4u, acc[15], m);
    }
  }
}

// out[r][c0 .. c0 + 4) (=|+=) v + bias, inside the product's M x N.
fn storeRow(r: u32, c0: u32, v: vec4<f32>, m: u32) {
  if (r >= m) {
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c < N) {
      var y = v[j];
      if (HAS_BIAS) {
        y += bias[c];
      }
      if (ADD) {
        y += out[r * N + c];
      }
      out[r * N + c] = y;
    }
  }
}

// Row RMSNorm of the residual stream: out[r] = norm * (x[r] / sqrt(mean(x[r]^2) + EPS)) for each
// row r (as transformers' LlamaRMSNorm). Same bindings as gemm: x (0), norm weight as `bias` (5),
// out (6). Dispatch: one workgroup per row.
override EPS: f32 = 1e-6;
const NORM_WG: u32 = 256u;
var<workgroup> partial: array<f32, NORM_WG>;

@compute @workgroup_size(256)
fn rmsNorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x;
  let base = r * K;
  var s = 0.0;
  for (var i = lid; i < K; i += NORM_WG) {
    s += x[base + i] * x[base + i];
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = NORM_WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(partial[0] / f32(K) + EPS);
  for (var i = lid; i < K; i += NORM_WG) {
    out[base + i] = bias[i] * (x[base + i] * scale);
  }
}
