// The report's shape, the statistics it is made of, and the check that it has every field issue 17 lists.

export interface Sampled { median: number; samples: number[] }
export interface EngineError { stage: string; message: string }

export interface EngineCell {
  engine: string;
  /** How this engine runs the cell's format (its own weight / activation / KV formats). */
  config: string;
  versions: Record<string, string>;
  /** Null where the engine could not run the cell: `errors` says why. */
  load: { coldMs: number; cachedMs: number | null; coldToFirstTokenMs: number; cachedToFirstTokenMs: number | null } | null;
  fairness: { prompt: number[]; ids: number[]; reference: number[]; referenceBy: string; pass: boolean } | null;
  /** By context length: decode tokens/s (first token excluded: prefill and warm-up are not decode). */
  decodeTokensPerS: Record<string, Sampled>;
  /** By prompt length: ms from the call to the first token. */
  ttftMs: Record<string, Sampled>;
  chat: { turns: number; turnMs: number[]; totalMs: number; cachedTokens: (number | null)[]; reprefills: boolean } | null;
  peakGpuBytes: number;
  peakJsBytesDuringLoad: number;
  /**
   * By context: the time the bytes a decode step reads (weight bytes + KV bytes per token x context) take at the
   * measured read bandwidth (Report.readBandwidthBytesPerS), over the measured time per token, in % (rooflinePercent()).
   */
  rooflinePercent: Record<string, number>;
  weightBytesPerToken: number;
  kvBytesPerToken: number;
  /** The cold load's stages as the engine reported them, with ms from the load's start (absent before 2026-12-04). */
  loadStages?: { stage: string; atMs: number }[];
  /** The cold load's shader modules and pipelines, and the ms spent making them (absent before 2026-12-04). */
  loadCompile?: { modules: number; pipelines: number; asyncPipelines: number; ms: number; asyncWallMs: number };
  errors: EngineError[];
}

export interface Cell {
  model: string;
  format: string;
  /** Interleaved rounds run (the workload's reps, fewer where the cell's share of a time budget ran out). */
  rounds: number;
  /** Op histogram of the ONNX export this cell's Transformers.js loads. */
  exportOps: Record<string, number>;
  exportBytes: number;
  engines: EngineCell[];
  /** Other engine / Sieve, per metric: tokens/s ratios (> 1: faster than Sieve), ms ratios (< 1: faster than Sieve). */
  /** Present (true) in a cell the run was cut off in: what it measured before its time ran out. */
  partial?: boolean;
  /**
   * The run this cell was measured in, where publish.ts merged cells of several runs (issue 17: cells may come from
   * different sessions): its report file, date, adapter, package versions and the read bandwidth of its roofline.
   */
  from?: { results: string; date: string; adapter: string; versions: Record<string, string>; readBandwidthBytesPerS?: number };
  ratiosToSieve: Record<string, { decodeTokensPerS: Record<string, number>; ttftMs: Record<string, number>; loadColdMs: number | null; loadCachedMs: number | null; chatTotalMs: number | null }>;
}

