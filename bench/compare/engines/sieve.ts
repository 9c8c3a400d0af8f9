// Sieve through its public face (engine/index.ts), as the worker runs it: load by URL, OpenAI-style completions with
// token ids as the prompt, streamed (one chunk per token: export.py writes a tokenizer whose every token has text).
import * as ort from 'onnxruntime-web/webgpu';
import { SieveEngine } from '../../../engine/index.ts';
import { QUANTIZATION_MODES } from '../../../engine/quant/index.ts';
import type { EngineUnderTest, ModelRef } from '../protocol.ts';
import { packageVersions } from '../versions.ts';

/** Whether this Sieve has f16 weights ('f16' among its quantization modes); until it does, the fp16 cell runs f32. */
const HAS_F16 = (QUANTIZATION_MODES as readonly string[]).includes('f16');
/** The cell's format as Sieve runs it, from the f16 checkpoint: f32 (widened at load), f16 where it has it, int4. */
const QUANTIZATION = { fp32: 'f32', fp16: HAS_F16 ? 'f16' : 'f32', q4: 'int4' } as const;

export function createSieve(): EngineUnderTest {
  // One wasm thread, as bench/node-harness.ts: ORT's threaded wasm buys nothing for GPU work.
  ort.env.wasm.numThreads = 1;
  let engine: SieveEngine | null = null;
  let weightBytes = 0;
  return {
    describe: (format) => format === 'q4'
      ? 'Sieve int4 (quantized at load from the f16 checkpoint: symmetric blocks of 32, f32 scales, f32 activations; f32 KV)'
      : QUANTIZATION[format] === 'f16'
        ? "Sieve f16 (quantization 'f16': the checkpoint's f16 weights kept as f16, packed in u32 words and read without shader-f16; f32 activations and KV)"
        : `Sieve f32 (the f16 checkpoint widened to f32 at load; f32 activations and KV)${format === 'fp16' ? ": this Sieve has no f16 weights yet, so its fp16 cell runs f32" : ''}`,
    versions: async () => {
      const v = packageVersions();
      return { sieve: v.sieve, 'onnxruntime-web': ort.env.versions.web ?? v['onnxruntime-web'], webgpu: v.webgpu };
    },
    async load(model: ModelRef, onStage) {
      engine ??= new SieveEngine();
      // Its load phases as they first appear (fetch, parse, upload and compile interleave as tensors stream).
      const seen = new Set<string>();
      const onProgress = (p: { phase: string }) => { if (!seen.has(p.phase)) { seen.add(p.phase); onStage(p.phase); } };
      const info = await engine.load(model.url, onProgress, { quantization: QUANTIZATION[model.format] as never });
      weightBytes = info.weightBytes;
    },
    async generate(ids, maxTokens, onToken) {
      if (!engine) throw new Error('not loaded');
      const out: number[] = [];
      let cached: number | null = null;
      // Each token's text is `<id>` in these random vocabularies (export.py), so the stream carries the ids.
      await engine.completion({ prompt: ids, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true }, (chunk) => {
        const choice = chunk.choices[0];
        if (choice?.text) {
          onToken();
          for (const m of choice.text.matchAll(/<(\d+)>/g)) out.push(Number(m[1]));
        }
        if (chunk.usage) cached = chunk.usage.prompt_tokens_details.cached_tokens;
      });
      return { ids: out, cachedTokens: cached };
    },
    async unload() {
      await engine?.unload();
    },
    weightBytesPerToken: () => weightBytes,
    kvBytesPerToken: (model) => 2 * model.exportInfo.config.num_hidden_layers * model.exportInfo.config.num_key_value_heads * model.exportInfo.config.head_dim * 4,
  };
}
