// Typed errors of the engine: one class per failure kind, each with a stable `code` and a remedy.

/** Stable machine-readable codes; never renamed once released. */
export type SieveErrorCode =
  | 'NO_WEBGPU'
  | 'MISSING_FEATURE'
  | 'BUFFER_LIMIT'
  | 'BAD_MODEL_FILE'
  | 'MISSING_TENSOR'
  | 'UNSUPPORTED_DTYPE'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'MODEL_FETCH_FAILED'
  | 'MODEL_ACCESS_DENIED'
  | 'STORAGE_QUOTA'
  | 'INTEGRITY_CHECK_FAILED'
  | 'CONTEXT_FULL'
  | 'OUT_OF_GPU_MEMORY'
  | 'ABORTED'
  | 'DEVICE_LOST'
  | 'WORKER_DIED'
  | 'INVALID_ARGUMENT'
  | 'NOT_LOADED'
  | 'EMBED_ORIGIN_REFUSED'
  | 'EMBED_FRAME_UNAVAILABLE'
  | 'BAD_CALIBRATION'
  | 'CALIBRATION_MISSING'
  | 'NON_FINITE_LOGITS'
  | 'NOT_A_MODEL'
  | 'UNSUPPORTED_PARAMETER'
  | 'INVALID_SCHEMA'
  | 'REMOTE_UNAUTHORIZED'
  | 'REMOTE_RATE_LIMITED'
  | 'REMOTE_SERVER_ERROR'
  | 'REMOTE_REJECTED'
  | 'REMOTE_UNREACHABLE'
  | 'GPU_VALIDATION'
  | 'MODEL_IN_USE'
  | 'TAB_UNRESPONSIVE';

export interface SieveErrorJSON {
  name: string;
  code: SieveErrorCode;
  message: string;
  remedy: string;
  details?: Record<string, unknown>;
}

/** Base of every error the engine throws on purpose. `remedy` says what the user can do. */
export class SieveError extends Error {
  readonly code: SieveErrorCode;
  readonly remedy: string;
  readonly details?: Record<string, unknown>;

  constructor(code: SieveErrorCode, message: string, remedy: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.remedy = remedy;
    this.details = details;
  }

  toJSON(): SieveErrorJSON {
    return { name: this.name, code: this.code, message: this.message, remedy: this.remedy, details: this.details };
  }
}

export class NoWebGPUError extends SieveError {
  constructor(message = 'WebGPU is not available in this browser or worker.') {
    super('NO_WEBGPU', message, 'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).');
  }
}

export class MissingFeatureError extends SieveError {
  constructor(feature: string, need: string) {
    super('MISSING_FEATURE', `The GPU adapter lacks the feature "${feature}", needed for ${need}.`, 'Choose an f32 model variant or a device that supports this feature.', { feature });
  }
}

/** A model or buffer larger than what the adapter allows. */
export class BufferLimitError extends SieveError {
  constructor(what: string, bytes: number, limit: number, limitName: string) {
    super(
      'BUFFER_LIMIT',
      `${what} needs ${bytes} bytes but the adapter's ${limitName} is ${limit}.`,
      'Use a smaller or quantized model, a smaller KV budget, or a device with larger limits.',
      { what, bytes, limit, limitName },
    );
  }
}

/** A model file that cannot be parsed: names the file and the field that is wrong. */
export class BadModelFileError extends SieveError {
  constructor(file: string, field: string, problem: string) {
    super('BAD_MODEL_FILE', `${file}: ${field}: ${problem}`, 'Re-download or re-export the model file; it is truncated or malformed.', { file, field });
  }
}

export class MissingTensorError extends SieveError {
  constructor(file: string, tensor: string) {
    super('MISSING_TENSOR', `${file}: tensor "${tensor}" is missing.`, 'Check that the checkpoint is complete and matches its config.json.', { file, field: tensor });
  }
}

export class UnsupportedDtypeError extends SieveError {
  constructor(file: string, tensor: string, dtype: string, supported: string[]) {
    super(
      'UNSUPPORTED_DTYPE',
      `${file}: tensor "${tensor}" has dtype ${dtype}; supported: ${supported.join(', ')}.`,
      'Convert the checkpoint to one of the supported dtypes.',
      { file, field: tensor, dtype, supported },
    );
  }
}

export class UnsupportedArchitectureError extends SieveError {
  constructor(file: string, architecture: string, supported: string[]) {
    super(
      'UNSUPPORTED_ARCHITECTURE',
      `${file}: model_type "${architecture}" is not supported; supported: ${supported.join(', ')}.`,
      'Pick a model of a supported architecture.',
      { file, field: 'model_type', architecture, supported },
    );
  }
}

