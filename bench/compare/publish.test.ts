// publish.ts on a report of known ratios: the README part names where Sieve is ahead and where behind, with the
// factors, and replaces only what is between the markers.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeReports, readBandwidthFor, readmeSection, replaceBetweenMarkers, runLabel, verdict } from './publish.ts';
import { ratiosToSieve, rooflinePercent, sampled, withRoofline, type EngineCell, type Report } from './report.ts';

function engine(name: string, tokS: number, ttftMs: number): EngineCell {
  return {
    engine: name, config: '', versions: {}, load: { coldMs: 1000, cachedMs: 500, coldToFirstTokenMs: 1200, cachedToFirstTokenMs: 600 },
    fairness: { prompt: [1], ids: [2], reference: [2], referenceBy: 'transformers', pass: true }, decodeTokensPerS: { 512: sampled([tokS]) },
    ttftMs: { 128: sampled([ttftMs]) }, chat: null, peakGpuBytes: 1, peakJsBytesDuringLoad: 1, rooflinePercent: { 512: 10 },
    weightBytesPerToken: 1, kvBytesPerToken: 1, errors: [],
  };
}

describe('publish', () => {
  const engines = [engine('sieve', 200, 50), engine('transformers', 100, 25)];
  const report: Report = {
    schema: 'sieve-compare/1', date: '2026-12-03T08:05:00Z', gpuFiguresFrom: 'Dawn (x) in Node, one process per engine', adapter: { vendor: 'nvidia', description: 'H200' },
    bandwidthBytesPerS: 4e12, node: 'v20', platform: 'linux x64', versions: { sieve: '0.1.0' }, workload: { reps: 5, decodeTokens: 32 },
    cells: [{ model: 'm', format: 'q4', rounds: 5, exportOps: {}, exportBytes: 0, engines, ratiosToSieve: ratiosToSieve(engines) }],
    notRun: [{ engine: 'webllm', model: 'm', format: 'q4', reason: 'no library' }],
  };
  it('says Sieve decodes 2x faster and is 2x slower to the first token', () => {
    const v = verdict(report);
    expect(v).toContain('ahead on decode @512 in 1 cell (2.00×)');
    expect(v).toContain('behind on TTFT 128 in 1 cell (2.00×)');
  });
  it('writes the table between the markers only', () => {
    const body = readmeSection(report, 'docs/yardstick.svg', 'bench/results/compare-h200.json');
    expect(body).toContain('| m | q4 | Transformers.js | yes | 5 | 100.0 | 0.50 | 10.0 | 25 | 1.2 / 0.6 | – |');
    expect(body).toContain('- WebLLM, m q4: no library');
    const text = replaceBetweenMarkers('a\n<!-- yardstick:begin -->\nSTALE\n<!-- yardstick:end -->\nb', body);
    expect(text.startsWith('a\n<!-- yardstick:begin -->\n')).toBe(true);
    expect(text).not.toContain('STALE');
    expect(text.endsWith('<!-- yardstick:end -->\nb')).toBe(true);
  });
  it('puts the roofline against the read bandwidth: bytes read per step at that rate over the measured step', () => {
    // 1 GB of weights + 1,000 B of KV per token at 512 tokens, at 4 TB/s: 0.250128 ms; at 200 tok/s a step is 5 ms.
    expect(rooflinePercent(1e9, 1000, 512, 200, 4e12)).toBeCloseTo(5.00256, 4);
    expect(rooflinePercent(1e9, 1000, 512, 200, 0)).toBeUndefined();
    const w = { ...engine('sieve', 200, 50), weightBytesPerToken: 1e9, kvBytesPerToken: 1000 };
    const r = withRoofline({ ...report, cells: [{ ...report.cells[0], engines: [w] }] }, 4e12, 'test');
    expect(r.cells[0].engines[0].rooflinePercent[512]).toBeCloseTo(5.00256, 4);
    expect(r.readBandwidthBytesPerS).toBe(4e12);
  });
  it('takes an older report\'s read bandwidth from the same run\'s decode segment, or refuses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'publish-'));
    expect(() => readBandwidthFor(report, dir)).toThrow(/no read bandwidth/);
    mkdirSync(join(dir, 'decode'));
    writeFileSync(join(dir, 'decode/wgsl-decode-shapes.json'), JSON.stringify({ yardstick: { readGBperS: 4147 } }));
    expect(readBandwidthFor(report, dir).bytesPerS).toBe(4147e9);
    expect(readBandwidthFor({ ...report, readBandwidthBytesPerS: 3e12 }, dir).bytesPerS).toBe(3e12);
  });
  it('merges runs: a later run\'s cell replaces the earlier one\'s, the rest stay, and each says its run', () => {
    const cell = (format: string, tokS: number, results: string) => {
      const es = [engine('sieve', tokS, 50), engine('transformers', 100, 25)];
      return { model: 'm', format, rounds: 5, exportOps: {}, exportBytes: 0, engines: es, ratiosToSieve: ratiosToSieve(es), from: { results, date: results.includes('run3') ? '2026-12-06' : '2026-12-04', adapter: 'H200', versions: { sieve: '0.1.0' }, readBandwidthBytesPerS: 4e12 } };
    };
    const old: Report = { ...report, cells: [cell('fp16', 300, 'bench/results/run2/yardstick/compare-m.json'), cell('q4', 150, 'bench/results/run2/yardstick/compare-m.json')],
      notRun: [{ engine: 'webllm', model: 'm', format: 'fp16', reason: 'no library' }, { engine: 'webllm', model: 'm', format: 'q4', reason: 'no library' }] };
    const newer: Report = { ...report, date: '2026-12-06T00:00:00Z', cells: [cell('fp16', 400, 'bench/results/run3/yardstick/compare-m.json')], notRun: [] };
    const m = mergeReports([old, newer]);
    expect(m.cells.map((c) => `${c.format} ${c.engines[0].decodeTokensPerS[512].median}`)).toEqual(['q4 150', 'fp16 400']);
    // WebLLM's "no library" for fp16 was the old run's, whose fp16 cell is gone; q4's stays with its cell.
    expect(m.notRun.map((n) => n.format)).toEqual(['q4']);
    expect(runLabel('bench/results/run3/yardstick/compare-m.json')).toBe('run3');
    const body = readmeSection(m, 'docs/yardstick.svg', 'bench/results/compare-h200.json');
    expect(body).toContain('The cells come from 2 runs (the run column): run2 (2026-12-04');
    expect(body).toContain('| m | fp16 | Transformers.js | run3 | yes | 5 |');
  });
});
