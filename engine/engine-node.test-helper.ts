// Test helper: the whole SieveEngine in Node on Dawn (SwiftShader), loading models over real HTTP from a local server,
// with every device it creates counted (live GPU buffers) and patched for dawn.node's SharedArrayBuffer writes.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { create, globals } from 'webgpu';
import { countBuffers, type BufferCensus } from './gpu/buffer-census.test-helper.ts';
import { patchSharedArrayBufferWrites } from './gpu/index.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
Object.assign(globalThis, globals);
/** One Dawn instance for the process, kept reachable (see node-webgpu.test-helper.ts for why). */
const dawn = create([]) as GPU;

export interface CountedDevice {
  device: GPUDevice;
  census: BufferCensus;
}

/** Every device the engine made, in order (a new one after a device loss). */
export const devices: CountedDevice[] = [];

const countingGpu = {
  async requestAdapter(options?: GPURequestAdapterOptions) {
    const adapter = await dawn.requestAdapter(options);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (descriptor?: GPUDeviceDescriptor) => {
      const device = await requestDevice(descriptor);
      patchSharedArrayBufferWrites(device);
      devices.push({ device, census: countBuffers(device) });
      return device;
    };
    return adapter;
  },
  getPreferredCanvasFormat: () => 'rgba8unorm',
};
Object.defineProperty(globalThis, 'navigator', { value: { gpu: countingGpu }, configurable: true, writable: true });

/** The device the engine uses now. */
export function currentDevice(): CountedDevice {
  const d = devices[devices.length - 1];
  if (!d) throw new Error('the engine has made no device yet');
  return d;
}

export interface ModelServer {
  /** Base URL of the folder. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a folder over HTTP on 127.0.0.1. With `chunkDelayMs`, bodies are sent in `chunkBytes` pieces that far apart,
 * so a download takes long enough for an abort to land in it.
 */
export async function serveFolder(dir: string, options: { chunkBytes?: number; chunkDelayMs?: number } = {}): Promise<ModelServer> {
  const chunkBytes = options.chunkBytes ?? 16384;
  const delay = options.chunkDelayMs ?? 0;
  const server: Server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent((req.url ?? '/').split('?')[0])));
    let size: number;
    try {
      if (!path.startsWith(dir)) throw new Error('outside');
      size = statSync(path).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    const stream = createReadStream(path, { highWaterMark: chunkBytes });
    if (delay === 0) { stream.pipe(res); return; }
    stream.on('data', (chunk) => {
      stream.pause();
      res.write(chunk);
      setTimeout(() => stream.resume(), delay);
    });
    stream.on('end', () => res.end());
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
