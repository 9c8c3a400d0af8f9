// The eval grid's charts (issue 16), drawn as plain SVG from the cells of one or more `sieve eval` reports:
// accuracy against budget per policy (a panel per task and context), perplexity against budget, and accuracy
// against decode time at budget = context / 8 (time from bench/eval-speed's rows when given, as a ratio to dense).
import { PERPLEXITY_TOKENS, type EvalCell } from '../engine/eval/index.ts';

export const POLICY_COLORS: Record<string, string> = {
  dense: '#000000', streaming: '#7f7f7f', h2o: '#ff7f0e', a2sf: '#bcbd22', quest: '#1f77b4', tidal: '#d62728',
  recycled: '#9467bd', 'double-sparsity': '#2ca02c', fasa: '#17becf',
};
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const colorOf = (p: string) => POLICY_COLORS[p.split(':')[0]] ?? '#555';
/** A note's lines of at most `width` characters, broken after its commas and semicolons. */
export function wrapNote(text: string, width = 150): string[] {
  const lines: string[] = [];
  let line = '';
  for (const piece of text.split(/(?<=[,;]) /)) {
    if (line && line.length + piece.length + 1 > width) {
      lines.push(line);
      line = piece;
    } else line = line ? `${line} ${piece}` : piece;
  }
  return line ? [...lines, line] : lines;
}
const noteText = (lines: string[], y0: number) => lines.map((l, i) => `<text x="6" y="${y0 + 12 * i}" fill="#444">${esc(l)}</text>`).join('');
const kLabel = (x: number) => (x >= 1024 && x % 1024 === 0 ? `${x / 1024}K` : String(x));

/** A point of a series: x, y, and whether it rests on few items (drawn hollow). */
type Point = [number, number, boolean?];
interface Panel { title: string; series: { name: string; points: Point[] }[]; dense: number | null; yMin?: number; yMax: number; yLabel: string }

