// `sieve` CLI entry: `logits` and `generate`, on the WebGPU engine in headless Chromium or on the CPU reference;
// `calibrate` (Double Sparsity, FASA artifacts) on the CPU reference in Node; `eval` (engine/eval) on any backend.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { GeneratedIds } from '../api/index.ts';
import { InvalidArgumentError, SieveError } from '../errors/index.ts';
import type { KvDtype } from '../kv/index.ts';
import type { QuantizationMode } from '../quant/index.ts';
import { parseCalibrateCli, parseCli, parseEvalCli, USAGE, type CliOptions, type GenerateOptions, type LogitsOptions } from './args.ts';

/** What `sieve generate` prints (generated ids, text, usage): the API's GeneratedIds. */
export type GenerateOutput = GeneratedIds;

/** What both backends offer the CLI. */
export interface CliRunner {
  logits(opts: LogitsOptions): Promise<Float32Array>;
  generate(opts: GenerateOptions): Promise<GenerateOutput>;
  close(): Promise<void>;
}

type HostWindow = { sieveHost: Record<string, (arg?: unknown) => Promise<Record<string, unknown>>> };

// Each backend is imported when chosen: Playwright and Vite alone take ~1.7 s to import (measured here), which a
// usage error or a reference run should not pay.
async function openWebGpuRunner(model: string, attention: string | undefined, quantization: QuantizationMode | undefined, calibrationFile?: string, kvDtype?: KvDtype): Promise<CliRunner> {
  // Read and validated here, so a bad file fails before the browser starts; the engine checks it against the model.
  const calibration = calibrationFile === undefined ? undefined : await readCalibrationArgument(calibrationFile);
  const { openBrowserHost, raisePageError } = await import('./browser-host.ts');
  const host = await openBrowserHost(model);
  const call = async (method: string, arg?: unknown) => {
    const r = await host.page.evaluate(([m, a]) => (window as unknown as HostWindow).sieveHost[m as string](a), [method, arg] as const);
    if (r.error) raisePageError(r.error as Record<string, unknown>);
    return r;
  };
  try {
    // A mistyped policy should fail before a model of gigabytes is downloaded, not after.
    if (attention !== undefined) {
      const policies = (await call('policies')).policies as string[];
      const name = attention.split(':')[0].trim();
      if (!policies.includes(name)) throw new InvalidArgumentError('--attention', `unknown policy "${name}"; available: ${policies.join(', ')}`);
    }
    await call('load', quantization === undefined && !calibration && !kvDtype ? host.modelUrl : { url: host.modelUrl, quantization, ...(calibration ? { calibration } : {}), ...(kvDtype ? { kvDtype } : {}) });
  } catch (e) {
    await host.close();
    throw e;
  }
  return {
    async logits(opts) {
      const r = await call('logits', { ids: opts.ids, mode: opts.decode ? 'decode' : 'prefill', attention: opts.attention });
      const bytes = Buffer.from(r.base64 as string, 'base64');
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    },
    async generate(opts) {
      const r = await call('generate', opts.request);
      return r.result as GenerateOutput;
    },
    close: () => host.close(),
  };
}

/** The --calibration file as the page's load option: parsed and validated in Node (typed errors name the field). */
async function readCalibrationArgument(file: string): Promise<unknown> {
  const { readCalibrationFile } = await import('../calibration/node.ts');
  return readCalibrationFile(resolve(file));
}

async function run(opts: CliOptions): Promise<void> {
  const runner = opts.backend === 'reference'
    ? await (await import('./reference-runner.ts')).openReferenceRunner(opts.model)
    : await openWebGpuRunner(opts.model, opts.attention, opts.quantization, opts.calibration, opts.kvDtype);
  try {
    if (opts.command === 'logits') {
      const logits = await runner.logits(opts);
      await writeFile(opts.out, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
      process.stderr.write(`wrote ${opts.ids.length} x ${logits.length / opts.ids.length} f32 logits to ${opts.out}\n`);
    } else {
      const result = await runner.generate(opts);
      if (opts.json) process.stdout.write(JSON.stringify({ ids: result.ids, text: result.text, usage: result.usage }) + '\n');
      else if (opts.request.jsonSchema) {
        // The reply is the JSON: stdout gets it alone, so `sieve generate --json-schema s.json ... | jq` works.
        process.stdout.write(`${result.text}\n`);
        process.stderr.write(`${JSON.stringify({ finish_reason: result.finish_reason, usage: result.usage })}\n`);
        if (result.finish_reason !== 'stop') process.stderr.write('the reply reached --max-tokens before the JSON was complete: raise --max-tokens\n');
      }
      else process.stdout.write(`${result.text}\n\n${JSON.stringify(result.usage)}\n`);
    }
  } finally {
    await runner.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(USAGE + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  try {
    if (argv[0] === 'calibrate') {
      const { runCalibrate } = await import('./calibrate-command.ts');
      await runCalibrate(parseCalibrateCli(argv.slice(1)), (line) => process.stderr.write(line + '\n'));
      return 0;
    }
    if (argv[0] === 'eval') {
      const { checkEvalPolicies, formatCells, openEvalBackend, runEvalCommand } = await import('./eval-command.ts');
      const opts = parseEvalCli(argv.slice(1));
      checkEvalPolicies(opts);
      const opened = await openEvalBackend(opts, { webgpu: async (path, loaded) => (await import('./eval-webgpu-backend.ts')).createWebGpuBackend(path, loaded) });
      try {
        const report = await runEvalCommand(opts, (line) => process.stderr.write(line + '\n'), opened);
        process.stdout.write(formatCells(report.cells) + '\n');
      } finally {
        await opened.backend.close();
      }
      return 0;
    }
    await run(parseCli(argv));
    return 0;
  } catch (e) {
    const error = e instanceof SieveError
      ? e.toJSON()
      : { name: (e as Error)?.name ?? 'Error', code: (e as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 'INVALID_ARGUMENT' : 'INTERNAL', message: (e as Error)?.message ?? String(e) };
    process.stderr.write(JSON.stringify({ error }) + '\n');
    return error.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
}
