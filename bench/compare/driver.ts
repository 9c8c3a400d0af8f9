// The yardstick's driver: one process that serves the model folders over local HTTP and drives each engine in its
// own child process (child.ts: own JS heap, own Dawn device) through the same workload, cells interleaved A B A B.
//   node --import tsx bench/compare/driver.ts --models DIR[,DIR] --out report.json [--svg chart.svg] ...
// (bundled for the GPU machine by build.mjs: node .carry/yardstick/driver.mjs ...). The root README ("Sieve beside Transformers.js and WebLLM") says what is measured.
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExportInfo, GenerateResult, LoadResult, ModelRef, Request, RequestBody, Response, StageMessage, Stats } from './protocol.ts';
import { missingFields, ratiosToSieve, rooflinePercent, sampled, type Cell, type EngineCell, type Report } from './report.ts';
import { packageVersions } from './versions.ts';
import { drawChart } from './chart.ts';

export interface DriverOptions {
  models: string[];
  formats: ModelRef['format'][];
  engines: string[];
  contexts: number[];
  prompts: number[];
  reps: number;
  /**
   * Rounds a cell runs even past its share of the time (default 1): a median needs 3. The run's own deadline still
   * stops a cell (a round is not started past it).
   */
  minRounds?: number;
  decodeTokens: number;
  chatTurns: number;
  chatUserTokens: number;
  chatReplyTokens: number;
  /** The formats whose cells run the chat (default all): a run short of time runs it where it says the most. */
  chatFormats?: ModelRef['format'][];
  goldenTokens: number;
  bandwidthBytes: number;
  requestTimeoutMs: number;
  /**
   * Whether to time a second load in the same process (default true). In Node both loads read the files from the OS
   * cache over localhost, so the second differs from the first only by what an engine keeps in its process.
   */
  cachedLoad?: boolean;
  /**
   * A folder for each engine process's whole stdout and stderr (`<engine>.log`, every process of that engine one
   * after another, each under a header naming its cell; capped per file), so one run is enough to diagnose a failure.
   */
  logDir?: string;
  /** Epoch ms by which the whole run must end: each cell gets an even share of what is left, and stops its rounds
   * (at least one) when the next one would pass its share; a cell that starts past the deadline is not run. */
  deadlineMs?: number;
  log?: (line: string) => void;
  /**
   * Called with the report after every cell, and after each engine's load and each round with the running cell as
   * far as it got (`partial: true`): a run cut off by its time limit keeps what it measured.
   */
  onCell?: (report: Report) => void;
}

/** Seeded prompt ids: the same for every engine; a different first id per (length, seed) so no cache reuse sneaks in. */
export function promptIds(length: number, seed: number, vocab: number): number[] {
  let s = (length * 7919 + seed * 104729 + 1) >>> 0 || 1;
  const ids: number[] = [];
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    ids.push(3 + (s % (vocab - 3)));
  }
  return ids;
}

/** Extra node flags for the engines' processes (--child-node-args, e.g. '--cpu-prof --cpu-prof-dir=DIR' to profile a load). */
let childNodeArgs: string[] = [];

/** Bytes of one engine's log file (stdout and stderr of its processes) kept whole; past it, only each process's tail. */
const LOG_FILE_BYTES = 150_000;

class EngineProcess {
  private next = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private output = '';
  private exited: Error | null = null;
  /** The last load stage the child reported (StageMessage): where a load that killed the process got to. */
  stage = '';
  readonly ready: Promise<void>;

