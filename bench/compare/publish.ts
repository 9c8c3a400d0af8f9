// After an H200 run: `node --import tsx bench/compare/publish.ts <results dir> [--json F] [--svg F] [--readme F] [--read-gbps N]`.
// <results dir> is results.tar.xz unpacked (bench/h200/run.sh: yardstick/compare-<shape>.json, one per shape, and
// yardstick/exports.txt), or any folder holding compare-*.json. It merges the shapes' reports into one
// (bench/results/compare-h200.json), draws docs/yardstick.svg (decode tokens/s against context, one line per engine
// and format, a panel per shape), and rewrites the README between <!-- yardstick:begin --> and <!-- yardstick:end -->:
// the table (tokens/s, ratios to Sieve, % of roofline, TTFT, load), what could not run and why, and a plain sentence
// of where Sieve is ahead and where it is behind, computed from the ratios.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drawChart } from './chart.ts';
import { withRoofline, type Cell, type Report } from './report.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BEGIN = '<!-- yardstick:begin -->';
const END = '<!-- yardstick:end -->';
const NAMES: Record<string, string> = { sieve: 'Sieve', transformers: 'Transformers.js', webllm: 'WebLLM' };

function findReports(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...findReports(p));
    else if (/^compare-.*\.json$/.test(f)) out.push(p);
  }
  return out.sort();
}

/**
 * The reports as one, oldest first: the newest run's facts; one cell per model x format, a later report's replacing an
 * earlier one's (a run that re-measured a cell supersedes it; cells it did not run stay as the earlier run had them);
 * the engines that could not run, from the report whose cell is kept (or the latest that names a cell none has).
 */
export function mergeReports(reports: Report[], extra: Record<string, unknown> = {}): Report & Record<string, unknown> {
  if (reports.length === 0) throw new Error('no compare-*.json reports in the results');
  const withBw = reports.filter((r) => (r.readBandwidthBytesPerS ?? 0) > 0 || r.bandwidthBytesPerS > 0);
  const first = withBw.at(-1) ?? reports.at(-1)!;
  const key = (m: string, f: string) => `${m}\u0000${f}`;
  const cells = new Map<string, { cell: Cell; report: Report }>();
  for (const r of reports) for (const c of r.cells) { cells.delete(key(c.model, c.format)); cells.set(key(c.model, c.format), { cell: c, report: r }); }
  const notRun: Report['notRun'] = [];
  const named = new Map<string, Report>();
  for (const r of reports) for (const n of r.notRun) named.set(key(n.model, n.format), r);
  for (const r of reports) for (const n of r.notRun) {
    const k = key(n.model, n.format);
    if ((cells.get(k)?.report ?? named.get(k)) === r) notRun.push(n);
  }
  // Each model's workload (decode tokens) from the report its cells came from.
  const workloads = Object.fromEntries([...cells.values()].map(({ cell, report }) => [cell.model, report.workload]));
  return { ...first, cells: [...cells.values()].map(({ cell }) => cell), notRun, workloads, ...extra };
}

