// Host side of the handshake: one hidden frame on Sieve's origin per page, and engine ports connected through it.
import { EmbedFrameUnavailableError, EmbedOriginRefusedError, type SieveError } from '../../engine/protocol.ts';
import { EMBED_PROTOCOL, FRAME_READY_TIMEOUT_MS, isFrameMessage, type HostMessage } from './protocol.ts';

/** The frame stays out of the page's layout; no inline style on the host (a shadow root's own sheet hides it). */
const FRAME_HOST_CSS = ':host { display: none !important; } iframe { display: none; }';

/**
 * The frame lives in a shadow root of its own element, so the page's `iframe` selectors never reach it, and it is
 * hidden by a constructable stylesheet (allowed under a CSP without 'unsafe-inline', unlike a style attribute).
 */
export class EmbedFrame {
  readonly origin: string;
  private readonly frame: HTMLIFrameElement;
  private readonly ready: Promise<void>;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: SieveError) => void }>();
  private nextId = 1;

  constructor(readonly url: URL) {
    this.origin = url.origin;
    this.frame = document.createElement('iframe');
    this.frame.title = 'Sieve engine';
    this.frame.setAttribute('aria-hidden', 'true');
    this.frame.tabIndex = -1;
    this.ready = new Promise<void>((resolve, reject) => {
      const unavailable = (reason: string) => {
        window.removeEventListener('message', onReady);
        document.removeEventListener('securitypolicyviolation', onViolation);
        reject(new EmbedFrameUnavailableError(url.href, reason));
      };
      const timer = setTimeout(() => unavailable(`no answer within ${FRAME_READY_TIMEOUT_MS / 1000} s`), FRAME_READY_TIMEOUT_MS);
      // A page whose CSP lacks frame-src for Sieve blocks the frame silently: say so at once instead of timing out.
      const onViolation = (e: SecurityPolicyViolationEvent) => {
        if (!e.blockedURI.startsWith(this.origin) || !/^(frame|child|default)-src/.test(e.effectiveDirective)) return;
        clearTimeout(timer);
        unavailable(`the page's Content-Security-Policy (${e.effectiveDirective}) blocks it`);
      };
      const onReady = (e: MessageEvent) => {
        if (!this.fromFrame(e) || (e.data as { type: string }).type !== 'ready') return;
        clearTimeout(timer);
        window.removeEventListener('message', onReady);
        document.removeEventListener('securitypolicyviolation', onViolation);
        resolve();
      };
      window.addEventListener('message', onReady);
      document.addEventListener('securitypolicyviolation', onViolation);
    });
    window.addEventListener('message', (e) => this.onAnswer(e));
    this.frame.src = url.href;
    const host = document.createElement('sieve-engine-frame');
    const shadow = host.attachShadow({ mode: 'closed' });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(FRAME_HOST_CSS);
    shadow.adoptedStyleSheets = [sheet];
    shadow.append(this.frame);
    (document.body ?? document.documentElement).append(host);
  }

  /** Hands `port` to the frame, which starts an engine worker behind it; rejects with a typed error if refused. */
  async connect(port: MessagePort): Promise<void> {
    await this.ready;
    const target = this.frame.contentWindow;
    if (!target) throw new EmbedFrameUnavailableError(this.url.href, 'the frame was removed from the page');
    const id = this.nextId++;
    const answered = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // targetOrigin: the port goes to Sieve's origin or nowhere (if the frame was navigated elsewhere, it is dropped).
    target.postMessage({ protocol: EMBED_PROTOCOL, type: 'connect', id } satisfies HostMessage, this.origin, [port]);
    return answered;
  }

  /** Only the frame we made, at the origin we loaded it from, is heard. */
  private fromFrame(e: MessageEvent): boolean {
    return e.source === this.frame.contentWindow && e.origin === this.origin && isFrameMessage(e.data);
  }

  private onAnswer(e: MessageEvent): void {
    if (!this.fromFrame(e)) return;
    const msg = e.data as import('./protocol.ts').FrameMessage;
    if (msg.type === 'ready') return;
    const waiter = this.waiting.get(msg.id);
    if (!waiter) return;
    this.waiting.delete(msg.id);
    if (msg.type === 'connected') waiter.resolve();
    else waiter.reject(new EmbedOriginRefusedError(msg.origin, msg.reason));
  }
}
