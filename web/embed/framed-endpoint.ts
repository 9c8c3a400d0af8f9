// A comlink endpoint for SieveClient over a MessagePort into the embed frame, usable before the handshake ends.
import type { EngineEndpoint } from '../client/index.ts';
import { EmbedFrameUnavailableError, type SieveError } from '../../engine/protocol.ts';
import { isWorkerFailed, type TerminateRequest } from './protocol.ts';
import type { EmbedFrame } from './embed-frame.ts';

type Listener = EventListenerOrEventListenerObject;

/**
 * createEngine() must return at once, as web/client's does: calls made before the frame answered wait in the
 * port (a MessagePort queues messages until its other end is delivered and started). If the frame refuses the
 * page or never loads, every request, queued or later, fails with that typed error instead of waiting forever:
 * the endpoint answers it itself, in comlink's reply shape for a thrown value (the SieveError transfer that
 * SieveClient installs turns it back into the typed error).
 */
export class FramedEndpoint implements EngineEndpoint {
  private readonly channel = new MessageChannel();
  /**
   * Only 'message' listeners: SieveClient also listens for the worker's 'error' (its death), which a port never
   * fires: the frame reports a worker that failed to start as a message (WorkerFailed), handled below. Handing
   * every listener every message made each reply look like a dead worker.
   */
  private readonly listeners = new Set<Listener>();
  private readonly unanswered = new Set<string>();
  private failure: SieveError | null = null;

  constructor(frame: EmbedFrame) {
    this.channel.port1.addEventListener('message', (event) => {
      if (isWorkerFailed(event.data)) {
        this.fail(new EmbedFrameUnavailableError(frame.url.href, `its engine worker failed to start: ${event.data.sieveEmbedWorkerFailed}`));
        return;
      }
      const id = (event.data as { id?: unknown })?.id;
      if (typeof id === 'string') this.unanswered.delete(id);
      this.emit(event);
    });
    this.channel.port1.start();
    frame.connect(this.channel.port2).catch((e: SieveError) => this.fail(e));
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    const id = (message as { id?: unknown })?.id;
    if (this.failure) {
      if (typeof id === 'string') this.answerWithFailure(id);
      return;
    }
    if (typeof id === 'string') this.unanswered.add(id);
    this.channel.port1.postMessage(message, transfer);
  }

  addEventListener(type: string, listener: Listener): void {
    if (type === 'message') this.listeners.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    if (type === 'message') this.listeners.delete(listener);
  }

  terminate(): void {
    this.channel.port1.postMessage({ sieveEmbedTerminate: true } satisfies TerminateRequest);
    this.channel.port1.close();
  }

  private fail(error: SieveError): void {
    this.failure = error;
    for (const id of [...this.unanswered]) this.answerWithFailure(id);
    this.unanswered.clear();
  }

  private answerWithFailure(id: string): void {
    const failure = this.failure as SieveError;
    // comlink's wire reply for a rejected call: a 'throw' handler value, here in installSieveErrorTransfer's form.
    const data = { id, type: 'HANDLER', name: 'throw', value: { sieve: failure.toJSON() } };
    queueMicrotask(() => this.emit(new MessageEvent('message', { data })));
  }

  private emit(event: MessageEvent): void {
    for (const l of this.listeners) {
      if (typeof l === 'function') l(event);
      else l.handleEvent(event);
    }
  }
}