const fmt = (x: number | undefined, digits = 0) => (x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const med = (s: { median: number } | undefined) => s?.median;
const keys = (o: Record<string, unknown>) => Object.keys(o).map(Number).sort((a, b) => a - b);
const kLabel = (n: number) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024}K` : n.toLocaleString("en-US"));
const short = (s: string, n = 140) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The README's yardstick part, as markdown. */
export function readmeSection(r: Report, chartPath: string, jsonPath: string): string {
  const contexts = [...new Set(r.cells.flatMap((c) => c.engines.flatMap((e) => keys(e.decodeTokensPerS))))].sort((a, b) => a - b);
  const prompts = [...new Set(r.cells.flatMap((c) => c.engines.flatMap((e) => keys(e.ttftMs))))].sort((a, b) => a - b);
  const lines: string[] = [];
  const adapter = [r.adapter.device, r.adapter.architecture, r.adapter.description && `(${r.adapter.description})`].filter(Boolean).join(' ') || JSON.stringify(r.adapter);
  const workloads = Object.values((r as { workloads?: Record<string, Report['workload']> }).workloads ?? { all: r.workload });
  const tokens = [...new Set(workloads.map((w) => Number(w.decodeTokens)))].sort((a, b) => a - b);
  const singles = r.cells.filter((c) => c.rounds < 2).length;
  const fewest = Math.min(...r.cells.map((c) => c.rounds));
  const roundsSaid = singles ? `${singles} of ${r.cells.length} cells had time for only one, so their figures are single samples`
    : fewest >= Number(r.workload.reps) ? 'every cell had them all' : `every cell had at least ${fewest}`;
  const cached = r.cells.some((c) => c.engines.some((e) => e.load && e.load.cachedToFirstTokenMs !== null));
  const f16Toggle = (r.dawnFlags ?? []).some((f) => f.includes('vulkan_enable_f16_on_nvidia'));
  // The runs the cells came from (publish merges several: a later run's cell replaces an earlier one's).
  const runOf = (c: Cell) => (c.from ? runLabel(c.from.results) : '');
  const runs = [...new Map(r.cells.filter((c) => c.from).map((c) => [runOf(c), c.from!])).entries()];
  const multi = runs.length > 1;
  lines.push(`Measured ${r.date.slice(0, 10)} on ${adapter} through Dawn in Node (${r.gpuFiguresFrom.split(';')[0].replace(/^Dawn \(.*?\) in Node, /, '')}), `
    + `read bandwidth ${fmt((r.readBandwidthBytesPerS ?? 0) / 1e9)} GB/s (${r.rooflineBandwidth ?? 'unknown source'}; copy ${fmt(r.bandwidthBytesPerS / 1e9)} GB/s, read + written); ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}. `
    + (f16Toggle ? `Dawn ran with the toggle \`vulkan_enable_f16_on_nvidia\` on (${(r.dawnFlags ?? []).join(' ')}): without it Dawn hides \`shader-f16\` on NVIDIA's Vulkan driver, and Chrome on NVIDIA/Linux does not set it, so there Transformers.js's fp16 and WebLLM's q0f16 do not run in a default Chrome (Sieve's f16 weights do not need \`shader-f16\`). ` : '')
    + `Median of up to ${String(r.workload.reps)} interleaved rounds (the rounds column: ${roundsSaid}), ${tokens.join('/')} decode tokens per sample (by shape), greedy, EOS ignored. `
    + (cached ? '' : `No second ("cached") load: ${String(r.workload.loadCached).replace(/^not run: /, '')}. `)
    + `Ratios are the engine's over Sieve's in the same cell (tokens/s: above 1 is faster than Sieve; TTFT: below 1 is faster). `
    + `% of roofline: the time the bytes one decode step reads (the engine's weight bytes + its KV bytes per token × the context) take at the read bandwidth, over the measured time per token; 100% would be a step that only streams its bytes once. `
    + (multi ? `The cells come from ${runs.length} runs (the run column): ${runs.map(([label, f]) => `${label} (${f.date.slice(0, 10)}, ${f.adapter}, read bandwidth ${fmt((f.readBandwidthBytesPerS ?? 0) / 1e9)} GB/s, ${Object.entries(f.versions).map(([k, v]) => `${k} ${v}`).join(', ')})`).join('; ')}; each cell's ratios are within its run, its roofline against its run's read bandwidth. ` : '')
    + `Full figures: \`${jsonPath}\`; chart: \`${chartPath}\`.`);
  lines.push('');
  lines.push(`![decode tokens/s against context](${chartPath})`);
  lines.push('');
  const head = ['model', 'format', 'engine', ...(multi ? ['run'] : []), 'fair', 'rounds', ...contexts.map((c) => `tok/s @${kLabel(c)}`), ...contexts.map((c) => `×Sieve @${kLabel(c)}`),
    ...contexts.map((c) => `% roofline @${kLabel(c)}`), ...prompts.map((p) => `TTFT ${kLabel(p)} ms`), cached ? 'load cold / cached s' : 'cold load s', '10-turn chat s'];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map(() => '---').join('|')}|`);
  for (const c of r.cells) {
    const sieve = c.engines.find((e) => e.engine === 'sieve');
    for (const e of c.engines) {
      if (!e.load) continue;
      const ratio = (ctx: number) => (e === sieve ? '1' : fmt(c.ratiosToSieve[e.engine]?.decodeTokensPerS[ctx], 2));
      lines.push(`| ${[c.model, c.format, `${NAMES[e.engine] ?? e.engine}${e.engine === 'sieve' && /runs f32/.test(e.config) ? ' (f32)' : ''}`, ...(multi ? [runOf(c)] : []), e.fairness?.pass ? 'yes' : 'NO',
        `${c.rounds}${c.partial ? ' (cut off)' : ''}`, ...contexts.map((k) => fmt(med(e.decodeTokensPerS[k]), 1)), ...contexts.map(ratio),
        ...contexts.map((k) => fmt(e.rooflinePercent[k], 1)), ...prompts.map((p) => fmt(med(e.ttftMs[p]))),
        cached ? `${fmt(e.load.coldToFirstTokenMs / 1000, 1)} / ${e.load.cachedToFirstTokenMs === null ? '–' : fmt(e.load.cachedToFirstTokenMs / 1000, 1)}` : fmt(e.load.coldToFirstTokenMs / 1000, 1), e.chat ? fmt(e.chat.totalMs / 1000, 2) + (e.chat.reprefills ? ' (re-prefills)' : '') : '–'].join(' | ')} |`);
    }
  }
  lines.push('');
  const failed = [...r.notRun.map((n) => ({ engine: n.engine, model: n.model, format: n.format, reason: n.reason })),
    ...r.cells.flatMap((c) => c.engines.filter((e) => e.load && e.errors.length).map((e) => ({ engine: e.engine, model: c.model, format: c.format, reason: e.errors.map((x) => `${x.stage}: ${x.message}`).join('; ') })))];
  if (failed.length) {
    lines.push('Not run, or partly:');
    const seen = new Set<string>();
    for (const f of failed) {
      const line = `- ${NAMES[f.engine] ?? f.engine}, ${f.model} ${f.format}: ${short(f.reason.replace(/\s+/g, ' '))}`;
      if (!seen.has(line)) { seen.add(line); lines.push(line); }
    }
    lines.push('');
  }
  lines.push(`**Where Sieve is ahead and where it is behind.** ${verdict(r)}`);
  return lines.join('\n');
}

/** A run's name from its report's path: the results folder (bench/results/<run>/yardstick/compare-x.json -> <run>). */
export function runLabel(results: string): string {
  const parts = results.split('/').slice(0, -1);
  if (parts.at(-1) === 'yardstick') parts.pop();
  return parts.at(-1) ?? results;
}

/** A plain sentence per other engine: in which cells and metrics Sieve is ahead, in which behind, with the ratios. */
export function verdict(r: Report): string {
  const others = [...new Set(r.cells.flatMap((c) => c.engines.map((e) => e.engine)).filter((e) => e !== 'sieve'))];
  const out: string[] = [];
  const range = (xs: number[]) => (xs.length === 1 ? `${xs[0].toFixed(2)}×` : `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`);
  for (const other of others) {
    const ahead: { what: string; x: number }[] = [];
    const behind: { what: string; x: number }[] = [];
    for (const c of r.cells) {
      const rt = c.ratiosToSieve[other];
      const o = c.engines.find((e) => e.engine === other);
      if (!rt || !o?.load || !o.fairness?.pass) continue;
      const at = `${c.model} ${c.format}`;
      // Sieve's advantage as a factor > 1 when Sieve is better: tokens/s Sieve/other, ms other/Sieve.
      for (const [k, v] of Object.entries(rt.decodeTokensPerS)) (1 / v >= 1 ? ahead : behind).push({ what: `decode @${kLabel(Number(k))} (${at})`, x: 1 / v });
      for (const [k, v] of Object.entries(rt.ttftMs)) (v >= 1 ? ahead : behind).push({ what: `TTFT ${kLabel(Number(k))} (${at})`, x: v });
      if (rt.loadColdMs !== null) (rt.loadColdMs >= 1 ? ahead : behind).push({ what: `cold load (${at})`, x: rt.loadColdMs });
    }
    if (!ahead.length && !behind.length) { out.push(`Against ${NAMES[other] ?? other}: no cell where both ran and passed the fairness check.`); continue; }
    // Each as a factor >= 1: how many times the faster engine is faster.
    const group = (xs: { what: string; x: number }[], invert: boolean) => {
      const by = new Map<string, number[]>();
      for (const { what, x } of xs) { const kind = what.replace(/ \(.*\)$/, ''); if (!by.has(kind)) by.set(kind, []); by.get(kind)!.push(invert ? 1 / x : x); }
      return [...by].map(([kind, v]) => `${kind} in ${v.length} cell${v.length > 1 ? 's' : ''} (${range(v)})`).join(', ');
    };
    const worst = behind.sort((a, b) => a.x - b.x).slice(0, 3).map((b) => `${b.what} ${(1 / b.x).toFixed(2)}×`).join(', ');
    const n = NAMES[other] ?? other;
    out.push(`Against ${n}, Sieve is ahead on ${ahead.length ? group(ahead, false) : 'nothing measured'} (how many times faster Sieve is)`
      + (behind.length ? `, and behind on ${group(behind, true)} (how many times faster ${n} is; furthest: ${worst}).` : ', and behind on nothing measured.'));
  }
  return out.join(' ');
}

export function replaceBetweenMarkers(text: string, body: string): string {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`the README has no ${BEGIN} ... ${END} markers`);
  return `${text.slice(0, a + BEGIN.length)}\n${body}\n${text.slice(b)}`;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/**
 * The read bandwidth to put under the roofline column, and where it came from: the reports' own (their probe ran
 * read-bandwidth.wgsl), else `--read-gbps N`, else the same run's decode segment (decode/wgsl-decode-shapes.json
 * beside yardstick/ in the results: read-bandwidth.wgsl over 1 GiB on the same machine, minutes apart).
 */
export function readBandwidthFor(merged: Report, dir: string, readGbps?: number): { bytesPerS: number; from: string } {
  if ((merged.readBandwidthBytesPerS ?? 0) > 0) return { bytesPerS: merged.readBandwidthBytesPerS!, from: merged.rooflineBandwidth ?? "the run's probe" };
  if (readGbps !== undefined) {
    if (!(readGbps > 0)) throw new Error(`--read-gbps ${readGbps}: a read bandwidth in GB/s (> 0) is needed`);
    return { bytesPerS: readGbps * 1e9, from: `given as --read-gbps ${readGbps}` };
  }
  const decode = join(dir, 'decode/wgsl-decode-shapes.json');
  if (existsSync(decode)) {
    const y = (JSON.parse(readFileSync(decode, 'utf8')) as { yardstick?: { readGBperS?: number } }).yardstick;
    if (y?.readGBperS && y.readGBperS > 0) {
      return { bytesPerS: y.readGBperS * 1e9, from: `bench/read-bandwidth.wgsl over 1 GiB in the same run's decode segment, ${relative(root, decode)}` };
    }
  }
  throw new Error(`no read bandwidth for the roofline: the reports have none (before 2026-12-05), ${decode} has none; give --read-gbps N`);
}

