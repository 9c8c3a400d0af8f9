// One fuzz target per input kind the engine parses: a fast-check arbitrary of mutated inputs and the code that reads them.
// Imports name the parser files, not the module faces: the faces pull in WGSL (?raw) imports that plain Node (tsx, the bench) cannot load.
import fc from 'fast-check';
import { validateChatCompletionRequest, validateCompletionRequest } from '../api/validate.ts';
import { parseAttentionSpec, policyParameterTable } from '../attention/spec.ts';
import { checkCalibrationFits, parseCalibrationBytes, type CalibrationMethod } from '../calibration/artifact.ts';
import { parseHfConfig, parseSafetensorsFile, type ModelConfig } from '../model/index.ts';
import { parseGguf } from '../model/gguf.ts';
import { createChatTemplate, DEFAULT_CHAT_TEMPLATE, ggufTokenizer, loadTokenizer } from '../tokenizer/index.ts';
import type { FuzzCorpus } from './corpus.ts';
import { applyByteEdits, applyJsonEdits, byteEdits, jsonEdits, jsonValue, type Json } from './mutate.ts';

export interface FuzzTarget<I = unknown> {
  /** The input kind, as in bench/results/fuzz.json. */
  kind: string;
  arbitrary: fc.Arbitrary<I>;
  /** Reads the input as the engine would; may return or throw (a typed error is a pass), never hang. */
  run(input: I): void | Promise<void>;
}

const encoder = new TextEncoder();
const json = (v: Json) => encoder.encode(JSON.stringify(v) ?? 'undefined');
/** Text for encode/render: any unicode, lone surrogates included. */
const text = fc.oneof(fc.string({ maxLength: 40, unit: 'grapheme' }), fc.string({ maxLength: 40, unit: 'binary' }), fc.constantFrom('', ' ', '\n\n', '<s></s><pad>', '12345'));

// ---- safetensors: a valid small file, its header edited as JSON, then its bytes edited ----

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, F64: 8 };
const tensorSpec = fc.record({
  name: fc.oneof(fc.constantFrom('model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'), fc.string({ maxLength: 12 })),
  dtype: fc.constantFrom('F32', 'F16', 'BF16', 'F32', 'I8', 'F64'),
  shape: fc.array(fc.nat({ max: 5 }), { maxLength: 3 }),
});

function safetensorsFile(specs: { name: string; dtype: string; shape: number[] }[], headerEdits: Parameters<typeof applyJsonEdits>[1]): Uint8Array {
  const header: Record<string, Json> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[s.dtype];
    header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const edited = headerEdits.length > 0 ? applyJsonEdits(header, headerEdits) : header;
  const head = json(edited);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 8);
  for (let i = 8 + head.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

const safetensors: FuzzTarget<{ specs: { name: string; dtype: string; shape: number[] }[]; header: Parameters<typeof applyJsonEdits>[1]; bytes: Parameters<typeof applyByteEdits>[1] }> = {
  kind: 'safetensors',
  arbitrary: fc.record({
    specs: fc.uniqueArray(tensorSpec, { maxLength: 4, selector: (s) => s.name }),
    header: fc.oneof(fc.constant([]), jsonEdits(3)),
    bytes: fc.oneof(fc.constant([]), byteEdits(3)),
  }),
  run({ specs, header, bytes }) {
    const file = safetensorsFile(specs, header);
    parseSafetensorsFile(bytes.length > 0 ? applyByteEdits(file, bytes, 8 + (file.length >> 1)) : file, 'model.safetensors');
  },
};

// ---- GGUF: the real stories260K file with bytes edited, mostly in its header (metadata and tensor infos) ----

/** stories260K's metadata and tensor infos fill its first ~8 KB (the 512-token vocabulary); data follows. */
const GGUF_HEADER_FOCUS = 8192;

function gguf(corpus: FuzzCorpus): FuzzTarget<{ edits: Parameters<typeof applyByteEdits>[1]; text: string; ids: number[] }> {
  return {
    kind: 'gguf',
    arbitrary: fc.record({ edits: byteEdits(4), text, ids: fc.array(fc.integer({ min: -2, max: 600 }), { maxLength: 8 }) }),
    run({ edits, text: t, ids }) {
      const { vocabulary } = parseGguf(applyByteEdits(corpus.gguf, edits, GGUF_HEADER_FOCUS), 'stories260K.gguf');
      const tokenizer = ggufTokenizer(vocabulary);
      tokenizer.decode(tokenizer.encode(t));
      tokenizer.decode(ids);
    },
  };
}

// ---- tokenizer.json and tokenizer_config.json, each edited as JSON, then encode and decode ----

const TOKENIZER_CONFIG: ModelConfig = { bosTokenId: 1 } as ModelConfig;

function tokenizer(corpus: FuzzCorpus): FuzzTarget<{ tokenizer: Parameters<typeof applyJsonEdits>[1]; config: Parameters<typeof applyJsonEdits>[1]; text: string; ids: number[] }> {
  return {
    kind: 'tokenizer',
    arbitrary: fc.record({
      tokenizer: jsonEdits(3),
      config: fc.oneof(fc.constant([]), jsonEdits(2)),
      text,
      ids: fc.array(fc.integer({ min: -2, max: 450 }), { maxLength: 8 }),
    }),
    run(input) {
      const tokenizerJson = applyJsonEdits(corpus.tokenizerJson, input.tokenizer);
      const tokenizerConfig = applyJsonEdits(corpus.tokenizerConfig, input.config);
      const t = loadTokenizer({
        tokenizerFiles: { tokenizerJson, tokenizerConfig: tokenizerConfig as Record<string, unknown>, generationConfig: null },
        config: TOKENIZER_CONFIG, source: 'fuzz', ggufVocabulary: null,
      });
      if (!t) return;
      t.decode(t.encode(input.text));
      t.decode(input.ids);
    },
  };
}

// ---- chat templates: real templates with Jinja fragments spliced in or cut out, rendered over random messages ----

const FRAGMENTS = [
  '{{', '}}', '{%', '%}', '{#', '#}', '{%-', '-%}', ' for message in messages ', ' endfor ', ' if ', ' elif ', ' else ', ' endif ',
  ' set x = ', ' macro m() ', ' endmacro ', 'message', "message['content']", 'message.role', 'loop.index', ' | upper', ' | length',
  ' | tojson', ' | join(", ") ', 'raise_exception("refused")', 'range(3)', 'messages[0]', 'messages[-1]', ' + ', ' ~ ', ' == ', ' is defined ',
  ' not ', ' and ', '(', ')', '[', ']', '"', "'", 'bos_token', 'eos_token', 'add_generation_prompt', 'none', 'true', '1/0', 'x.y.z',
  ' namespace(a=1) ', 'strftime_now("%Y")', ' in ', '.items()', '{{ messages | map(attribute="role") | list }}',
];
const BASE_TEMPLATES = [
  DEFAULT_CHAT_TEMPLATE,
  "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}\n{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}",
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
  "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% for m in messages %}[{{ loop.index }}] {{ m.content | trim }}{% endfor %}",
];
const spliceEdit = fc.record({ at: fc.nat(), cut: fc.nat({ max: 12 }), insert: fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 })) });
const message = fc.record({
  role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), fc.string({ maxLength: 6 })),
  content: fc.oneof(text, jsonValue),
});