  private constructor(readonly name: string, private child: ChildProcess, private timeoutMs: number, private logFile: string | null) {
    // stdout too: WebLLM's runtime logs its failures ("Failed to load shard ...") through console.log.
    const take = (d: Buffer) => {
      const text = d.toString();
      this.output = (this.output + text).slice(-8000);
      if (this.logFile && (!existsSync(this.logFile) || statSync(this.logFile).size < LOG_FILE_BYTES)) appendFileSync(this.logFile, text);
    };
    child.stderr?.on('data', take);
    child.stdout?.on('data', take);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
    child.on('message', (m: Response | StageMessage) => {
      if ('stage' in m) { this.stage = m.stage; return; }
      if (m.id === 0) { readyResolve(); return; }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(`${m.error.name}: ${m.error.message}${m.error.code ? ` (${m.error.code})` : ''}`), { detail: m.error }));
    });
    child.on('exit', (code, signal) => {
      const tail = this.output.trim().split('\n').slice(-8).join(' | ');
      this.exited = new Error(`${name} process exited (code ${code}, signal ${signal})${this.stage ? ` at load stage "${this.stage}"` : ''}; its last output: ${tail}`);
      if (this.logFile) {
        if (statSync(this.logFile).size >= LOG_FILE_BYTES) appendFileSync(this.logFile, `\n[... cut at ${LOG_FILE_BYTES} bytes; the last 8000 characters:]\n${this.output}`);
        appendFileSync(this.logFile, `\n[exit: code ${code}, signal ${signal}]\n`);
      }
      readyReject(this.exited);
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(this.exited); }
      this.pending.clear();
    });
  }

  static start(name: string, timeoutMs: number, logDir?: string, header = ''): EngineProcess {
    const here = fileURLToPath(import.meta.url);
    const bundled = here.endsWith('.mjs');
    const entry = join(dirname(here), bundled ? 'child.mjs' : 'child.ts');
    const child = fork(entry, [name], {
      execArgv: [...(bundled ? ['--expose-gc'] : ['--import', 'tsx', '--expose-gc']), ...childNodeArgs],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let logFile: string | null = null;
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      logFile = join(logDir, `${name}.log`);
      appendFileSync(logFile, `\n===== ${name} ${header} (pid ${child.pid}, ${new Date().toISOString()})\n`);
    }
    return new EngineProcess(name, child, timeoutMs, logFile);
  }

  call<T>(req: RequestBody): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${req.cmd} took over ${this.timeoutMs} ms (killed)`));
        this.kill();
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolvePromise as (v: unknown) => void, reject, timer });
      this.child.send({ ...req, id } as Request);
    });
  }

  get alive(): boolean { return this.exited === null; }

  kill(): void {
    if (this.exited === null) this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    await this.call({ cmd: 'exit' }).catch(() => undefined);
    // Its own exit (what it writes on exit, a --cpu-prof profile, gets written), killed if it takes over 3 s.
    await new Promise((r) => { const t = setTimeout(r, 3000); this.child.once('exit', () => { clearTimeout(t); r(null); }); });
    this.kill();
  }
}

function serve(root: string): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const path = resolve(root, '.' + decodeURIComponent((req.url ?? '/').split('?')[0]));
    if (!path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) { res.statusCode = 404; res.end(); return; }
    res.setHeader('content-length', statSync(path).size);
    createReadStream(path).pipe(res);
  });
  // Node closes an idle keep-alive socket after 5 s, and a client (undici, WebLLM's four parallel shard downloads)
  // that reuses one just then fails with "other side closed" (seen here, SwiftShader, Qwen's 2 GB of q0f32 shards):
  // the engines' requests are ours alone, so sockets stay open and no request times out.
  server.keepAliveTimeout = 600_000;
  server.requestTimeout = 0;
  server.headersTimeout = 600_000;
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

function newEngineCell(engine: string): EngineCell {
  return {
    engine, config: '', versions: {}, load: null, fairness: null, decodeTokensPerS: {}, ttftMs: {}, chat: null, peakGpuBytes: 0,
    peakJsBytesDuringLoad: 0, rooflinePercent: {}, weightBytesPerToken: 0, kvBytesPerToken: 0, loadStages: [], errors: [],
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runComparison(o: DriverOptions): Promise<Report> {
  const log = o.log ?? ((l: string) => console.log(l));
  const roots = new Set(o.models.map((m) => dirname(resolve(m))));
  if (roots.size !== 1) throw new Error('all --models folders must be in one parent folder (the HTTP server serves it)');
  const { server, base } = await serve([...roots][0]);
  const report: Report = {
    schema: 'sieve-compare/1', date: new Date().toISOString(),
    gpuFiguresFrom: 'Dawn (the `webgpu` package, the WebGPU implementation Chrome ships) in Node, one process per engine; not a browser',
    adapter: {}, bandwidthBytesPerS: 0, node: process.version, platform: `${process.platform} ${process.arch}`, versions: packageVersions(),
    workload: {
      contexts: o.contexts, prompts: o.prompts, reps: o.reps, decodeTokens: o.decodeTokens, chatTurns: o.chatTurns, chatUserTokens: o.chatUserTokens,
      chatReplyTokens: o.chatReplyTokens, chatFormats: o.chatFormats ?? 'all', minRounds: o.minRounds ?? 1, goldenTokens: o.goldenTokens, greedy: true, eosIgnored: true,
      warmUp: 'one 4-id prompt, 4 tokens, after the loads; not timed',
      order: 'per cell: each round runs every context, then every prompt length, each through the engines in turn (A B A B ...); the minimum rounds, then the chat, then more rounds while the cell\'s share of the time allows',
      loadCold: 'first load in a fresh process, to the first token (shader compilation included)',
      loadCached: o.cachedLoad === false
        ? 'not run: in Node both loads read the same files from the OS cache over localhost, so a second load measures only what an engine keeps in its process (within 0.6-1.2x of the cold load for every engine on 2026-12-03); the time went to rounds'
        : 'unload and load again in the same process (files in the OS cache, compiled pipelines kept where the engine keeps them), to the first token',
    },
    cells: [], notRun: [],
  };
  try {
    const probe = EngineProcess.start('probe', o.requestTimeoutMs, o.logDir);
    try {
      await probe.ready;
      const p = await probe.call<{ adapter: Record<string, string>; dawnFlags: string[]; bandwidthBytesPerS: number; readBandwidthBytesPerS: number }>({ cmd: 'probe', bandwidthBytes: o.bandwidthBytes });
      report.adapter = p.adapter;
      report.dawnFlags = p.dawnFlags;
      report.bandwidthBytesPerS = p.bandwidthBytesPerS;
      report.readBandwidthBytesPerS = p.readBandwidthBytesPerS;
      report.rooflineBandwidth = `this run's probe: bench/read-bandwidth.wgsl streaming ${o.bandwidthBytes} bytes, best of 8 passes`;
      log(`adapter ${JSON.stringify(p.adapter)}; read bandwidth ${(p.readBandwidthBytesPerS / 1e9).toPrecision(4)} GB/s (the roofline's), copy ${(p.bandwidthBytesPerS / 1e9).toPrecision(4)} GB/s`);
    } catch (e) {
      report.adapter = { error: message(e) };
    } finally {
      await probe.stop();
    }
    o.onCell?.(report); // the run's facts before any cell: a run cut off in its first load still says what it ran on
    const planned = o.models.flatMap((dir) => {
      const info = JSON.parse(readFileSync(join(dir, 'export.json'), 'utf8')) as ExportInfo;
      const mlc = (info as { mlc?: Record<string, unknown> }).mlc ?? {};
      return o.formats.filter((f) => info.exports[f] || mlc[f]).map((format) => ({ dir, info, format }));
    });
    for (const [i, { dir, info, format }] of planned.entries()) {
      const now = Date.now();
      const deadline = o.deadlineMs ?? Infinity;
      if (now >= deadline) {
        for (const engine of o.engines) report.notRun.push({ engine, model: info.model, format, reason: 'no time left in the run\'s budget' });
        continue;
      }
      const cellDeadline = now + (deadline - now) / (planned.length - i);
      report.cells.push(await runCell(o, `${base}${basename(resolve(dir))}/`, info, format, report, log, cellDeadline, deadline));
      log(`cell ${info.model} ${format} done`);
      o.onCell?.(report);
    }
  } finally {
    server.close();
  }
  return report;
}