function main() {
  // Results folders, oldest first (the arguments before the first --flag).
  const flagAt = process.argv.findIndex((a, i) => i >= 2 && a.startsWith('--'));
  const dirs = process.argv.slice(2, flagAt < 0 ? undefined : flagAt);
  if (dirs.length === 0 || dirs.some((d) => !existsSync(d))) throw new Error('usage: node --import tsx bench/compare/publish.ts <results dir> [<newer results dir> ...] [--json F] [--svg F] [--readme F] [--read-gbps N]');
  const jsonOut = arg('--json', join(root, 'bench/results/compare-h200.json'));
  const svgOut = arg('--svg', join(root, 'docs/yardstick.svg'));
  const readme = arg('--readme', join(root, 'README.md'));
  const gbps = arg('--read-gbps', '');
  const reports: Report[] = [];
  const files: string[] = [];
  const exportsLines: string[] = [];
  for (const dir of dirs) {
    const found = findReports(dir);
    if (found.length === 0) throw new Error(`${dir}: no compare-*.json reports`);
    for (const f of found) {
      const r = JSON.parse(readFileSync(f, 'utf8')) as Report;
      // Each run's roofline against its own read bandwidth (an older report's from its run's decode segment).
      const bw = readBandwidthFor(r, dir, gbps ? Number(gbps) : undefined);
      const done = withRoofline(r, bw.bytesPerS, bw.from);
      const from = { results: relative(root, f), date: r.date, adapter: [r.adapter.device, r.adapter.description].filter(Boolean).join(' '), versions: r.versions, readBandwidthBytesPerS: bw.bytesPerS };
      reports.push({ ...done, cells: done.cells.map((c) => ({ ...c, from })) });
      files.push(f);
    }
    const exportsTxt = found.map((f) => join(f, '../exports.txt')).find((f) => existsSync(f));
    if (exportsTxt) exportsLines.push(...readFileSync(exportsTxt, 'utf8').trim().split('\n'));
  }
  const merged = mergeReports(reports, { sources: files.map((f) => relative(root, f)), exports: exportsLines });
  writeFileSync(jsonOut, JSON.stringify(merged, null, 1) + '\n');
  writeFileSync(svgOut, drawChart(merged));
  const rel = (p: string) => relative(root, p);
  writeFileSync(readme, replaceBetweenMarkers(readFileSync(readme, 'utf8'), readmeSection(merged, rel(svgOut), rel(jsonOut))));
  console.log(`wrote ${rel(jsonOut)} (${merged.cells.length} cells from ${files.length} reports), ${rel(svgOut)}, ${rel(readme)}'s yardstick section`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