const chatTemplate: FuzzTarget<{ base: number; edits: { at: number; cut: number; insert: string }[]; config: Json; messages: unknown[]; generation: boolean }> = {
  kind: 'chat-template',
  arbitrary: fc.record({
    base: fc.nat({ max: BASE_TEMPLATES.length - 1 }),
    edits: fc.array(spliceEdit, { maxLength: 4 }),
    config: fc.oneof(fc.constant({}), fc.record({ bos_token: jsonValue, eos_token: jsonValue }, { requiredKeys: [] })),
    messages: fc.array(message, { maxLength: 4 }),
    generation: fc.boolean(),
  }),
  run({ base, edits, config, messages, generation }) {
    let source = BASE_TEMPLATES[base];
    for (const e of edits) {
      const at = e.at % (source.length + 1);
      source = source.slice(0, at) + e.insert + source.slice(at + e.cut);
    }
    const template = createChatTemplate({ ...(config as object), chat_template: source });
    template.render(messages as never, { addGenerationPrompt: generation });
  },
};

// ---- calibration artifacts: a valid artifact for a small random model, edited as JSON (or as bytes) ----

const CALIBRATION_MODEL = { architecture: 'llama', numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 4, hiddenSize: 8, vocabSize: 16, ropeLayout: 'half', ropeTheta: 10000 };

function calibrationArtifact(method: CalibrationMethod, values: number[]): Json {
  const { numLayers: L, numHeads: H, headDim } = CALIBRATION_MODEL;
  const E = method === 'double-sparsity' ? headDim : headDim / 2;
  let next = 0;
  const cube = () => Array.from({ length: L }, () => Array.from({ length: H }, () => Array.from({ length: E }, () => values[next++ % values.length])));
  const scores = cube();
  const ranks = scores.map((layer) => layer.map((row) => row.map((_, i) => i).sort((a, b) => row[b] - row[a] || a - b)));
  const data: Json = method === 'double-sparsity' ? { statistic: 'qk', scores, ranks } : { topK: 4, queries: 8, agreement: scores, ranks };
  return {
    format: 'sieve-calibration', version: 1, method, model: { source: 'fuzz', ...CALIBRATION_MODEL },
    shape: { layers: L, heads: H, entries: E }, calibration: { text: 'fuzz.txt', tokens: 64, window: 32 }, data,
  };
}

