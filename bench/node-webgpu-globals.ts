// Side-effect module, imported first by Node benches: installs WebGPU's globals (GPUBufferUsage, ...) and
// navigator.gpu from Dawn (engine/gpu/node.ts) before any engine module reads them at load time.
import { DAWN_FLAGS, installNodeGpu } from '../engine/gpu/node.ts';

// Raw timestamp ticks: Dawn quantizes them otherwise (a browser's privacy measure), to steps longer than a decode
// kernel (bench/wgsl-decode-shapes.ts times each kernel of a step; bench/matvec-sweep.ts asks the same).
export const nodeGpu = installNodeGpu([...DAWN_FLAGS, 'disable-dawn-features=timestamp_quantization']);
