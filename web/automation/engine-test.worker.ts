// The automation build's engine worker: the engine as workers/engine.worker.ts runs it, plus test hooks that only
// the automation page (e2e tests, the CLI) can reach. The chat page and the script tag use workers/engine.worker.ts.
import * as Comlink from 'comlink';
import { holdWorkerLife, installSieveErrorTransfer, SieveEngine } from '../../engine/index.ts';

export class AutomationEngine extends SieveEngine {
  /**
   * Destroys the engine's GPU device, as a driver reset or a GPU process crash would (e2e/reliability.spec.ts): work
   * in flight fails, and the engine must notice `device.lost` and make a new device on the next request.
   */
  loseDevice(): boolean {
    // `device` is private to the engine's API, not to the process: this hook is the one place that reaches it.
    const device = (this as unknown as { device: { device: GPUDevice } | null }).device;
    device?.device.destroy();
    return device !== null;
  }

  /** Ends this worker with no error, as the browser ending it would: no event reaches its Worker object. */
  close(): void {
    setTimeout(() => self.close(), 0);
  }

  /** Kills this worker as a crash would: an uncaught error, then the worker closes (e2e/reliability.spec.ts). */
  crash(): void {
    setTimeout(() => {
      setTimeout(() => self.close(), 0);
      throw new Error('the automation test hook crashed the worker');
    }, 0);
  }
}

installSieveErrorTransfer();
holdWorkerLife();
Comlink.expose(new AutomationEngine());
