// Quantized and f16 weights in the real engine (Chromium, WebGPU, our GEMMs in prefill, our int4/int8/f16 kernels in
// decode) against transformers' f32 logits of the golden checkpoints: the tolerance docs/quantization.md documents.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { decodeF32, GOLDEN_DIR, goldenIds, hostOk, openHost, readF32, storiesKnownIds } from './host.ts';

type Mode = 'int8' | 'int4';

/**
 * Max |quantized - f32 transformers| per logit, per mode, over all golden models, prefill and decode: the measured
 * worst case (docs/quantization.md) with margin. The golden models are tiny random checkpoints (normal(0, 0.08)
 * weights, no outliers, hidden 64-96), so these are bounds for them, not for a trained model.
 */
const LOGIT_TOLERANCE: Record<Mode, number> = { int8: 0.15, int4: 2.5 };
/** Positions (of 300) where the quantized argmax must equal f32's: the measured worst case (95.3%, 44.7%), less a margin. */
const MIN_ARGMAX_AGREEMENT: Record<Mode, number> = { int8: 0.9, int4: 0.4 };
/** A generated token may trail its row's max logit by this much (prefill and decode differ by ~2e-6). */
const GREEDY_TIE = 1e-3;
/** Prefill (ORT MatMulNBits) and decode (our kernels) over the same quantized weights. */
const PATH_TOLERANCE = 1e-3;
/** Decode positions checked (SwiftShader is slow); 64 cross four KV pages. */
const DECODE_POSITIONS = 64;

test.describe.configure({ mode: 'serial' });

function compare(got: Float32Array, want: Float32Array, vocab: number): { maxAbs: number; argmaxAgreement: number } {
  let maxAbs = 0;
  let agree = 0;
  const rows = got.length / vocab;
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let i = 0; i < vocab; i++) {
      const k = r * vocab + i;
      maxAbs = Math.max(maxAbs, Math.abs(got[k] - want[k]));
      if (got[k] > got[r * vocab + a]) a = i;
      if (want[k] > want[r * vocab + b]) b = i;
    }
    if (a === b) agree++;
  }
  return { maxAbs, argmaxAgreement: agree / rows };
}

const measured: string[] = [];

/**
 * Two of the five golden models, one mode each, keep the suite's time in bounds (each case costs ~20 s on
 * SwiftShader): qwen2 (f16 shards, q/k/v bias) in int4 and llama-gqa-untied (GQA, an untied head) in int8; qwen3
 * int4 through our decoder and stories260K in both modes follow below. The quantized kernels see every shape
 * in the unit tests (engine/decode/*quant*.test.ts, engine/prefill/*.test.ts). docs/quantization.md
 * lists the figures measured on all five.
 */
const QUANTIZED_CASES: [string, Mode][] = [['llama-gqa-untied', 'int8'], ['qwen2', 'int4']];

for (const [name, mode] of QUANTIZED_CASES) {
  test(`golden ${name} ${mode}: logits within ${LOGIT_TOLERANCE[mode]} of f32, prefill equals decode, greedy compared`, async ({ page }) => {
    await openHost(page);
    const info = (await hostOk(page, 'load', { url: `/models/golden/${name}/`, quantization: mode })).info as { weightBytes: number };
    const ids = goldenIds(name);
    const expected = readF32(`${GOLDEN_DIR}${name}/logits.f32`);
    const vocab = expected.length / ids.length;
    const prefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill' })).base64 as string);
    const decodeIds = ids.slice(0, DECODE_POSITIONS);
    const decode = decodeF32((await hostOk(page, 'logits', { ids: decodeIds, mode: 'decode' })).base64 as string);
    const p = compare(prefill, expected, vocab);
    const d = compare(decode, expected.subarray(0, DECODE_POSITIONS * vocab), vocab);
    const paths = compare(decode, prefill.subarray(0, DECODE_POSITIONS * vocab), vocab);

    const greedy = JSON.parse(readFileSync(`${GOLDEN_DIR}${name}/greedy.json`, 'utf8')) as { prompt: number[]; continuation: number[] };
    const r = await hostOk(page, 'generate', { ids: greedy.prompt, maxTokens: greedy.continuation.length, ignoreEos: true, temperature: 0 });
    const got = (r.result as { ids: number[] }).ids;
    let same = 0;
    while (same < got.length && got[same] === greedy.continuation[same]) same++;
    // Greedy decoding of the quantized model follows its own argmax: every generated token is the top logit of
    // the quantized model's prefill over prompt + generated ids at its position.
    expect(got.length).toBe(greedy.continuation.length);
    const seq = [...greedy.prompt, ...got];
    const own = decodeF32((await hostOk(page, 'logits', { ids: seq, mode: 'prefill' })).base64 as string);
    for (let t = 0; t < got.length; t++) {
      const row = own.subarray((greedy.prompt.length - 1 + t) * vocab, (greedy.prompt.length + t) * vocab);
      expect(Math.max(...row) - row[got[t]], `greedy token ${t}`).toBeLessThanOrEqual(GREEDY_TIE);
    }

    const line = `${name} ${mode}: weights ${info.weightBytes} B; prefill max |d| ${p.maxAbs.toExponential(2)}, argmax ${(p.argmaxAgreement * 100).toFixed(1)}%; ` +
      `decode ${d.maxAbs.toExponential(2)}; prefill vs decode ${paths.maxAbs.toExponential(2)}; greedy ${same}/${greedy.continuation.length} equal to transformers`;
    measured.push(line);
    console.log(line);
    test.info().annotations.push({ type: 'quantized', description: line });
    expect(p.maxAbs).toBeLessThan(LOGIT_TOLERANCE[mode]);
    expect(d.maxAbs).toBeLessThan(LOGIT_TOLERANCE[mode]);
    expect(paths.maxAbs).toBeLessThan(PATH_TOLERANCE);
    expect(p.argmaxAgreement).toBeGreaterThanOrEqual(MIN_ARGMAX_AGREEMENT[mode]);
  });
}