async function runCell(
  o: DriverOptions, url: string, info: ExportInfo, format: ModelRef['format'], report: Report, log: (l: string) => void, deadline = Infinity,
  runDeadline = Infinity,
): Promise<Cell> {
  const ref: ModelRef = { url, format, exportInfo: info };
  const vocab = info.config.vocab_size;
  const maxPos = info.config.max_position_embeddings;
  // WebLLM runs where export/to_mlc.py converted the model for a prebuilt library of its shape and this format.
  const mlc = (info as { mlc?: Record<string, unknown> }).mlc ?? {};
  for (const e of o.engines) if (e === 'webllm' && !mlc[format]) report.notRun.push({ engine: e, model: info.model, format, reason: 'no prebuilt MLC model library of this shape and format (export/to_mlc.py converts where one exists)' });
  const cells = o.engines.filter((e) => e !== 'webllm' || mlc[format]).map(newEngineCell);
  const procs = new Map<string, EngineProcess>();
  const fail = (c: EngineCell, stage: string, e: unknown) => {
    c.errors.push({ stage, message: message(e) });
    log(`  ${c.engine} ${stage}: ${message(e)}`);
  };
  const running = () => cells.filter((c) => procs.get(c.engine)?.alive && c.load !== null && c.fairness?.pass !== false);
  const stats = async (c: EngineCell) => {
    try {
      const s = await procs.get(c.engine)!.call<Stats>({ cmd: 'stats' });
      Object.assign(c, { config: s.describe, versions: s.versions, peakGpuBytes: s.peakGpuBytes, weightBytesPerToken: s.weightBytesPerToken, kvBytesPerToken: s.kvBytesPerToken });
    } catch (e) { fail(c, 'stats', e); }
  };
  const decode = new Map<string, Map<number, number[]>>();
  const ttft = new Map<string, Map<number, number[]>>();
  let rounds = 0;
  // The cell as far as it got (onCell gets it after every load and round, so a run cut off keeps what it measured).
  const cellNow = (partial = false): Cell => {
    for (const c of cells) {
      for (const [k, v] of decode.get(c.engine) ?? []) {
        c.decodeTokensPerS[k] = sampled(v);
        const roof = rooflinePercent(c.weightBytesPerToken, c.kvBytesPerToken, k, c.decodeTokensPerS[k].median, report.readBandwidthBytesPerS ?? 0);
        if (roof !== undefined) c.rooflinePercent[k] = roof;
      }
      for (const [k, v] of ttft.get(c.engine) ?? []) c.ttftMs[k] = sampled(v);
    }
    const exp = info.exports[format];
    return { model: info.model, format, rounds, exportOps: exp?.ops ?? {}, exportBytes: exp?.bytes ?? 0, engines: cells, ratiosToSieve: ratiosToSieve(cells), ...(partial ? { partial } : {}) };
  };

  // Cold loads, one engine at a time (the other processes idle), then the fairness check and the cached load.
  for (const c of cells) {
    const p = EngineProcess.start(c.engine, o.requestTimeoutMs, o.logDir, `${info.model} ${format}`);
    procs.set(c.engine, p);
    // Which of the driver's steps failed, and for a load the engine's own last stage: one run says where it broke.
    let step = 'process start';
    try {
      await p.ready;
      step = 'cold load';
      const cold = await p.call<LoadResult>({ cmd: 'load', model: ref });
      c.loadStages = cold.stages;
      c.loadCompile = cold.compile;
      step = 'fairness check (generate)';
      const golden = info.golden;
      const prompt = golden?.prompt ?? promptIds(8, 0, vocab);
      const g = await p.call<GenerateResult>({ cmd: 'generate', ids: prompt, maxTokens: o.goldenTokens });
      const reference = golden ? golden.ids.slice(0, o.goldenTokens) : cells[0].fairness?.ids ?? g.ids;
      c.fairness = { prompt, ids: g.ids, reference, referenceBy: golden ? `transformers ${golden.by.transformers} (torch ${golden.by.torch}, f32, ${golden.by.device})` : `${cells[0].engine} (no golden in export.json)`, pass: JSON.stringify(g.ids) === JSON.stringify(reference) };
      let cached: LoadResult | null = null;
      if (o.cachedLoad !== false) {
        step = 'unload';
        await p.call({ cmd: 'unload' });
        step = 'cached load';
        p.stage = '';
        cached = await p.call<LoadResult>({ cmd: 'load', model: ref });
      }
      c.load = { coldMs: cold.ms, cachedMs: cached?.ms ?? null, coldToFirstTokenMs: cold.firstTokenMs, cachedToFirstTokenMs: cached?.firstTokenMs ?? null };
      c.peakJsBytesDuringLoad = Math.max(cold.peakJsBytes, cached?.peakJsBytes ?? 0);
      step = 'warm-up';
      await p.call({ cmd: 'generate', ids: [1, 2, 3, 4], maxTokens: 4 }); // warm-up
      log(`  ${c.engine} ${format}: cold ${cold.firstTokenMs.toFixed(0)} ms (${cold.compile.modules} shader modules and ${cold.compile.pipelines} pipelines: ${cold.compile.ms.toFixed(0)} ms; ${cold.compile.asyncPipelines} async pipelines over ${cold.compile.asyncWallMs.toFixed(0)} ms), cached ${cached ? `${cached.firstTokenMs.toFixed(0)} ms` : 'not run'}, fair ${c.fairness.pass} ${JSON.stringify(g.ids)}`);
      if (!c.fairness.pass) fail(c, 'fairness', `greedy ids ${JSON.stringify(g.ids)} differ from the reference ${JSON.stringify(reference)}: not timed`);
      await stats(c); // the engine's configuration and weight bytes now, for a partial cell; again at the end for the peaks
    } catch (e) {
      const where = /load/.test(step) && p.stage ? `${step}, after the engine's stage "${p.stage}"` : step;
      if (e instanceof Error && !e.message.includes('load stage')) e.message = `${e.message} [${where}]`;
      fail(c, step.includes('load') ? 'load' : step, e);
      c.load = null;
      report.notRun.push({ engine: c.engine, model: info.model, format, reason: message(e) });
      await p.stop();
    }
    o.onCell?.({ ...report, cells: [...report.cells, cellNow(true)] });
  }

  const push = (m: Map<string, Map<number, number[]>>, e: string, k: number, v: number) => {
    if (!m.has(e)) m.set(e, new Map());
    const byKey = m.get(e)!;
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(v);
  };
  const contexts = o.contexts.filter((c) => c + o.decodeTokens + 1 <= maxPos);
  const prompts = o.prompts.filter((p) => p + 1 <= maxPos);
  let roundMs = 0;
  const round = async (r: number) => {
    const t0 = Date.now();
    for (const ctx of contexts) for (const c of running()) {
      if (c.errors.some((e) => e.stage === `decode@${ctx}`)) continue;
      try {
        const g = await procs.get(c.engine)!.call<GenerateResult>({ cmd: 'generate', ids: promptIds(ctx, r, vocab), maxTokens: o.decodeTokens + 1 });
        push(decode, c.engine, ctx, o.decodeTokens / (g.decodeMs / 1000));
      } catch (e) { fail(c, `decode@${ctx}`, e); }
    }
    for (const len of prompts) for (const c of running()) {
      if (c.errors.some((e) => e.stage === `ttft@${len}`)) continue;
      try {
        const g = await procs.get(c.engine)!.call<GenerateResult>({ cmd: 'generate', ids: promptIds(len, 100 + r, vocab), maxTokens: 1 });
        push(ttft, c.engine, len, g.firstTokenMs);
      } catch (e) { fail(c, `ttft@${len}`, e); }
    }
    rounds = r + 1;
    roundMs = Date.now() - t0;
    log(`  round ${r + 1}/${o.reps} (${roundMs} ms)`);
    o.onCell?.({ ...report, cells: [...report.cells, cellNow(true)] });
  };
  // The chat: each turn's prompt is the whole conversation so far (earlier turns' prompts and replies) plus new ids.
  const chat = async () => {
    if (o.chatFormats && !o.chatFormats.includes(format)) return;
    for (const c of running()) {
      if (o.chatTurns === 0) break;
      // Optional work: an engine's 10-turn chat took 0.3-1.3 rounds' time in run 2 of 2026-12-04 (a round runs every
      // engine), so it starts only while a round's time is left before the run's deadline: it never costs a round.
      if (Date.now() + roundMs > runDeadline) { fail(c, 'chat', 'skipped: no time left in the run\'s budget (the rounds came first)'); continue; }
      try {
        let conversation: number[] = [];
        const turnMs: number[] = [];
        const cachedTokens: (number | null)[] = [];
        for (let t = 0; t < o.chatTurns; t++) {
          const ids = [...conversation, ...promptIds(o.chatUserTokens, 1000 + t, vocab)];
          const g = await procs.get(c.engine)!.call<GenerateResult>({ cmd: 'generate', ids, maxTokens: o.chatReplyTokens });
          turnMs.push(g.totalMs);
          cachedTokens.push(g.cachedTokens);
          conversation = [...ids, ...g.ids];
        }
        // An engine that reports no cached prompt tokens re-runs the whole conversation through prefill every turn.
        const reprefills = cachedTokens.slice(1).every((n) => n === null || n === 0);
        c.chat = { turns: o.chatTurns, turnMs, totalMs: turnMs.reduce((a, b) => a + b, 0), cachedTokens, reprefills };
      } catch (e) { fail(c, 'chat', e); }
    }
  };
  // The minimum rounds (a median of 3) and the chat first, within the run's deadline; then more rounds, up to the
  // workload's reps, while the next one fits in the cell's share of the time.
  const minRounds = Math.min(o.minRounds ?? 1, o.reps);
  for (let r = 0; r < minRounds; r++) {
    if (r > 0 && Date.now() + roundMs > runDeadline) { log(`  ${r} of ${o.reps} rounds: the run's time is up`); break; }
    await round(r);
  }
  await chat();
  for (let r = rounds; r < o.reps; r++) {
    if (Date.now() + roundMs > deadline) { log(`  ${r} of ${o.reps} rounds: the cell's time is up`); break; }
    await round(r);
  }

  for (const c of cells) {
    if (c.load && procs.get(c.engine)?.alive) await stats(c);
    await procs.get(c.engine)?.stop();
  }
  return cellNow();
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const list = (s: string) => s.split(',').filter(Boolean);

async function main() {
  const o: DriverOptions = {
    models: list(arg('--models', '')), formats: list(arg('--formats', 'fp32,fp16,q4')) as ModelRef['format'][],
    engines: list(arg('--engines', 'sieve,transformers')), contexts: list(arg('--contexts', '512,4096,16384')).map(Number),
    prompts: list(arg('--prompts', '128,2048,8192')).map(Number), reps: Number(arg('--reps', '5')), decodeTokens: Number(arg('--decode-tokens', '64')),
    chatTurns: Number(arg('--chat-turns', '10')), chatUserTokens: Number(arg('--chat-user', '32')), chatReplyTokens: Number(arg('--chat-reply', '32')),
    goldenTokens: Number(arg('--golden-tokens', '16')), bandwidthBytes: Number(arg('--bandwidth-bytes', String(1 << 30))),
    requestTimeoutMs: Number(arg('--timeout-ms', '300000')), minRounds: Number(arg('--min-rounds', '1')),
    cachedLoad: !process.argv.includes('--no-cached-load'), chatFormats: arg('--chat-formats', '') ? list(arg('--chat-formats', '')) as ModelRef['format'][] : undefined, logDir: arg('--log-dir', '') || undefined,
    deadlineMs: arg('--budget-s', '') ? Date.now() + Number(arg('--budget-s', '')) * 1000 : undefined,
  };
  if (o.models.length === 0) throw new Error('--models DIR[,DIR...] (folders written by export/export.py)');
  childNodeArgs = arg('--child-node-args', '').split(' ').filter(Boolean);
  const out = arg('--out', 'compare.json');
  const svg = arg('--svg', '');
  const write = (report: Report) => {
    writeFileSync(out, JSON.stringify(report, null, 1));
    if (svg) writeFileSync(svg, drawChart(report));
  };
  const report = await runComparison({ ...o, onCell: write });
  const missing = missingFields(report);
  if (missing.length) console.warn(`report lacks: ${missing.join(', ')}`);
  write(report);
  console.log(`wrote ${out}${svg ? ` and ${svg}` : ''}`);
  process.exit(0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main().catch((e) => { console.error(e); process.exit(1); });
