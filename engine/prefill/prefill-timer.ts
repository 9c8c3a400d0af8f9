// GPU timestamps of a prefill's passes, split into the matrix products and the attention per chunk (benches only).
//
// WgslPrefill.encodeChunk writes a timestamp at the beginning and end of each of its own compute passes (embedding,
// norms and GEMMs: the "products"; the last row's lm_head: the "head"). Each layer's attention (PagedAttention's
// append, flash attention, commit and whatever the policy adds) runs in passes of its own between two of them, so
// the gap from the end of the pass before a layer's attention to the beginning of the pass after it is that layer's
// attention time. Nothing of the attention module needs to know about the timer.

export interface PrefillChunkTimes {
  /** Embedding, norms and GEMMs of every layer. */
  productsMs: number;
  /** Every layer's attention passes (the gaps between the products' passes). */
  attentionMs: number;
  /** The last row's copy and lm_head (0 for a middle chunk). */
  headMs: number;
}

type PassKind = 'products' | 'head';

/** WebGPU's largest query set. */
const QUERY_SET_LIMIT = 4096;
/** Passes (timestamp pairs) in 256 bytes of resolved timestamps: resolveQuerySet's offset alignment. */
const PASS_ALIGN = 16;

/** Passes a PrefillTimer needs for `chunks` chunks of an L-layer model (L + 2 passes each, 256-byte aligned). */
export function prefillTimerPasses(chunks: number, numLayers: number): number {
  return chunks * Math.ceil((numLayers + 2) / PASS_ALIGN) * PASS_ALIGN;
}

export class PrefillTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;
  /** Per chunk encoded since reset: the kind of each pass and whether an attention layer ran just before it. */
  private readonly chunks: { first: number; passes: { kind: PassKind; afterAttention: boolean }[] }[] = [];
  private next = 0;

  /** `maxPasses`: timestamp pairs kept until read (prefillTimerPasses), at most 2048: later passes go untimed. */
  constructor(private readonly device: GPUDevice, readonly maxPasses: number) {
    if (!device.features.has('timestamp-query')) throw new Error('PrefillTimer needs the timestamp-query feature');
    const count = Math.min(QUERY_SET_LIMIT, 2 * maxPasses);
    this.querySet = device.createQuerySet({ label: 'prefill timer', type: 'timestamp', count });
    this.resolve = device.createBuffer({ label: 'prefill timer resolve', size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ label: 'prefill timer readback', size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Forgets the chunks timed so far (before a new prompt). */
  reset(): void {
    this.chunks.length = 0;
    this.next = 0;
  }

  /** Starts a chunk's record (WgslPrefill.encodeChunk). */
  beginChunk(): void {
    // resolveQuerySet writes at multiples of 256 bytes: a chunk's timestamps start at a multiple of 32.
    this.next = Math.ceil(this.next / PASS_ALIGN) * PASS_ALIGN;
    this.chunks.push({ first: this.next, passes: [] });
  }

  /** The timestampWrites of the chunk's next pass, or undefined once the query set is full (that pass goes untimed). */
  pass(kind: PassKind, afterAttention: boolean): GPUComputePassTimestampWrites | undefined {
    const chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || 2 * (this.next + 1) > this.querySet.count) return undefined;
    chunk.passes.push({ kind, afterAttention });
    const at = 2 * this.next++;
    return { querySet: this.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 };
  }

  /** Resolves the chunk's timestamps into the readback (at the end of its encoder). */
  endChunk(encoder: GPUCommandEncoder): void {
    const chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.passes.length === 0) return;
    const first = 2 * chunk.first;
    const count = 2 * chunk.passes.length;
    encoder.resolveQuerySet(this.querySet, first, count, this.resolve, first * 8);
    encoder.copyBufferToBuffer(this.resolve, first * 8, this.readback, first * 8, count * 8);
  }

  /** Per chunk since reset, after the prefill's last submit. */
  async read(): Promise<PrefillChunkTimes[]> {
    const used = 2 * this.next;
    if (used === 0) return [];
    await this.readback.mapAsync(GPUMapMode.READ, 0, used * 8);
    const stamps = new BigUint64Array(this.readback.getMappedRange(0, used * 8).slice(0));
    this.readback.unmap();
    const ms = (a: bigint, b: bigint) => (b > a ? Number(b - a) / 1e6 : 0);
    return this.chunks.map(({ first, passes }) => {
      const times: PrefillChunkTimes = { productsMs: 0, attentionMs: 0, headMs: 0 };
      passes.forEach((p, i) => {
        const begin = stamps[2 * (first + i)];
        const end = stamps[2 * (first + i) + 1];
        if (p.kind === 'head') times.headMs += ms(begin, end) + (i > 0 ? ms(stamps[2 * (first + i) - 1], begin) : 0);
        else times.productsMs += ms(begin, end);
        if (p.afterAttention && i > 0) times.attentionMs += ms(stamps[2 * (first + i) - 1], begin);
      });
      return times;
    });
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}
