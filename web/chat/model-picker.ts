// The chat page's model picker: lists models/catalog.json, fills the model field, and says how a load should go
// (catalog models and hub URLs through the browser's model store; a token for gated repositories).
import {
  catalogModelUrl, downloadBytes, HUGGING_FACE_ORIGIN, isHubRepoId, modelCatalog, resolveModelUrl, type CatalogModel, type LoadOptions,
} from '../client/index.ts';
import { formatBytes } from './format.ts';

/** `?hub=<origin>` points hub models at a mirror (or the test server) in the hub's URL layout. */
const HUB_PARAM = 'hub';

export interface PickedModel {
  url: string;
  /** The load options beyond progress: catalog id, cache, access token. */
  options: Pick<LoadOptions, 'cache' | 'accessToken' | 'catalogId'>;
  /** The catalog entry, when the URL is one. */
  model: CatalogModel | null;
}

/** The hub origin this page uses: `?hub=` when given (an http(s) origin), else huggingface.co. */
export function hubOriginOf(pageUrl: string): string {
  const given = new URL(pageUrl).searchParams.get(HUB_PARAM);
  if (given && /^https?:\/\//i.test(given)) return new URL(given).origin;
  return HUGGING_FACE_ORIGIN;
}

/** One line per model: name, download size, the weight format it needs, gated. */
export function describeModel(m: CatalogModel): string {
  const parts = [m.name, `${formatBytes(downloadBytes(m))} download`];
  if (m.quantization !== 'f32') parts.push(`needs ${m.quantization}`);
  if (m.gated) parts.push('gated: needs a token');
  return parts.join(' · ');
}

export class ModelPicker {
  private readonly models = modelCatalog().models;

  constructor(
    private readonly select: HTMLSelectElement,
    private readonly tokenRow: HTMLElement,
    private readonly tokenInput: HTMLInputElement,
    private readonly pageUrl: string,
  ) {}

  private urlOf(m: CatalogModel): string {
    return catalogModelUrl(m, { hubOrigin: hubOriginOf(this.pageUrl), appBase: this.pageUrl });
  }

  /** Fills the select with the catalog; `onPick` gets the chosen model's URL. */
  fill(onPick: (url: string) => void): void {
    const options = this.models.map((m) => {
      const o = new Option(describeModel(m), m.id);
      o.dataset.url = this.urlOf(m);
      return o;
    });
    this.select.replaceChildren(new Option('Choose a model…', ''), ...options);
    this.select.addEventListener('change', () => {
      const m = this.models.find((x) => x.id === this.select.value);
      if (!m) return;
      this.showToken(m.gated);
      onPick(this.urlOf(m));
    });
  }

  /** Marks the entry whose URL is `url` as chosen (after a load from the text field). */
  reflect(url: string): void {
    const m = this.models.find((x) => this.urlOf(x) === url);
    this.select.value = m?.id ?? '';
    this.showToken(m?.gated ?? false);
  }

  private showToken(gated: boolean): void {
    this.tokenRow.hidden = !gated && this.tokenInput.value.length === 0;
  }

  /**
   * What to load for the text in the model field: a catalog model (matched by URL or by hub repo id) loads with its
   * catalog id, other hub URLs with the model store; anything else as a plain URL. Throws InvalidArgumentError (saying
   * what a model may be) for what is not a URL, a path or a repo id.
   */
  resolve(input: string): PickedModel {
    const text = input.trim();
    const hubOrigin = hubOriginOf(this.pageUrl);
    const url = isHubRepoId(text) ? `${hubOrigin}/${text}/resolve/main/` : resolveModelUrl(text, this.pageUrl);
    const model = this.models.find((m) => this.urlOf(m) === url) ?? null;
    const token = this.tokenInput.value.trim();
    const accessToken = token.length > 0 && (model?.gated || !model) ? token : undefined;
    if (model) return { url, model, options: { catalogId: model.id, ...(accessToken ? { accessToken } : {}) } };
    const hubLayout = /\/resolve\/[^/]+\//.test(new URL(url).pathname);
    return { url, model: null, options: { ...(hubLayout ? { cache: true } : {}), ...(accessToken && hubLayout ? { accessToken } : {}) } };
  }
}
