// The dedicated Web Worker that owns the engine: the GPU device, the model and the decode loop. Exposed with comlink.
import * as Comlink from 'comlink';
import { SieveEngine } from '../engine/index.ts';

Comlink.expose(new SieveEngine());
