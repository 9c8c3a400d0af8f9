// Seeded randomness. Sampling: counter-based noise, the uniform of token i at generation step n of a request a hash
// of (seed, n, i), so the CPU sampler and the GPU sampler kernel (engine/decode/sampler.wgsl, which repeats these
// lines in u32 math) draw the same numbers in any order, and a step's noise needs no state from the steps before it.
// Seeded sequences for everything else (engine/eval's tasks): SeededRandom (mulberry32).

/** Golden-ratio constant used to fold the high word of a 53-bit seed into 32 bits (Knuth's multiplicative hashing). */
const GOLDEN_RATIO_32 = 0x9e3779b9;
const TWO_POW_32 = 4294967296;
/** mulberry32's Weyl-sequence increment (Tommy Ettinger, 2017). */
const MULBERRY_INCREMENT = 0x6d2b79f5;
const TWO_POW_24 = 16777216;
/** Largest Gumbel noise a 24-bit uniform can give: -ln(-ln(1 - 2^-25)) = 17.33 (bound used to skip hopeless tokens). */
export const GUMBEL_MAX = 17.34;

/** A request's seed as the two 32-bit words the kernel takes. */
export interface SamplingSeed {
  readonly lo: number;
  readonly hi: number;
}

/** `seed`: any safe integer (OpenAI's `seed`); negative seeds are taken modulo 2^64 like an int64 would be. */
export function samplingSeed(seed: number): SamplingSeed {
  const wide = BigInt.asUintN(64, BigInt(seed));
  return { lo: Number(wide & 0xffffffffn), hi: Number(wide >> 32n) };
}

/** A seed for requests that give none: different on every call. */
export function randomSeed(): number {
  return Math.floor(Math.random() * TWO_POW_32);
}

/** PCG's output hash of a 32-bit word (Jarzynski and Olano, "Hash Functions for GPU Rendering", JCGT 2020). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> (((state >>> 28) + 4) & 31)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The per-request key (seed words mixed once). */
export function seedKey(seed: SamplingSeed): number {
  return pcgHash((seed.lo ^ pcgHash(seed.hi ^ GOLDEN_RATIO_32)) >>> 0);
}

/** The per-step key: the step enters after a nonlinear stage, so two steps' streams are not permutations of each other. */
export function stepKey(key: number, step: number): number {
  return pcgHash((step ^ pcgHash(key)) >>> 0);
}

/** The uniform of token `index` under a step key: 24 random bits, centred, so it lies in (0, 1) and is exact in f32. */
export function noiseUniform(key: number, stepKeyValue: number, index: number): number {
  const h = pcgHash((pcgHash((index ^ key) >>> 0) ^ stepKeyValue) >>> 0);
  return ((h >>> 8) + 0.5) / TWO_POW_24;
}

/** Gumbel noise -ln(-ln(u)) of token `index`, rounded to f32 as the kernel holds it. */
export function gumbelNoise(key: number, stepKeyValue: number, index: number): number {
  return Math.fround(-Math.log(-Math.log(noiseUniform(key, stepKeyValue, index))));
}

/** Uniform numbers in [0, 1) from a 32-bit state (mulberry32); integer math only, so identical in every JS engine. */
export class SeededRandom {
  private state: number;

  /** `seed`: any safe integer; negative seeds are taken modulo 2^64 like an int64 would be. */
  constructor(seed: number) {
    const { lo, hi } = samplingSeed(seed);
    this.state = (lo ^ Math.imul(hi, GOLDEN_RATIO_32)) >>> 0;
  }

  next(): number {
    this.state = (this.state + MULBERRY_INCREMENT) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  }
}