const calibration: FuzzTarget<{ method: CalibrationMethod; values: number[]; edits: Parameters<typeof applyJsonEdits>[1]; bytes: Parameters<typeof applyByteEdits>[1]; expect: boolean }> = {
  kind: 'calibration',
  arbitrary: fc.record({
    method: fc.constantFrom<CalibrationMethod>('double-sparsity', 'fasa'),
    values: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 16 }),
    edits: fc.oneof(fc.constant([]), jsonEdits(3)),
    bytes: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: byteEdits(2) }),
    expect: fc.boolean(),
  }),
  run({ method, values, edits, bytes, expect }) {
    const file = json(applyJsonEdits(calibrationArtifact(method, values), edits));
    const artifact = parseCalibrationBytes(bytes.length > 0 ? applyByteEdits(file, bytes) : file, 'fuzz.calibration.json', expect ? method : undefined);
    checkCalibrationFits(artifact, CALIBRATION_MODEL as unknown as ModelConfig, 'fuzz.calibration.json');
  },
};

// ---- config.json: a valid Llama config edited as JSON ----

const LLAMA_CONFIG: Json = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 8, intermediate_size: 12, num_attention_heads: 2,
  num_key_value_heads: 1, num_hidden_layers: 2, vocab_size: 16, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000,
  tie_word_embeddings: false, bos_token_id: 1, eos_token_id: [2, 3], rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 },
};

const config: FuzzTarget<Parameters<typeof applyJsonEdits>[1]> = {
  kind: 'config',
  arbitrary: jsonEdits(4),
  run(edits) {
    parseHfConfig(applyJsonEdits(LLAMA_CONFIG, edits), 'config.json');
  },
};

// ---- API requests: valid chat and completion requests edited as JSON ----

const CHAT_REQUEST: Json = {
  model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  max_tokens: 8, temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, repetition_penalty: 1.1, presence_penalty: 0, frequency_penalty: 0,
  seed: 3, stop: ['\n'], logit_bias: { 5: -100 }, stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 2,
  attention: { policy: 'h2o', budget: 64 },
};
const COMPLETION_REQUEST: Json = { prompt: [1, 2, 3], max_tokens: 4, logprobs: 2, stop: 'x', attention: 'streaming:budget=32', ignore_eos: false, n: 1 };

const apiRequest: FuzzTarget<{ chat: boolean; edits: Parameters<typeof applyJsonEdits>[1]; vocab: number }> = {
  kind: 'api-request',
  arbitrary: fc.record({ chat: fc.boolean(), edits: jsonEdits(4), vocab: fc.constantFrom(16, 512, 6144) }),
  run({ chat, edits, vocab }) {
    const request = applyJsonEdits(chat ? CHAT_REQUEST : COMPLETION_REQUEST, edits);
    const validated = chat ? validateChatCompletionRequest(request, vocab) : validateCompletionRequest(request, vocab);
    if (validated.attention !== undefined) parseAttentionSpec(validated.attention as never);
  },
};

// ---- attention spec strings (CLI grammar) and objects (API), from the parameter table's own words ----

const rows = policyParameterTable();
const policyName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...new Set(rows.map((r) => r.policy))) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
const paramKey = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...new Set(rows.flatMap((r) => [r.name, r.cliName]))) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
const paramValue = fc.oneof(
  fc.integer({ min: -5, max: 5000 }).map(String), fc.double().map(String), fc.constantFrom('', '0', '1e999', '0x10', '1/0.5', '0.9/0.95/', '/', 'NaN', '-0', ' 7 ', '2048'),
  fc.string({ maxLength: 6 }),
);
const cliSpec = fc.tuple(policyName, fc.array(fc.tuple(paramKey, fc.constantFrom('=', '==', '', ':'), paramValue), { maxLength: 4 }), fc.constantFrom(':', '', '::', ' : '))
  .map(([policy, pairs, colon]) => (pairs.length > 0 ? `${policy}${colon}${pairs.map(([k, eq, v]) => `${k}${eq}${v}`).join(',')}` : policy));
const apiSpec = fc.tuple(policyName, fc.dictionary(paramKey, fc.oneof(paramValue, jsonValue), { maxKeys: 4 }))
  .map(([policy, params]) => ({ ...params, policy }) as Json);

const attentionSpec: FuzzTarget<Json> = {
  kind: 'attention-spec',
  arbitrary: fc.oneof(cliSpec, apiSpec, fc.string({ maxLength: 30 }), jsonValue),
  run(input) {
    parseAttentionSpec(input as never);
  },
};

/** Every input kind, in the order the report lists them. */
export function fuzzTargets(corpus: FuzzCorpus): FuzzTarget<never>[] {
  return [safetensors, gguf(corpus), tokenizer(corpus), chatTemplate, calibration, config, apiRequest, attentionSpec] as FuzzTarget<never>[];
}
