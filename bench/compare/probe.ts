// `node probe.mjs`: is there a WebGPU adapter through Dawn here? Prints it as one JSON line (vendor, architecture,
// device, description with the driver, features: shader-f16 among them) and exits 0, or 2 when there is none.
// bench/h200/run.sh runs it before anything else on the GPU machine.
import { adapterInfo } from './dawn.ts';

const info = await adapterInfo();
console.log(JSON.stringify(info));
process.exit(info.error ? 2 : 0);
