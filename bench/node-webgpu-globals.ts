// Side-effect module, imported first by Node benches: installs WebGPU's globals (GPUBufferUsage, ...) and
// navigator.gpu from Dawn before any engine module reads them at load time.
import { create, globals } from 'webgpu';
import { DAWN_FLAGS } from './dawn-flags.ts';

Object.assign(globalThis, globals);
export const nodeGpu = create(DAWN_FLAGS);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: nodeGpu }, configurable: true, writable: true });