export class ModelFetchError extends SieveError {
  constructor(url: string, status: number | string) {
    super('MODEL_FETCH_FAILED', `Could not fetch ${url}: ${status}.`, 'Check the model URL or folder and your network connection.', { url, status });
  }
}

/** 401/403 from the hub: a gated or private repository, or a token without access. */
export class ModelAccessError extends SieveError {
  constructor(url: string, status: number, hasToken: boolean) {
    super(
      'MODEL_ACCESS_DENIED',
      `${url}: HTTP ${status}, access denied${hasToken ? ' for this access token' : ' (no access token was given)'}.`,
      'The model is gated or private: accept its license on its Hugging Face page, then load it with an access token (huggingface.co/settings/tokens) that can read it.',
      { url, status, hasToken },
    );
  }
}

/** Not enough browser storage for a download; says how much is needed and how much is free. */
export class StorageQuotaError extends SieveError {
  constructor(what: string, neededBytes: number, availableBytes: number) {
    super(
      'STORAGE_QUOTA',
      `${what} needs ${neededBytes} more bytes of browser storage but only ${Math.max(0, availableBytes)} are available.`,
      'Free space: remove cached models you no longer use or other sites\' data, or pick a smaller model.',
      { what, neededBytes, availableBytes },
    );
  }
}

/** A download whose size or hash is not what the server announced; the bad copy is deleted. */
export class IntegrityError extends SieveError {
  constructor(url: string, check: 'size' | 'sha256' | 'git-sha1', expected: string | number, actual: string | number) {
    super(
      'INTEGRITY_CHECK_FAILED',
      `${url}: the ${check} of what arrived is ${actual}, expected ${expected}.`,
      'The corrupted copy was deleted; load the model again. If it repeats, the server or a proxy on the way alters the file.',
      { url, check, expected, actual },
    );
  }
}

export class ContextFullError extends SieveError {
  /**
   * `why`: what bounds the context when it is not the trained one, e.g. "what 1 GiB of KV memory holds (32 KiB per
   * token); the model was trained for 131072".
   */
  constructor(needed: number, limit: number, why?: string) {
    super(
      'CONTEXT_FULL',
      `The sequence needs ${needed} positions but the context is ${limit}${why ? ` (${why})` : ''}.`,
      'Shorten the prompt, lower max_tokens, load with a larger kvMemory (or kvDtype \'f16\': twice the tokens), or use an evicting attention policy (streaming, h2o, a2sf).',
      why ? { needed, limit, why } : { needed, limit },
    );
  }
}

export class OutOfGpuMemoryError extends SieveError {
  constructor(what: string, bytes: number, detail: string) {
    super(
      'OUT_OF_GPU_MEMORY',
      `The GPU refused ${bytes} bytes for ${what}: ${detail}.`,
      'Close other GPU-heavy tabs or apps, load with a smaller kvMemory (kvDtype \'f16\' holds the same tokens in half), or pick a smaller or quantized model.',
      { what, bytes, detail },
    );
  }
}

/**
 * The GPU refused to make something (a pipeline whose shader or layout this adapter does not accept, a buffer against
 * its limits): caught by a validation error scope where the engine makes its pipelines and buffers, instead of an
 * invalid object that fails every later step.
 */
export class GpuValidationError extends SieveError {
  constructor(what: string, detail: string) {
    super(
      'GPU_VALIDATION',
      `The GPU refused ${what}: ${detail}`,
      'The engine stays usable. This adapter or browser does not accept what this model needs: try f32 weights or another '
        + 'model, update the browser, or report it with this message and the adapter it names.',
      { what, detail },
    );
  }
}

export class AbortedError extends SieveError {
  constructor(message = 'The request was aborted.', details?: Record<string, unknown>) {
    super('ABORTED', message, 'Nothing to do; the engine is ready for the next request.', details);
  }
}

/** The engine's worker died (crashed, ran out of memory, or was terminated) while calls were pending. */
export class WorkerDiedError extends SieveError {
  constructor(reason: string) {
    super(
      'WORKER_DIED', `The engine's worker stopped: ${reason}.`,
      'The next call starts a new worker; load the model again (a model kept in the browser\'s store loads with no download).',
      { reason },
    );
  }
}

export class DeviceLostError extends SieveError {
  constructor(reason: string) {
    super('DEVICE_LOST', `The GPU device was lost: ${reason}`, 'Reload the model; if it repeats, close other GPU-heavy tabs.', { reason });
  }
}

export class InvalidArgumentError extends SieveError {
  /** `remedy`: what the value may be, where "Fix the value" would leave the user guessing. */
  constructor(param: string, problem: string, remedy = `Fix the value of "${param}".`) {
    super('INVALID_ARGUMENT', `${param}: ${problem}`, remedy, { param });
  }
}

