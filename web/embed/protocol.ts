// The embed handshake between a host page (sieve.embed.js) and Sieve's frame: message shapes, paths and timeouts.

/** Marks Sieve's handshake messages among whatever else a page posts; bumped when the handshake changes. */
export const EMBED_PROTOCOL = 'sieve-embed/1';
/** The frame page, relative to the embed script's URL (both come out of the same build, script at its root). */
export const FRAME_PATH = 'web/embed/frame.html';
/** The script's file name in the build output. */
export const EMBED_SCRIPT_NAME = 'sieve.embed.js';
/**
 * How long the host waits for the frame's first message. The frame is a small page whose script is one module;
 * 30 s covers a cold load on a slow connection without leaving a blocked frame (CSP frame-src) silent for long.
 */
export const FRAME_READY_TIMEOUT_MS = 30_000;

/** Frame -> host, to '*' (it carries nothing): the frame listens now. */
export interface FrameReady { protocol: typeof EMBED_PROTOCOL; type: 'ready' }
/** Host -> frame, to the frame's origin only, with one MessagePort transferred: start an engine behind this port. */
export interface ConnectRequest { protocol: typeof EMBED_PROTOCOL; type: 'connect'; id: number }
/** Frame -> host, to the host's origin only: the engine behind connection `id` is starting. */
export interface Connected { protocol: typeof EMBED_PROTOCOL; type: 'connected'; id: number }
/** Frame -> the refused origin: why it will not serve that page. */
export interface Refused { protocol: typeof EMBED_PROTOCOL; type: 'refused'; id: number; origin: string; reason: string }

export type HostMessage = ConnectRequest;
export type FrameMessage = FrameReady | Connected | Refused;

/**
 * Sent by the host over an engine's MessagePort (never a comlink message, which always has a `type`): the frame
 * terminates that engine's worker and closes the port.
 */
export interface TerminateRequest { sieveEmbedTerminate: true }

export function isTerminateRequest(data: unknown): data is TerminateRequest {
  return typeof data === 'object' && data !== null && (data as Partial<TerminateRequest>).sieveEmbedTerminate === true;
}

function isProtocolMessage(data: unknown): data is { protocol: string; type: string } {
  return typeof data === 'object' && data !== null && (data as { protocol?: unknown }).protocol === EMBED_PROTOCOL
    && typeof (data as { type?: unknown }).type === 'string';
}

export function isFrameMessage(data: unknown): data is FrameMessage {
  if (!isProtocolMessage(data)) return false;
  return data.type === 'ready' || data.type === 'connected' || data.type === 'refused';
}

export function isHostMessage(data: unknown): data is HostMessage {
  return isProtocolMessage(data) && data.type === 'connect' && typeof (data as { id?: unknown }).id === 'number';
}

/**
 * Sent by the frame over an engine's port when that engine's worker failed before it ever answered (its script did
 * not load, or threw while starting): the host fails the engine's calls instead of waiting for answers that never come.
 */
export interface WorkerFailed { sieveEmbedWorkerFailed: string }

export function isWorkerFailed(data: unknown): data is WorkerFailed {
  return typeof data === 'object' && data !== null && typeof (data as Partial<WorkerFailed>).sieveEmbedWorkerFailed === 'string';
}
