// Side-effect module, imported first by Node benches: installs WebGPU's globals (GPUBufferUsage, ...) and
// navigator.gpu from Dawn (engine/gpu/node.ts) before any engine module reads them at load time.
import { installNodeGpu } from '../engine/gpu/node.ts';

export const nodeGpu = installNodeGpu();
