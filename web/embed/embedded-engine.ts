// window.Sieve.createEngine(): web/client's SieveClient, its worker running in Sieve's frame instead of the page.
import { resolveModelUrl, SieveClient, type LoadOptions, type ModelInfo } from '../client/index.ts';
import { EmbedFrame } from './embed-frame.ts';
import { FramedEndpoint } from './framed-endpoint.ts';
import { FRAME_PATH } from './protocol.ts';

/**
 * The same client as on Sieve's own pages. One difference: a relative model URL resolves against Sieve's origin
 * (where the script and the frame come from, and where a deployment serves its models), not the embedding page.
 */
export class EmbeddedEngine extends SieveClient {
  constructor(endpoint: FramedEndpoint, private readonly sieveBase: string) {
    super(endpoint);
  }

  override load(url: string, options: LoadOptions = {}): Promise<ModelInfo> {
    let resolved: string;
    try {
      resolved = resolveModelUrl(url, this.sieveBase);
    } catch (e) {
      return Promise.reject(e);
    }
    return super.load(resolved, options);
  }
}

/** One frame serves every engine of the page (each gets its own worker there). */
export class EmbedRuntime {
  private frame: EmbedFrame | null = null;

  /** `scriptUrl`: where sieve.embed.js was loaded from; the frame sits beside it in the same build. */
  constructor(private readonly scriptUrl: string) {}

  createEngine(): EmbeddedEngine {
    this.frame ??= new EmbedFrame(new URL(FRAME_PATH, this.scriptUrl));
    return new EmbeddedEngine(new FramedEndpoint(this.frame), this.scriptUrl);
  }
}