/** What a model may be given as (the model picker, the CLI, the load API): said wherever a model input is refused. */
export const ACCEPTED_MODEL_INPUTS =
  'a folder URL or path holding config.json, *.safetensors and tokenizer.json, a .gguf file URL or path, '
  + 'or a Hugging Face repo id such as HuggingFaceTB/SmolLM2-135M-Instruct';

/**
 * A model address whose server answered with a web page (a dev server's or a site's HTML for a path it lacks, a login
 * page, a mistyped address) instead of model files: said as such, not as the JSON or header error its bytes would give.
 */
export class NotAModelError extends SieveError {
  /** `where`: the folder, file URL or path; `kind`: a folder (config.json was HTML) or one model file (a .gguf, a shard). */
  constructor(where: string, kind: 'folder' | 'file', file?: string) {
    super(
      'NOT_A_MODEL',
      `${where}: not a model ${kind}: the server answered with an HTML page${file ? ` for ${file}` : ''}.`,
      `Check the address. A model is ${ACCEPTED_MODEL_INPUTS}.`,
      { where, kind, ...(file ? { file } : {}) },
    );
  }
}

export class NotLoadedError extends SieveError {
  constructor() {
    super('NOT_LOADED', 'No model is loaded.', 'Call load(model) first.');
  }
}

/**
 * The engine is shared by this origin's tabs (createEngine({ shared: true })) and holds one model at a time: another
 * tab holds a different one (it loaded it, or is loading it, and has not unloaded or closed).
 */
export class ModelInUseError extends SieveError {
  constructor(asked: string, loaded: string, tabs: number) {
    super(
      'MODEL_IN_USE',
      `Cannot load ${asked}: ${tabs === 1 ? 'another tab uses' : `${tabs} other tabs use`} ${loaded} in this browser's shared engine, which holds one model at a time.`,
      `Load ${loaded} here to share it, unload it or close it in the other tabs first, or make this tab's engine without `
        + '{ shared: true } to run a second model beside it (it takes its own GPU memory).',
      { asked, loaded, tabs },
    );
  }
}

/**
 * A tab of a shared engine (createEngine({ shared: true })) took none of its reply's chunks for a while: the browser
 * froze it in the background, or its page was busy. The engine stopped the request so the other tabs' could go on.
 */
export class TabUnresponsiveError extends SieveError {
  constructor(waitedMs: number) {
    super(
      'TAB_UNRESPONSIVE',
      `This tab did not take its reply's chunks for ${Math.round(waitedMs / 1000)} s (frozen in the background, or its page busy), `
        + "so the shared engine stopped its request to serve the other tabs; the chunks before that were delivered.",
      'Send the request again. The engine stays usable; a request this tab had waiting kept its place and runs once the tab reads again.',
      { waitedMs },
    );
  }
}

/** The embed frame (Sieve's origin) refused the page that embeds it: not in its allow list, or not the first origin it served. */
export class EmbedOriginRefusedError extends SieveError {
  constructor(origin: string, reason: string) {
    super(
      'EMBED_ORIGIN_REFUSED',
      `Sieve's embed frame refused the page origin ${origin}: ${reason}.`,
      'Ask the Sieve deployment to allow this origin (VITE_SIEVE_EMBED_ORIGINS at its build), or embed it from an allowed site.',
      { origin, reason },
    );
  }
}

/** The embed frame never answered: blocked by the page's CSP (frame-src), not served, or too slow to load. */
export class EmbedFrameUnavailableError extends SieveError {
  constructor(frameUrl: string, reason: string) {
    super(
      'EMBED_FRAME_UNAVAILABLE',
      `Sieve's embed frame ${frameUrl} is unavailable: ${reason}.`,
      `Serve Sieve's build at that address and allow it in the page's Content-Security-Policy: frame-src ${new URL(frameUrl).origin}.`,
      { frameUrl, reason },
    );
  }
}

/** A calibration artifact that does not parse, is malformed, or was made for another model: names the file and field. */
export class BadCalibrationError extends SieveError {
  constructor(file: string, field: string, problem: string, method = '<method>') {
    super(
      'BAD_CALIBRATION', `${file}: ${field}: ${problem}`,
      `Make it again for this model: sieve calibrate --model <model> --method ${method} --text FILE (docs/calibration.md).`, { file, field },
    );
  }
}

