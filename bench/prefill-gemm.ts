// bench/prefill-gemm: one prefill matrix product, ORT's (MatMulNBits for int4/int8, Gemm for f32, an ORT session on
// our device as the ORT prefill path runs them) against ours (engine/prefill's gemm.wgsl), for M = 128 .. 8K rows on
// real weight shapes. Per (shape, format, M): a warm-up of each, then --rounds interleaved rounds of --reps products
// each; a round's time is from the first product's start to the GPU's completion of the last
// (queue.onSubmittedWorkDone), divided by reps: ORT's runs are awaited one by one (its host cost per run counts,
// as it does in prefill), ours are dispatched back to back in one submit. Median over rounds, ms per product and
// TFLOPS (2 M N K / time). Rows are written as they come; --budget-s stops before a row that would start past it.
// Build: node bench/build-node-bench.mjs; run: node .carry/node-bench/prefill-gemm.mjs --out x.json.
import { writeFileSync } from 'node:fs';
import { argOf as arg, openNodeBenchDevice } from './node-harness.ts';
import { GraphBuilder, OnnxDataType } from '../engine/compiler/graph-builder.ts';
import { createGpuSession, gpuTensor, ort } from '../engine/runtime/ort.ts';
import { PrefillKernels } from '../engine/prefill/index.ts';
import type { MatrixBuffer } from '../engine/decode/index.ts';

type Format = 'f32' | 'int4' | 'int8';
const OUT = arg('--out', 'bench-prefill-gemm.json');
const ROWS = arg('--rows', '128,512,2048,8192').split(',').map(Number);
const FORMATS = arg('--formats', 'int4,f32').split(',') as Format[];
/** name:N:K, the weight [N][K]: Llama-3.2-1B's gate/up projection and SmolLM2-135M's by default. */
const SHAPES = arg('--shapes', 'llama1b-gate:8192:2048,smollm2-gate:1536:576').split(',').map((s) => {
  const [name, n, k] = s.split(':');
  return { name, n: Number(n), k: Number(k) };
});
const ROUNDS = Number(arg('--rounds', '5'));
const REPS = Number(arg('--reps', '4'));
const BUDGET_S = Number(arg('--budget-s', '1e9'));

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main() {
  const t0 = performance.now();
  const { engine, adapter } = await openNodeBenchDevice();
  const device = engine.device;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const filled = (bytes: number, seed: number) => {
    const b = device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage });
    const chunk = new Uint8Array(Math.min(bytes, 1 << 22));
    let s = seed;
    for (let i = 0; i < chunk.length; i++) { s = (s * 1103515245 + 12345) >>> 0; chunk[i] = s >>> 24; }
    // Bytes as f32 would be wild values: keep f32 buffers' exponents small (bits 0x3c.. : ~0.01).
    if (seed % 2 === 1) for (let i = 3; i < chunk.length; i += 4) chunk[i] = 0x3c;
    for (let at = 0; at < bytes; at += chunk.length) device.queue.writeBuffer(b, at, chunk, 0, Math.min(chunk.length, Math.ceil((bytes - at) / 4) * 4));
    return b;
  };
  const rows: unknown[] = [];
  const write = () => writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), adapter, reps: REPS, rows }, null, 2));
  const maxM = Math.max(...ROWS);
  for (const shape of SHAPES) {
    const { n, k } = shape;
    const x = filled(maxM * k * 4, 1);
    const out = device.createBuffer({ size: maxM * n * 4, usage });
    const dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const kernels = new PrefillKernels(device, 1e-5, dims);
    for (const format of FORMATS) {
      const bits = format === 'int4' ? 4 : 8;
      const blocks = Math.ceil(k / 32);
      const w: MatrixBuffer = format === 'f32'
        ? { buffer: filled(n * k * 4, 3), shape: [n, k] }
        : { buffer: filled(n * blocks * 32 * bits / 8, 2), shape: [n, k], quantized: { scales: filled(n * blocks * 4, 5), zeroPoints: null, bits, blockSize: 32, blocksPerRow: blocks } };
      // ORT: one node, the weights as graph inputs (as the prefill segments bind them).
      const g = new GraphBuilder(`gemm-${format}`);
      const xIn = g.input('x', OnnxDataType.FLOAT, ['tokens', k]);
      let y: string;
      const feeds: Record<string, ort.Tensor> = {};
      if (format === 'f32') {
        y = g.linear(xIn, g.input('w', OnnxDataType.FLOAT, [n, k]), null, 'y');
        feeds.w = gpuTensor(w.buffer, [n, k]);
      } else {
        const q = w.quantized as NonNullable<MatrixBuffer['quantized']>;
        y = g.matMulNBits(xIn, { data: g.input('b', OnnxDataType.UINT8, [n, blocks, 32 * bits / 8]), scales: g.input('s', OnnxDataType.FLOAT, [n * blocks]), zeroPoints: null }, { n, k, bits, blockSize: 32 }, null, 'y');
        feeds.b = gpuTensor(w.buffer, [n, blocks, 32 * bits / 8], 'uint8');
        feeds.s = gpuTensor(q.scales, [n * blocks]);
      }
      g.output(y, OnnxDataType.FLOAT, ['tokens', n]);
      const session = await createGpuSession(g.encode(), device);
      const ours = kernels.gemm(`${shape.name} ${format}`, { x, w, out });
      for (const m of ROWS) {
        if ((performance.now() - t0) / 1000 > BUDGET_S) { console.log(`budget: stopping before ${shape.name} ${format} M=${m}`); break; }
        device.queue.writeBuffer(dims, 0, new Uint32Array([m, 0, 0, 0]));
        const ortFeeds = { ...feeds, x: gpuTensor(x, [m, k]) };
        const runOrt = async () => {
          const start = performance.now();
          for (let i = 0; i < REPS; i++) (await session.run(ortFeeds)).y.dispose();
          await device.queue.onSubmittedWorkDone();
          return (performance.now() - start) / REPS;
        };
        const runOurs = async () => {
          const start = performance.now();
          const encoder = device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          for (let i = 0; i < REPS; i++) ours.encode(pass, m);
          pass.end();
          device.queue.submit([encoder.finish()]);
          await device.queue.onSubmittedWorkDone();
          return (performance.now() - start) / REPS;
        };
        await runOrt();
        await runOurs();
        const times = { ort: [] as number[], wgsl: [] as number[] };
        for (let r = 0; r < ROUNDS; r++) {
          if (r % 2 === 0) { times.ort.push(await runOrt()); times.wgsl.push(await runOurs()); } else { times.wgsl.push(await runOurs()); times.ort.push(await runOrt()); }
        }
        const flops = 2 * m * n * k;
        for (const path of ['ort', 'wgsl'] as const) {
          const ms = median(times[path]);
          const row = { shape: shape.name, n, k, format, m, path, rounds: ROUNDS, ms: Math.round(ms * 1000) / 1000, tflops: Math.round(flops / ms / 1e9 * 100) / 100, all: times[path].map((t) => Math.round(t * 1000) / 1000) };
          console.log(JSON.stringify(row));
          rows.push(row);
        }
        write();
      }
      await session.release();
      w.buffer.destroy();
      w.quantized?.scales.destroy();
    }
    kernels.destroy();
    x.destroy();
    out.destroy();
  }
  write();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