function drawPanels(panels: Panel[][], xLabel: string, note: string): string {
  const W = 250, H = 190, pad = { l: 40, r: 8, t: 22, b: 32 };
  const legendW = 130;
  const rows = panels.length, cols = Math.max(...panels.map((r) => r.length), 1);
  const out: string[] = [];
  panels.forEach((row, r) => row.forEach((p, c) => {
    const xs = p.series.flatMap((s) => s.points.map((q) => q[0]));
    if (xs.length === 0) return;
    const x0 = Math.log2(Math.min(...xs)), x1 = Math.log2(Math.max(...xs));
    const X = (x: number) => pad.l + ((Math.log2(x) - x0) / Math.max(x1 - x0, 1e-9)) * (W - pad.l - pad.r);
    const yMin = p.yMin ?? 0;
    const Y = (y: number) => H - pad.b - ((y - yMin) / (p.yMax - yMin)) * (H - pad.t - pad.b);
    const g = [`<g transform="translate(${c * W},${r * H})">`, `<text x="${W / 2}" y="14" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
    g.push(`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#000"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#000"/>`);
    for (const x of [...new Set(xs)].sort((a, b) => a - b)) g.push(`<text x="${X(x).toFixed(1)}" y="${H - pad.b + 12}" text-anchor="middle">${kLabel(x)}</text>`);
    for (let k = 0; k <= 4; k++) {
      const y = yMin + ((p.yMax - yMin) * k) / 4;
      g.push(`<text x="${pad.l - 3}" y="${(Y(y) + 3).toFixed(1)}" text-anchor="end">${p.yMax <= 1 ? `${Math.round(y * 100)}%` : y.toFixed(1)}</text><line x1="${pad.l}" y1="${Y(y).toFixed(1)}" x2="${W - pad.r}" y2="${Y(y).toFixed(1)}" stroke="#eee"/>`);
    }
    g.push(`<text x="${W / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
    if (p.dense !== null) g.push(`<line x1="${pad.l}" y1="${Y(p.dense).toFixed(1)}" x2="${W - pad.r}" y2="${Y(p.dense).toFixed(1)}" stroke="#000" stroke-dasharray="4 3"/>`);
    for (const s of p.series) {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      g.push(`<polyline fill="none" stroke="${colorOf(s.name)}" stroke-width="1.6" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y, thin] of pts) g.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="${thin ? 2.4 : 2}" fill="${thin ? '#fff' : colorOf(s.name)}" stroke="${colorOf(s.name)}"/>`);
    }
    g.push('</g>');
    out.push(g.join(''));
  }));
  const names = [...new Set(panels.flat().flatMap((p) => p.series.map((s) => s.name)))];
  const legend = [`<g transform="translate(${cols * W + 6},24)"><text font-weight="bold">policy</text>`,
    `<line x1="0" y1="14" x2="18" y2="14" stroke="#000" stroke-dasharray="4 3"/><text x="22" y="18">dense</text>`,
    ...names.map((n, i) => `<line x1="0" y1="${28 + i * 14}" x2="18" y2="${28 + i * 14}" stroke="${colorOf(n)}" stroke-width="2"/><text x="22" y="${32 + i * 14}">${esc(n)}</text>`), '</g>'];
  const width = cols * W + legendW;
  const lines = wrapNote(note, Math.floor(width / 5));
  const height = rows * H + 10 + 12 * lines.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="9"><rect width="100%" height="100%" fill="#fff"/>${out.join('')}${legend.join('')}${noteText(lines, rows * H + 12)}</svg>\n`;
}

const RETRIEVAL = ['passkey', 'kv', 'needles', 'chat'];
/**
 * Items per task below which a point is drawn hollow: at 25 items one answer moves accuracy by 4 points, and a
 * 95% interval around 50% spans about +-20 points. The pooled panel's threshold is this times the tasks pooled.
 */
export const THIN_ITEMS_PER_TASK = 25;

/** Accuracy against budget: a row per retrieval task (and their pool), a column per context; dense dashed; thin points hollow. */
export function drawAccuracyVsBudget(cells: readonly EvalCell[], note: string): string {
  const contexts = [...new Set(cells.filter((c) => c.accuracy !== null).map((c) => c.context))].sort((a, b) => a - b);
  const tasks = RETRIEVAL.filter((t) => cells.some((c) => c.task === t));
  const policies = [...new Set(cells.filter((c) => c.policy !== 'dense').map((c) => c.policy))];
  const accuracyOf = (task: string | null, context: number, policy: string, budget: number | null) => {
    const hits = cells.filter((c) => (task === null ? RETRIEVAL.includes(c.task) : c.task === task) && c.context === context && c.policy === policy && c.budget === budget && c.accuracy !== null);
    const n = hits.reduce((s, c) => s + c.n, 0);
    return n === 0 ? null : { accuracy: hits.reduce((s, c) => s + (c.accuracy as number) * c.n, 0) / n, thin: n < THIN_ITEMS_PER_TASK * (task === null ? tasks.length : 1) };
  };
  const rows = [...tasks, null].map((task) => contexts.map((context): Panel => {
    const dense = cells.filter((c) => (task === null ? RETRIEVAL.includes(c.task) : c.task === task) && c.context === context && c.policy === 'dense');
    return {
      title: `${task ?? 'all retrieval tasks'} @ ${kLabel(context)} (dense n ${dense.reduce((s, c) => s + c.n, 0)})`,
      dense: accuracyOf(task, context, 'dense', null)?.accuracy ?? null,
      yMax: 1,
      yLabel: 'accuracy',
      series: policies.map((policy) => ({
        name: policy,
        points: [...new Set(cells.filter((c) => c.policy === policy && c.context === context).map((c) => c.budget as number))]
          .flatMap((b): Point[] => {
            const a = accuracyOf(task, context, policy, b);
            return a ? [[b, a.accuracy, a.thin]] : [];
          }),
      })).filter((s) => s.points.length > 0),
    };
  }));
  return drawPanels(rows, 'budget (tokens)', `${note}; hollow: under ${THIN_ITEMS_PER_TASK} items a task`);
}

/** Perplexity windows below which a point is drawn hollow (12 x 64 = 768 scored tokens). */
export const PERPLEXITY_THIN_WINDOWS = 12;

/** Perplexity against budget, a panel per context (dense dashed); null when there are no perplexity cells. */
export function drawPerplexityVsBudget(cells: readonly EvalCell[], note: string): string | null {
  const ppl = cells.filter((c) => c.task === 'perplexity' && c.perplexity !== null);
  if (ppl.length === 0) return null;
  const contexts = [...new Set(ppl.map((c) => c.context))].sort((a, b) => a - b);
  // The axis spans the values (perplexities sit close together: from 0 their differences would not show).
  const yMax = Math.ceil(Math.min(200, Math.max(...ppl.map((c) => c.perplexity as number))));
  const yMin = Math.floor(Math.min(...ppl.map((c) => c.perplexity as number)));
  const panels = contexts.map((context): Panel => ({
    title: `perplexity @ ${kLabel(context)} (n ${ppl.find((c) => c.context === context && c.policy === 'dense')?.n ?? 0} windows)`,
    dense: ppl.find((c) => c.context === context && c.policy === 'dense')?.perplexity ?? null,
    yMin, yMax, yLabel: 'perplexity',
    series: [...new Set(ppl.filter((c) => c.policy !== 'dense').map((c) => c.policy))].map((policy) => ({
      name: policy,
      points: ppl.filter((c) => c.policy === policy && c.context === context).map((c): Point => [c.budget as number, Math.min(c.perplexity as number, yMax), c.n < PERPLEXITY_THIN_WINDOWS]),
    })),
  }));
  return drawPanels([panels], 'budget (tokens)', `${note}; hollow: under ${PERPLEXITY_THIN_WINDOWS} windows of ${PERPLEXITY_TOKENS} tokens`);
}

export interface SpeedRow { context: number; policy: string; budget?: number | null; ratioToDense?: number | null; msPerToken?: number; source?: string }

/**
 * Per policy, the speed row the charts and the headline use: at budget = context / 8 (the grid's anchor ratio), the
 * largest context measured (where attention weighs most in the step); dense has none (its rows are the ratios' bases).
 */
export function speedAtAnchor(speed: readonly SpeedRow[]): Map<string, SpeedRow> {
  const out = new Map<string, SpeedRow>();
  for (const r of speed) {
    // Dense's rows are the bases: the consumers take dense's at the context of the row they show.
    if (r.policy === 'dense' || (r.budget !== undefined && r.budget !== null && r.budget * 8 !== r.context)) continue;
    if (typeof r.ratioToDense !== 'number') continue;
    const had = out.get(r.policy);
    if (!had || r.context > had.context) out.set(r.policy, r);
  }
  return out;
}

/**
 * Accuracy (all retrieval tasks, relative to dense) at budget = context / 8 against decode time as a ratio to dense:
 * from `speed` (the 1B shape on the H200: speedAtAnchor's row per policy) when given, else the eval's own ms/token
 * (sieve-tiny's dispatch cost on the eval's backend). A policy without a speed row is left out (the note says so).
 */
export function drawAccuracyVsTime(cells: readonly EvalCell[], speed: readonly SpeedRow[] | null, note: string): string {
  const W = 420, H = 300, pad = { l: 48, r: 140, t: 24, b: 40 };
  const contexts = [...new Set(cells.filter((c) => RETRIEVAL.includes(c.task)).map((c) => c.context))].sort((a, b) => a - b);
  const anchor = speed ? speedAtAnchor(speed) : null;
  const points: { policy: string; context: number; x: number; y: number; thin: boolean }[] = [];
  const unmeasured = new Set<string>();
  for (const context of contexts) {
    const budget = context / 8;
    const dense = cells.filter((c) => c.context === context && c.policy === 'dense' && RETRIEVAL.includes(c.task));
    const denseMs = dense.find((c) => c.msPerToken !== null)?.msPerToken ?? null;
    for (const policy of [...new Set(cells.map((c) => c.policy))]) {
      const mine = cells.filter((c) => c.context === context && c.policy === policy && (policy === 'dense' || c.budget === budget) && RETRIEVAL.includes(c.task));
      const rel = mine.filter((c) => c.relativeToDense !== null);
      if (rel.length === 0) continue;
      const paired = (c: EvalCell) => c.denseCorrect ?? c.n;
      const pairs = rel.reduce((s, c) => s + paired(c), 0);
      const y = rel.reduce((s, c) => s + (c.relativeToDense as number) * paired(c), 0) / pairs;
      const fromSpeed = policy === 'dense' ? 1 : anchor?.get(policy.split(':')[0])?.ratioToDense ?? null;
      const own = denseMs && mine[0].msPerToken ? mine[0].msPerToken / denseMs : null;
      const x = anchor ? fromSpeed : own;
      if (x !== null && x > 0) points.push({ policy, context, x, y, thin: pairs < THIN_ITEMS_PER_TASK * RETRIEVAL.length });
      else unmeasured.add(policy);
    }
  }
  const sources = anchor ? [...new Set([...anchor.values()].map((r) => r.context))].sort((a, b) => a - b)
    .map((c) => `${[...anchor.values()].filter((r) => r.context === c).map((r) => r.policy).join(', ')} at ${kLabel(c)}`).join('; ') : '';
  const xMax = Math.max(1.2, ...points.map((p) => p.x)) * 1.05;
  const X = (x: number) => pad.l + (x / xMax) * (W - pad.l - pad.r);
  const Y = (y: number) => H - pad.b - y * (H - pad.t - pad.b);
  const g = [`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#000"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#000"/>`];
  for (let k = 0; k <= 4; k++) g.push(`<text x="${pad.l - 3}" y="${Y(k / 4) + 3}" text-anchor="end">${k * 25}%</text><line x1="${pad.l}" y1="${Y(k / 4)}" x2="${W - pad.r}" y2="${Y(k / 4)}" stroke="#eee"/>`);
  for (let x = 0; x <= xMax; x += 0.25) g.push(`<text x="${X(x).toFixed(1)}" y="${H - pad.b + 12}" text-anchor="middle">${x.toFixed(2)}</text>`);
  g.push(`<line x1="${X(1)}" y1="${pad.t}" x2="${X(1)}" y2="${H - pad.b}" stroke="#000" stroke-dasharray="4 3"/>`);
  g.push(`<text x="${(pad.l + W - pad.r) / 2}" y="${H - 8}" text-anchor="middle">decode step / dense's${anchor ? ' (Llama-3.2-1B shape, H200, budget = context/8)' : ' (eval backend)'}</text>`);
  g.push(`<text x="12" y="${(pad.t + H - pad.b) / 2}" transform="rotate(-90 12 ${(pad.t + H - pad.b) / 2})" text-anchor="middle">answers kept of dense's, budget = context/8</text>`);
  const shapes = ['circle', 'square', 'triangle'];
  points.forEach((p) => {
    const s = shapes[contexts.indexOf(p.context) % 3];
    const cx = X(p.x).toFixed(1), cy = Y(p.y).toFixed(1);
    const paint = `fill="${p.thin ? '#fff' : colorOf(p.policy)}" stroke="${colorOf(p.policy)}"`;
    g.push(s === 'circle' ? `<circle cx="${cx}" cy="${cy}" r="3.5" ${paint}/>`
      : s === 'square' ? `<rect x="${Number(cx) - 3}" y="${Number(cy) - 3}" width="6" height="6" ${paint}/>`
        : `<path d="M${cx},${Number(cy) - 4} l4,7 l-8,0 z" ${paint}/>`);
  });
  const names = [...new Set(points.map((p) => p.policy))];
  g.push(...names.map((n, i) => `<circle cx="${W - pad.r + 14}" cy="${pad.t + 4 + i * 14}" r="3.5" fill="${colorOf(n)}"/><text x="${W - pad.r + 22}" y="${pad.t + 8 + i * 14}">${esc(n)}</text>`));
  g.push(...contexts.map((c, i) => `<text x="${W - pad.r + 10}" y="${pad.t + 20 + (names.length + i) * 14}">${shapes[i % 3]}: ${kLabel(c)} context</text>`));
  const lines = [note, ...(sources ? [`speed rows: ${sources}`] : []), `hollow: under ${THIN_ITEMS_PER_TASK * RETRIEVAL.length} paired items${unmeasured.size ? `; no speed row: ${[...unmeasured].join(', ')}` : ''}`]
    .flatMap((l) => wrapNote(l, 110));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 140}" height="${H + 12 + 12 * lines.length}" font-family="sans-serif" font-size="9"><rect width="100%" height="100%" fill="#fff"/>${g.join('')}${noteText(lines, H + 12)}</svg>\n`;
}