export interface Report {
  schema: 'sieve-compare/1';
  date: string;
  gpuFiguresFrom: string;
  adapter: Record<string, string>;
  /** The flags every engine's Dawn instance was created with (dawn.ts DAWN_FLAGS); absent in reports before 2026-12-04. */
  dawnFlags?: string[];
  /**
   * Copy bandwidth: bytes read + written per second by copyBufferToBuffer (dawn.ts measureBandwidth). Kept for what
   * it says about copies; it is not the roofline's denominator (a copy moves each byte twice and ran at ~1/5 of the
   * read rate on the H200, so it put Sieve's 1B f16 decode at 103% "of roofline").
   */
  bandwidthBytesPerS: number;
  /**
   * Read bandwidth: bytes per second a WGSL kernel streams from one large buffer (bench/read-bandwidth.wgsl, dawn.ts
   * measureReadBandwidth), the denominator of rooflinePercent. Absent in reports before 2026-12-05: publish.ts then
   * takes the same run's figure (`rooflineBandwidth` says from where).
   */
  readBandwidthBytesPerS?: number;
  /** Where readBandwidthBytesPerS came from (this run's probe, or publish.ts's source for an older report). */
  rooflineBandwidth?: string;
  node: string;
  platform: string;
  versions: Record<string, string>;
  workload: Record<string, unknown>;
  cells: Cell[];
  /** Engines or configurations that could not run at all, with why. */
  notRun: { engine: string; model: string; format: string; reason: string }[];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function sampled(samples: number[]): Sampled {
  return { median: median(samples), samples };
}

/**
 * Issue 17's "% of roofline": (weight bytes + KV bytes per token x context) / read bandwidth (the least time a decode
 * step can take, reading each byte once) over the measured time per token (1 / tokens per second), in %. Undefined
 * where an input is missing (no bandwidth, no weight bytes, no decode figure).
 */
export function rooflinePercent(weightBytes: number, kvBytesPerToken: number, context: number, tokensPerS: number, readBytesPerS: number): number | undefined {
  if (!(readBytesPerS > 0) || !(weightBytes > 0) || !(tokensPerS > 0)) return undefined;
  const idealS = (weightBytes + kvBytesPerToken * context) / readBytesPerS;
  return 100 * idealS * tokensPerS;
}

/** Every engine's rooflinePercent in every cell, again, from its decode medians and the given read bandwidth. */
export function withRoofline(r: Report, readBytesPerS: number, from: string): Report {
  const cells = r.cells.map((c) => ({
    ...c,
    engines: c.engines.map((e) => {
      const roof: Record<string, number> = {};
      for (const [k, v] of Object.entries(e.decodeTokensPerS)) {
        const p = rooflinePercent(e.weightBytesPerToken, e.kvBytesPerToken, Number(k), v.median, readBytesPerS);
        if (p !== undefined) roof[k] = p;
      }
      return { ...e, rooflinePercent: roof };
    }),
  }));
  return { ...r, cells, readBandwidthBytesPerS: readBytesPerS, rooflineBandwidth: from };
}

/** Ratios of every engine to Sieve in one cell. */
export function ratiosToSieve(engines: EngineCell[]): Cell['ratiosToSieve'] {
  const sieve = engines.find((e) => e.engine === 'sieve');
  const out: Cell['ratiosToSieve'] = {};
  if (!sieve) return out;
  const div = (a: number | null | undefined, b: number | null | undefined) => (typeof a === 'number' && typeof b === 'number' && b > 0 && Number.isFinite(a) ? a / b : null);
  for (const e of engines) {
    if (e === sieve) continue;
    const decode: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.decodeTokensPerS)) { const r = div(v.median, sieve.decodeTokensPerS[k]?.median); if (r !== null) decode[k] = r; }
    const ttft: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.ttftMs)) { const r = div(v.median, sieve.ttftMs[k]?.median); if (r !== null) ttft[k] = r; }
    out[e.engine] = {
      decodeTokensPerS: decode, ttftMs: ttft, loadColdMs: div(e.load?.coldToFirstTokenMs, sieve.load?.coldToFirstTokenMs),
      loadCachedMs: div(e.load?.cachedToFirstTokenMs, sieve.load?.cachedToFirstTokenMs), chatTotalMs: div(e.chat?.totalMs, sieve.chat?.totalMs),
    };
  }
  return out;
}

const REPORT_FIELDS = ['schema', 'date', 'gpuFiguresFrom', 'adapter', 'bandwidthBytesPerS', 'node', 'platform', 'versions', 'workload', 'cells', 'notRun'];
const CELL_FIELDS = ['model', 'format', 'rounds', 'exportOps', 'exportBytes', 'engines', 'ratiosToSieve'];
const ENGINE_FIELDS = [
  'engine', 'config', 'versions', 'load', 'fairness', 'decodeTokensPerS', 'ttftMs', 'chat', 'peakGpuBytes', 'peakJsBytesDuringLoad',
  'rooflinePercent', 'weightBytesPerToken', 'kvBytesPerToken', 'errors',
];

/** Names of the fields issue 17 asks for that the report lacks (empty when complete). */
export function missingFields(r: Report): string[] {
  const missing: string[] = [];
  const need = (o: object, keys: string[], where: string) => { for (const k of keys) if (!(k in o) || (o as Record<string, unknown>)[k] === undefined) missing.push(`${where}.${k}`); };
  need(r, REPORT_FIELDS, 'report');
  for (const [i, c] of (r.cells ?? []).entries()) {
    need(c, CELL_FIELDS, `cells[${i}]`);
    for (const e of c.engines ?? []) {
      need(e, ENGINE_FIELDS, `cells[${i}].${e.engine}`);
      if (e.load) need(e.load, ['coldMs', 'cachedMs', 'coldToFirstTokenMs', 'cachedToFirstTokenMs'], `cells[${i}].${e.engine}.load`);
      if (e.chat) need(e.chat, ['turns', 'turnMs', 'totalMs', 'cachedTokens', 'reprefills'], `cells[${i}].${e.engine}.chat`);
    }
  }
  return missing;
}
