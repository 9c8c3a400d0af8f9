// The report as a chart: decode tokens/s against context length, one panel per model, one line per engine and
// format. Plain SVG text, so the bench draws it with no dependency.
import type { Report } from './report.ts';

const COLORS: Record<string, string> = { sieve: '#d62728', transformers: '#1f77b4', webllm: '#2ca02c' };
const DASH: Record<string, string> = { fp32: '', fp16: '6 3', q4: '2 3' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function drawChart(report: Report): string {
  const models = [...new Set(report.cells.map((c) => c.model))];
  const W = 360, H = 260, pad = { l: 52, r: 12, t: 28, b: 40 };
  const panels: string[] = [];
  models.forEach((model, i) => {
    const series: { name: string; color: string; dash: string; points: [number, number][] }[] = [];
    for (const cell of report.cells.filter((c) => c.model === model)) {
      for (const e of cell.engines) {
        const pts = Object.entries(e.decodeTokensPerS).map(([k, v]) => [Number(k), v.median] as [number, number]).filter(([, y]) => Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
        if (pts.length) series.push({ name: `${e.engine} ${cell.format}`, color: COLORS[e.engine] ?? '#555', dash: DASH[cell.format] ?? '', points: pts });
      }
    }
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = series.flatMap((s) => s.points.map((p) => p[1]));
    const x0 = Math.log2(Math.min(...xs, 512)), x1 = Math.log2(Math.max(...xs, 1024));
    const y1 = Math.max(...ys, 1) * 1.1;
    const X = (x: number) => pad.l + ((Math.log2(x) - x0) / Math.max(x1 - x0, 1e-9)) * (W - pad.l - pad.r);
    const Y = (y: number) => H - pad.b - (y / y1) * (H - pad.t - pad.b);
    const g: string[] = [`<g transform="translate(${i * W},0)">`, `<text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(model)}</text>`];
    g.push(`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#000"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#000"/>`);
    for (const x of [...new Set(xs)].sort((a, b) => a - b)) g.push(`<text x="${X(x)}" y="${H - pad.b + 14}" text-anchor="middle">${x >= 1024 && x % 1024 === 0 ? `${x / 1024}K` : x}</text>`);
    for (let k = 0; k <= 4; k++) { const y = (y1 * k) / 4; g.push(`<text x="${pad.l - 4}" y="${Y(y) + 4}" text-anchor="end">${y.toFixed(0)}</text><line x1="${pad.l}" y1="${Y(y)}" x2="${W - pad.r}" y2="${Y(y)}" stroke="#eee"/>`); }
    g.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">context (tokens)</text>`);
    series.forEach((s, j) => {
      g.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of s.points) g.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      g.push(`<line x1="${W - 120}" y1="${pad.t + 6 + j * 14}" x2="${W - 100}" y2="${pad.t + 6 + j * 14}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/><text x="${W - 96}" y="${pad.t + 10 + j * 14}">${esc(s.name)}</text>`);
    });
    g.push('</g>');
    panels.push(g.join(''));
  });
  const width = Math.max(models.length, 1) * W;
  const note = `decode tokens/s (median of ${String(report.workload.reps)}), ${esc(report.adapter.description ?? report.adapter.vendor ?? '')}; ${esc(report.gpuFiguresFrom.split(';')[0])}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 20}" font-family="sans-serif" font-size="10"><rect width="100%" height="100%" fill="#fff"/>${panels.join('')}<text x="6" y="${H + 14}" fill="#444">${note}</text></svg>\n`;
}