/** An attention policy needs a per-model calibration artifact (Double Sparsity, FASA) and none was given or found. */
export class CalibrationMissingError extends SieveError {
  constructor(policy: string, method: string, searched: string) {
    super(
      'CALIBRATION_MISSING', `The attention policy "${policy}" needs a ${method} calibration of this model; ${searched}.`,
      `Make one with: sieve calibrate --model <model> --method ${method} --text FILE (it is written beside a model folder as ${method}.calibration.json, where the engine finds it); or pass it with --calibration FILE (API: the load option \`calibration\`).`,
      { policy, method },
    );
  }
}

export class NonFiniteLogitsError extends SieveError {
  constructor(position: number) {
    super(
      'NON_FINITE_LOGITS',
      `The model produced NaN or infinite logits at position ${position}.`,
      'The weights or the chosen format overflow on this input: try f32 weights, another quantization, or a shorter context.',
      { position },
    );
  }
}

/** Request fields Sieve does not support (OpenAI's audio, functions, store...): named all at once, never ignored. */
export class UnsupportedParameterError extends SieveError {
  constructor(parameters: string[], where = 'Sieve') {
    super(
      'UNSUPPORTED_PARAMETER',
      `${parameters.join(', ')}: ${parameters.length === 1 ? 'is' : 'are'} not supported by ${where}.`,
      `Leave ${parameters.length === 1 ? 'it' : 'them'} out of the request (or set ${parameters.length === 1 ? 'it' : 'them'} to null).`,
      { parameters, param: parameters[0] },
    );
  }
}

/** A response_format schema or grammar that cannot be compiled: names where it is invalid. */
export class InvalidSchemaError extends SieveError {
  constructor(kind: 'json_schema' | 'grammar' | 'regex' | 'tools', at: string, problem: string) {
    super(
      'INVALID_SCHEMA', `${at}: ${problem}`,
      kind === 'json_schema' || kind === 'tools'
        ? `Fix the JSON Schema at ${at} (draft 2020-12 keywords: type, properties, required, items, enum, const, minimum, maximum, anyOf, $ref).`
        : kind === 'grammar' ? 'Fix the EBNF grammar (xgrammar\'s dialect: rules "name ::= ...", a rule named root).' : 'Fix the regular expression.',
      { kind, at },
    );
  }
}

/** What a remote OpenAI-compatible server answered (createEngine({ remote })): the status and its message. */
export interface RemoteErrorDetails extends Record<string, unknown> {
  url: string;
  status?: number;
  serverMessage?: string;
  retryAfterSeconds?: number;
}

/** The remote server refused the API key (401) or the request's access (403). */
export class RemoteUnauthorizedError extends SieveError {
  constructor(details: RemoteErrorDetails) {
    super(
      'REMOTE_UNAUTHORIZED', `${details.url} answered ${details.status}: ${details.serverMessage ?? 'unauthorized'}.`,
      'Check the apiKey given to createEngine({ remote, apiKey }); in a page, send requests through your own proxy that adds the key (never put a key in a page).',
      details,
    );
  }
}

/** The remote server is rate-limiting (429). */
export class RemoteRateLimitedError extends SieveError {
  constructor(details: RemoteErrorDetails) {
    super(
      'REMOTE_RATE_LIMITED', `${details.url} answered 429: ${details.serverMessage ?? 'too many requests'}.`,
      `Wait${details.retryAfterSeconds !== undefined ? ` ${details.retryAfterSeconds} s (Retry-After)` : ''} and send it again, or lower the request rate.`,
      details,
    );
  }
}

/** The remote server failed (5xx). */
export class RemoteServerError extends SieveError {
  constructor(details: RemoteErrorDetails) {
    super(
      'REMOTE_SERVER_ERROR', `${details.url} answered ${details.status}: ${details.serverMessage ?? 'server error'}.`,
      'The server failed, not the request: try again shortly; if it repeats, check the server\'s log (its model may not be loaded).',
      details,
    );
  }
}

/** The remote server refused the request itself (400, 404, 422): names what it said. */
export class RemoteRejectedError extends SieveError {
  constructor(details: RemoteErrorDetails) {
    super(
      'REMOTE_REJECTED', `${details.url} answered ${details.status}: ${details.serverMessage ?? 'bad request'}.`,
      'Fix the request as the server says (the model name, or a parameter it does not take), or check that remote is its /v1 address.',
      details,
    );
  }
}

/** The remote server could not be reached (network, DNS, CORS), or a stream stopped before it ended. */
export class RemoteUnreachableError extends SieveError {
  constructor(details: RemoteErrorDetails & { reason: string }) {
    super(
      'REMOTE_UNREACHABLE', `${details.url}: ${details.reason}.`,
      'Check that the server runs and is reachable from here (for a page: that it sends CORS headers for this origin); a dropped stream can be sent again.',
      details,
    );
  }
}