// qwen3 (q/k norm) in int4 (the int8 kernels are checked against the CPU dequantizer in
// engine/decode/kernels-quant.test.ts): decode (our kernels) against prefill (ORT's MatMulNBits).
for (const mode of ['int4'] as const) {
  test(`golden qwen3 ${mode}: decode equals prefill within ${PATH_TOLERANCE}`, async ({ page }) => {
    const name = 'qwen3';
    await openHost(page);
    await hostOk(page, 'load', { url: `/models/golden/${name}/`, quantization: mode });
    const ids = goldenIds(name).slice(0, DECODE_POSITIONS);
    const expected = readF32(`${GOLDEN_DIR}${name}/logits.f32`).subarray(0, DECODE_POSITIONS * 512);
    const prefill = decodeF32((await hostOk(page, 'logits', { ids, mode: 'prefill' })).base64 as string);
    const decode = decodeF32((await hostOk(page, 'logits', { ids, mode: 'decode' })).base64 as string);
    const paths = compare(decode, prefill, 512);
    const d = compare(decode, expected, 512);
    const line = `${name} ${mode}: decode vs prefill ${paths.maxAbs.toExponential(2)}, vs f32 ${d.maxAbs.toExponential(2)}`;
    measured.push(line);
    console.log(line);
    expect(paths.maxAbs).toBeLessThan(PATH_TOLERANCE);
    expect(d.maxAbs).toBeLessThan(LOGIT_TOLERANCE[mode]);
  });
}

/** stories260K in f16: greedy from BOS equals the published f32 ids for at least this many of 64 (measured: all 64). */
const STORIES_F16_MIN_EQUAL_PREFIX = 60;

/**
 * stories260K (a trained model; FFN width 172, so MatMulNBits' padded last block on ORT's WebGPU EP): greedy from BOS
 * against its published f32 output. Measured: int8 equals it for the first 71 of 80 tokens, int4 for 27 (then
 * fluent but different: "...play outside in the sun.").
 */
const STORIES_MIN_EQUAL_PREFIX: Record<Mode | 'f16', number> = { int8: 60, int4: 20, f16: STORIES_F16_MIN_EQUAL_PREFIX };
/** Tokens generated: the bound above plus room to show where the ids part. */
const STORIES_TOKENS: Record<Mode | 'f16', number> = { int8: 64, int4: 32, f16: 64 };

// f16 here: its matrices as f16 pairs through the whole engine (prefill GEMM, decode matvec, embedding), on the same
// SwiftShader adapter (f16 storage needs no shader-f16); the FFN's down_proj (width 172, not whole 8-value units)
// stays f32, so the mixed case runs too.
for (const mode of ['int8', 'int4', 'f16'] as const) {
  test(`stories260K ${mode}: greedy from BOS keeps the published f32 ids for ${STORIES_MIN_EQUAL_PREFIX[mode]}+ tokens`, async ({ page }) => {
    await openHost(page);
    const known = storiesKnownIds();
    const loadedInfo = (await hostOk(page, 'load', { url: '/shared-models/stories260K/stories260K.gguf', quantization: mode })).info as { quantization: string; weightFormats: Record<string, number> };
    expect(loadedInfo.quantization).toBe(mode);
    // The info counts tensors per storage format: the matrices in the mode (f16 leaves the width-172 down_proj f32), norms f32.
    expect(loadedInfo.weightFormats[mode === 'f16' ? 'f16' : `${mode}/32`]).toBeGreaterThan(0);
    expect(Object.keys(loadedInfo.weightFormats).sort()).toEqual([mode === 'f16' ? 'f16' : `${mode}/32`, 'f32'].sort());
    const r = await hostOk(page, 'generate', { ids: [1], maxTokens: STORIES_TOKENS[mode], ignoreEos: true });
    const ids = (r.result as { ids: number[] }).ids;
    let same = 0;
    while (same < known.length && ids[same] === known[same]) same++;
    const line = `stories260K ${mode}: greedy equals the published f32 ids for ${same} of ${STORIES_TOKENS[mode]} tokens`;
    measured.push(line);
    console.log(line);
    expect(same).toBeGreaterThanOrEqual(STORIES_MIN_EQUAL_PREFIX[mode]);
  });
}

test('rejects an unknown quantization by name', async ({ page }) => {
  await openHost(page);
  const r = await hostOk(page, 'load', { url: '/models/golden/qwen3/', quantization: 'f32' });
  expect(r.info).toBeDefined();
  const { hostCall } = await import('./host.ts');
  const bad = await hostCall(page, 'load', { url: '/models/golden/qwen3/', quantization: 'q4_k' });
  expect((bad.error as { code: string }).code).toBe('INVALID_ARGUMENT');
  expect((bad.error as { message: string }).message).toMatch(/quantization: must be one of f32, f16, int8, int4/);
  console.log(measured.join('\n'));
});
