// Sieve's embed frame: admits its parent page's origin, then runs one engine worker per port the page hands over.
import { OriginGate, parseAllowedOrigins } from './origin-gate.ts';
import { EMBED_PROTOCOL, isHostMessage, isTerminateRequest, type FrameMessage, type WorkerFailed } from './protocol.ts';

const gate = new OriginGate(parseAllowedOrigins(import.meta.env.VITE_SIEVE_EMBED_ORIGINS as string | undefined));

/**
 * Relays comlink's messages between the host's port and a worker of this origin, ports included (comlink hands
 * callbacks such as onChunk over as transferred MessagePorts, which then link the host and the worker directly).
 */
function startEngine(port: MessagePort): void {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
  port.addEventListener('message', (event) => {
    if (isTerminateRequest(event.data)) {
      worker.terminate();
      port.close();
      return;
    }
    worker.postMessage(event.data, [...event.ports]);
  });
  let answered = false;
  worker.addEventListener('message', (event) => {
    answered = true;
    port.postMessage(event.data, [...event.ports]);
  });
  // Errors after the first answer belong to a request (comlink answers it); before, the worker never started.
  worker.addEventListener('error', (event) => {
    if (answered) return;
    port.postMessage({ sieveEmbedWorkerFailed: event.message || 'its script could not be loaded' } satisfies WorkerFailed);
  });
  port.start();
}

function answer(message: FrameMessage, origin: string): void {
  window.parent.postMessage(message, origin);
}

window.addEventListener('message', (event) => {
  // Only the page that embeds this frame may connect; other windows' messages are not for us.
  if (event.source !== window.parent || !isHostMessage(event.data)) return;
  const { id } = event.data;
  const verdict = gate.admit(event.origin);
  if (!verdict.ok) {
    if (event.origin !== 'null') answer({ protocol: EMBED_PROTOCOL, type: 'refused', id, origin: event.origin, reason: verdict.reason }, event.origin);
    return;
  }
  const port = event.ports[0];
  if (!port) return;
  startEngine(port);
  answer({ protocol: EMBED_PROTOCOL, type: 'connected', id }, event.origin);
});

// Says nothing but "listening": safe to any origin, and the host learns the frame loaded without guessing.
if (window.parent !== window) window.parent.postMessage({ protocol: EMBED_PROTOCOL, type: 'ready' } satisfies FrameMessage, '*');
