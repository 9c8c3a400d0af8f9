// The dedicated Web Worker that owns the engine: the GPU device, the model and the decode loop. Exposed with comlink.
import * as Comlink from 'comlink';
import { installSieveErrorTransfer, SieveEngine } from '../engine/index.ts';

installSieveErrorTransfer();
Comlink.expose(new SieveEngine());
