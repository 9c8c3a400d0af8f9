// A seeded pseudo-random generator (mulberry32) so that the same seed gives the same samples on every run and platform.

/** Golden-ratio constant used to fold the high word of a 53-bit seed into 32 bits (Knuth's multiplicative hashing). */
const GOLDEN_RATIO_32 = 0x9e3779b9;
/** mulberry32's Weyl-sequence increment (Tommy Ettinger, 2017). */
const MULBERRY_INCREMENT = 0x6d2b79f5;
const TWO_POW_32 = 4294967296;

/** Uniform numbers in [0, 1) from a 32-bit state; integer math only, so identical in every JS engine. */
export class SeededRandom {
  private state: number;

  /** `seed`: any safe integer (OpenAI's `seed`); negative seeds are taken modulo 2^64 like an int64 would be. */
  constructor(seed: number) {
    const wide = BigInt.asUintN(64, BigInt(seed));
    const lo = Number(wide & 0xffffffffn);
    const hi = Number(wide >> 32n);
    this.state = (lo ^ Math.imul(hi, GOLDEN_RATIO_32)) >>> 0;
  }

  /** A seed for requests that give none: different on every call. */
  static randomSeed(): number {
    return Math.floor(Math.random() * TWO_POW_32);
  }

  next(): number {
    this.state = (this.state + MULBERRY_INCREMENT) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  }
}
