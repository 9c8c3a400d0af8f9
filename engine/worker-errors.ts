// Typed errors across the worker boundary: comlink's default keeps only name/message/stack, so wrap its
// 'throw' handler to carry SieveError's code, remedy and details. Both sides (worker and page) install it.
import * as Comlink from 'comlink';
import { SieveError, type SieveErrorCode, type SieveErrorJSON } from './errors/index.ts';

interface SerializedSieveError { sieve: SieveErrorJSON }

let installed = false;

export function installSieveErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<{ value: unknown }, unknown>;
  Comlink.transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize(thrown: { value: unknown }) {
      if (thrown.value instanceof SieveError) return [{ sieve: thrown.value.toJSON() } satisfies SerializedSieveError, []];
      return original.serialize(thrown);
    },
    deserialize(data: unknown) {
      const s = (data as Partial<SerializedSieveError>)?.sieve;
      if (s) {
        const e = new SieveError(s.code as SieveErrorCode, s.message, s.remedy, s.details);
        Object.defineProperty(e, 'name', { value: s.name });
        throw e;
      }
      return original.deserialize(data);
    },
  } as Comlink.TransferHandler<{ value: unknown }, unknown>);
}
