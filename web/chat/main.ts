// The chat page: loads a model into the engine worker, streams replies, and keeps conversations in IndexedDB.
import { createEngine, type AttentionRequest, type CompletionUsage, type EngineClient, type LoadProgress } from '../client/index.ts';
import { ConversationStore, newConversation, titleOf, toApiMessages, type Conversation, type StoredMessage } from './conversation-store.ts';
import { BOUNDED_ATTENTION, CONTEXT_CHOICES, isContextFull, withoutOldestTurn } from './context-choice.ts';
import { explain, type Explained } from './explain.ts';
import { formatBytes, formatDuration, formatRate, timeLeftMs } from './format.ts';
import { FALLBACK_MODEL_URL, LAST_MODEL_KEY, PROJECT_MODEL_URL, findDefaultModel } from './model-defaults.ts';
import { ModelPicker } from './model-picker.ts';
import { keepStorage, registerOfflineApp } from './offline.ts';
import { Outbox, canSend, pendingNote, type EngineState, type OutgoingMessage } from './outbox.ts';
import { checkSettings, type SettingsField } from './settings-check.ts';

/** The policy that reads every cached token: it takes no budget. */
const DENSE_POLICY = 'dense';
/** Progress text refreshes at most this often; the worker reports every network chunk. */
const PROGRESS_REFRESH_MS = 100;
/** A streaming reply is saved this often, so a reload mid-reply loses at most this much of it. */
const STREAM_SAVE_INTERVAL_MS = 1000;

const PHASE_LABELS: Record<LoadProgress['phase'], string> = {
  fetch: 'Downloading',
  parse: 'Reading the model',
  upload: 'Uploading weights to the GPU',
  compile: 'Compiling the model',
};

function element<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page lacks #${id}.`);
  return el as T;
}

const ui = {
  settings: element<HTMLDetailsElement>('settings'),
  modelSummary: element<HTMLElement>('model-summary'),
  newChat: element<HTMLButtonElement>('new-chat'),
  conversationList: element<HTMLUListElement>('conversation-list'),
  modelForm: element<HTMLFormElement>('model-form'),
  modelInput: element<HTMLInputElement>('model-input'),
  catalogSelect: element<HTMLSelectElement>('catalog-select'),
  tokenRow: element<HTMLElement>('token-row'),
  tokenInput: element<HTMLInputElement>('token-input'),
  modelSuggestions: element<HTMLDataListElement>('model-suggestions'),
  loadButton: element<HTMLButtonElement>('load-button'),
  loadPanel: element<HTMLDivElement>('load-panel'),
  loadProgress: element<HTMLProgressElement>('load-progress'),
  loadText: element<HTMLParagraphElement>('load-text'),
  policySelect: element<HTMLSelectElement>('policy-select'),
  budgetInput: element<HTMLInputElement>('budget-input'),
  budgetHelp: element<HTMLParagraphElement>('budget-help'),
  maxTokensInput: element<HTMLInputElement>('max-tokens-input'),
  temperatureInput: element<HTMLInputElement>('temperature-input'),
  notice: element<HTMLParagraphElement>('notice'),
  messages: element<HTMLElement>('messages'),
  composer: element<HTMLFormElement>('composer'),
  prompt: element<HTMLTextAreaElement>('prompt'),
  sendButton: element<HTMLButtonElement>('send-button'),
  stopButton: element<HTMLButtonElement>('stop-button'),
  statPrefill: element<HTMLElement>('stat-prefill'),
  statDecode: element<HTMLElement>('stat-decode'),
  statContext: element<HTMLElement>('stat-context'),
  statKv: element<HTMLElement>('stat-kv'),
};

// ?remote=https://host/v1 chats with an OpenAI-compatible server (its model name typed in the model box) instead of
// the in-tab engine; no API key here: point it at a proxy that adds one (README, the remote door).
const remoteUrl = new URLSearchParams(location.search).get('remote');
// ?worker=shared runs the engine in the origin's SharedWorker, one model for every tab (README, "One engine for every
// tab"). Dedicated by default: a tab of the chat is its own conversation with its own model, and a person expects to
// pick a model in one tab without another tab refusing it (a shared engine holds one model) and to get a reply without
// waiting behind another tab's, whose conversation the engine would also prefill again on every switch (it holds one
// KV sequence). A second tab of the same model costs no second download (the model store), only its GPU memory.
const sharedEngine = new URLSearchParams(location.search).get('worker') === 'shared';
const engine: EngineClient = remoteUrl ? createEngine({ remote: remoteUrl }) : createEngine({ shared: sharedEngine });
const picker = new ModelPicker(ui.catalogSelect, ui.tokenRow, ui.tokenInput, location.href);
let store: ConversationStore | null = null;
let conversations: Conversation[] = [];
let current: Conversation = newConversation();
let loadedModel: string | null = null;
let loading = false;
/** Stops the load in progress (the Load button reads "Cancel" meanwhile). */
let loadAbort: AbortController | null = null;
let generation: AbortController | null = null;
/** Messages sent while the engine could not take them: shown as pending, sent in order once it can. */
const outbox = new Outbox();
/** "Reload to update", shown once a new version of the app is cached and waiting. */
let updateButton: HTMLButtonElement | null = null;

// ---- Notices and errors ----

/**
 * Shows a notice: an error's message and its remedy (each in its own element: every error on the page says what to do),
 * or an informational line; it can be closed.
 */
function showNotice(text: string | Explained, kind: 'error' | 'info' = 'error'): void {
  const { message, remedy } = typeof text === 'string' ? { message: text, remedy: '' } : text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'notice-close';
  close.textContent = '×';
  close.setAttribute('aria-label', 'Close this notice');
  close.addEventListener('click', clearNotice);
  const messageEl = document.createElement('span');
  messageEl.className = 'notice-message';
  messageEl.textContent = message;
  const parts: (HTMLElement | string)[] = [close, messageEl];
  if (remedy) {
    const remedyEl = document.createElement('span');
    remedyEl.className = 'notice-remedy';
    remedyEl.textContent = remedy;
    parts.push(' ', remedyEl);
  }
  ui.notice.replaceChildren(...parts);
  ui.notice.dataset.kind = kind;
  ui.notice.hidden = false;
}

/** An error where `doing` failed ("Could not load x"), with its remedy or `fallbackRemedy` when it carries none. */
function showError(doing: string | null, e: unknown, fallbackRemedy: string): void {
  const { message, remedy } = explain(e, fallbackRemedy);
  showNotice({ message: doing ? `${doing}: ${message}` : message, remedy });
}

function clearNotice(): void {
  ui.notice.hidden = true;
  ui.notice.replaceChildren();
}

/** Remedies for errors that carry none, by where they happened. */
const REMEDY = {
  storage: 'Conversations last until the page closes; free some browser storage (or leave private browsing) to keep them.',
  load: 'Check the model address and your connection, then press Load again.',
  reply: 'Send the message again; if it fails again, load the model again (Model and settings).',
  engine: 'Reload the page; if it repeats, use a browser with WebGPU (Chrome or Edge 113+).',
};

function howToLoadAModel(): Explained {
  return {
    message: `No default model is served here (looked for ${PROJECT_MODEL_URL}config.json and ${FALLBACK_MODEL_URL}).`,
    remedy: 'Enter a model above and press Load: a folder URL with config.json, *.safetensors and tokenizer.json, a .gguf URL, '
      + 'or a Hugging Face repo id such as HuggingFaceTB/SmolLM2-135M-Instruct.',
  };
}

/** A short name for a model URL: the catalog's name, a hub repo id, or the folder or file name. */
function modelName(url: string): string {
  const picked = (() => { try { return picker.resolve(url).model; } catch { return null; } })();
  if (picked) return picked.name.replace(/\s*\(.*\)$/, ''); // "sieve-tiny (Sieve's own 7.9M model)" -> "sieve-tiny"
  const path = new URL(url, location.href).pathname;
  const hub = /^\/([^/]+\/[^/]+)\/resolve\//.exec(path);
  if (hub && !path.toLowerCase().endsWith('.gguf')) return decodeURIComponent(hub[1]);
  const parts = path.split('/').filter(Boolean);
  return decodeURIComponent(parts.at(-1) ?? url);
}

/** The settings summary says what the page has loaded even while the settings are closed. */
function showModelState(text: string): void {
  ui.modelSummary.textContent = text;
}

// ---- Statistics ----

function showUsage(usage: CompletionUsage | undefined): void {
  ui.statPrefill.textContent = usage ? formatRate(usage.prefill_tokens_per_s) : '–';
  ui.statDecode.textContent = usage ? formatRate(usage.decode_tokens_per_s) : '–';
  ui.statContext.textContent = usage?.tokens_in_cache !== undefined ? String(usage.tokens_in_cache) : '–'; // a remote server reports none
  ui.statKv.textContent = usage ? formatBytes(usage.kv_bytes) : '–';
}

// ---- Messages ----

function renderMessage(message: StoredMessage): HTMLElement {
  const article = document.createElement('article');
  article.className = `message ${message.role}`;
  article.dataset.role = message.role;
  const who = document.createElement('p');
  who.className = 'message-role';
  who.textContent = message.role === 'user' ? 'You' : 'Sieve';
  const content = document.createElement('div');
  content.className = 'message-content';
  content.textContent = message.content;
  article.append(who, content);
  markFinish(article, message);
  ui.messages.append(article);
  return article;
}

function markFinish(article: HTMLElement, message: StoredMessage): void {
  article.querySelector('.message-note')?.remove();
  if (!message.finishReason) return;
  article.dataset.finish = message.finishReason;
  const tokens = message.usage?.completion_tokens;
  const notes: Record<string, string> = {
    abort: 'Stopped',
    length: `Reached the token limit${tokens ? ` (${tokens} tokens)` : ''}: raise Max tokens in Model and settings for longer replies.`,
  };
  const text = notes[message.finishReason];
  if (!text) return;
  const note = document.createElement('p');
  note.className = 'message-note';
  note.textContent = text;
  article.append(note);
}

function scrollToEnd(): void {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderConversation(): void {
  ui.messages.replaceChildren();
  for (const m of current.messages) renderMessage(m);
  renderPending();
  const lastUsage = [...current.messages].reverse().find((m) => m.usage)?.usage;
  showUsage(lastUsage);
  scrollToEnd();
}

// ---- Conversation list ----

function renderConversationList(): void {
  const items = conversations.map((c) => {
    const li = document.createElement('li');
    li.className = 'conversation-item';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'conversation-open';
    open.textContent = c.title;
    open.title = c.title;
    if (c.id === current.id) open.setAttribute('aria-current', 'true');
    open.addEventListener('click', () => void switchTo(c.id));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'conversation-delete';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Delete conversation "${c.title}"`);
    remove.addEventListener('click', () => void deleteConversation(c.id));
    li.append(open, remove);
    return li;
  });
  ui.conversationList.replaceChildren(...items);
}

async function save(conversation: Conversation): Promise<void> {
  conversation.updatedAt = Date.now();
  if (!conversations.includes(conversation)) conversations.unshift(conversation);
  conversations.sort((a, b) => b.updatedAt - a.updatedAt);
  renderConversationList();
  try {
    await store?.put(structuredClone(conversation));
  } catch (e) {
    showError('Could not save the conversation', e, REMEDY.storage);
  }
}

async function switchTo(id: string): Promise<void> {
  generation?.abort();
  const found = conversations.find((c) => c.id === id);
  if (!found || found === current) return;
  current = found;
  renderConversationList();
  renderConversation();
  ui.prompt.focus();
  flushOutbox();
}

function startNewConversation(): void {
  generation?.abort();
  current = newConversation();
  renderConversationList();
  renderConversation();
  ui.prompt.focus();
}

async function deleteConversation(id: string): Promise<void> {
  if (id === current.id) generation?.abort();
  conversations = conversations.filter((c) => c.id !== id);
  await store?.delete(id).catch((e: unknown) => showError('Could not delete the conversation', e, 'Delete it again; if it stays, clear this site\'s data in the browser settings.'));
  if (id === current.id) current = conversations[0] ?? newConversation();
  renderConversationList();
  renderConversation();
}

// ---- Model loading ----

function engineState(): EngineState {
  return { loading, replying: generation !== null, modelLoaded: loadedModel !== null };
}

function updateControls(): void {
  const busy = generation !== null;
  ui.sendButton.hidden = busy;
  ui.stopButton.hidden = !busy;
  // Sending is always possible: what the engine cannot take yet waits, shown as pending (see the outbox).
  ui.sendButton.disabled = false;
  // While a model loads, the Load button stops it.
  ui.loadButton.textContent = loading ? 'Cancel' : 'Load';
  ui.loadButton.disabled = busy && !loading;
  ui.modelInput.disabled = loading;
  ui.catalogSelect.disabled = loading;
  const dense = ui.policySelect.value === DENSE_POLICY;
  ui.budgetInput.disabled = dense;
  ui.budgetHelp.hidden = !dense;
  // Updating reloads the page: not in the middle of a reply or a download.
  if (updateButton) updateButton.disabled = busy || loading;
}

/** `cache`: keep the model in this browser's model store (the default model is, so the app opens offline). */
async function loadModel(input: string, extra: { cache?: boolean } = {}): Promise<void> {
  let picked: ReturnType<ModelPicker['resolve']>;
  try {
    // A remote server's model is its name there, not a URL.
    picked = remoteUrl ? { url: input.trim(), model: null, options: {} } : picker.resolve(input);
  } catch (e) {
    // Refused before any request: the model loaded before (if any) is untouched.
    showError(input.trim() ? `Cannot load "${input.trim()}"` : 'Cannot load', e, REMEDY.load);
    ui.modelInput.setAttribute('aria-invalid', 'true');
    ui.modelInput.focus();
    return;
  }
  const url = picked.url;
  // A catalog model by its name; anything else as the person typed it.
  const name = picked.model ? modelName(url) : input.trim();
  const previous = loadedModel;
  picker.reflect(url);
  clearNotice();
  ui.modelInput.removeAttribute('aria-invalid');
  loading = true;
  loadAbort = new AbortController();
  updateControls();
  renderPending();
  showModelState(`· loading ${name}…`);
  ui.loadPanel.hidden = false;
  ui.loadProgress.hidden = false;
  ui.loadProgress.removeAttribute('value');
  ui.loadText.textContent = `Loading ${name}…`;
  const started = performance.now();
  let phaseStarted = started;
  let phase: LoadProgress['phase'] | null = null;
  let lastPaint = 0;
  const onProgress = (p: LoadProgress) => {
    const t = performance.now();
    if (p.phase !== phase) { phase = p.phase; phaseStarted = t; lastPaint = 0; }
    const done = p.totalBytes > 0 && p.loadedBytes >= p.totalBytes;
    if (!done && t - lastPaint < PROGRESS_REFRESH_MS) return;
    lastPaint = t;
    if (p.totalBytes > 0) {
      ui.loadProgress.max = p.totalBytes;
      ui.loadProgress.value = Math.min(p.loadedBytes, p.totalBytes);
    } else {
      ui.loadProgress.removeAttribute('value');
    }
    const parts = [PHASE_LABELS[p.phase] ?? p.phase];
    if (p.file) parts[0] += ` ${p.file}`;
    // Compiling reports no bytes, only what it compiles.
    if (p.totalBytes > 0) parts.push(`${formatBytes(p.loadedBytes)} of ${formatBytes(p.totalBytes)}`);
    else if (p.loadedBytes > 0) parts.push(formatBytes(p.loadedBytes));
    // Cached downloads measure their own rate over a recent window (and know about resumed bytes).
    const left = p.timeLeftMs !== undefined ? p.timeLeftMs : timeLeftMs(p.loadedBytes, p.totalBytes, t - phaseStarted);
    if (left !== null && !done) parts.push(`about ${formatDuration(left)} left`);
    if (p.fromCache) parts.push('from this device');
    else if (p.resumedFrom) parts.push(`resumed after ${formatBytes(p.resumedFrom)}`);
    ui.loadText.textContent = parts.join(' · ');
  };
  try {
    const options = { ...picked.options, ...extra };
    const info = await engine.load(url, { onProgress, signal: loadAbort.signal, ...options });
    loadedModel = url;
    rememberModel(url);
    if (options.cache || options.catalogId) void keepStorage();
    ui.loadProgress.max = 1;
    ui.loadProgress.value = 1;
    ui.loadText.textContent = `Loaded ${name} (${info.architecture}, ${info.numLayers} layers, ${formatBytes(info.weightBytes)} of weights`
      + `${info.adapter ? ` on ${info.adapter}` : ''}) in ${formatDuration(performance.now() - started)}.`;
    showModelState(`· ${name} ready`);
    document.body.dataset.model = url;
  } catch (e) {
    // The engine frees the model it had before it reads the new one's files: after a failed load none is loaded.
    loadedModel = null;
    delete document.body.dataset.model;
    ui.loadProgress.hidden = true;
    const stopped = (e as { code?: string })?.code === 'ABORTED';
    ui.loadText.textContent = stopped ? `Loading ${name} was cancelled; no model is loaded.` : `Loading ${name} failed; no model is loaded.`;
    showModelState('· no model loaded');
    if (stopped) showNotice({ message: `Loading ${name} was cancelled.`, remedy: 'Press Load to load it or another model; what was downloaded is kept.' }, 'info');
    else showError(`Could not load ${name}`, e, REMEDY.load);
    if (previous && previous !== url) offerReload(previous);
  } finally {
    loading = false;
    loadAbort = null;
    updateControls();
    flushOutbox();
  }
}

/** A failed load freed the model before it: one click brings it back (from the model store, with no download). */
function offerReload(url: string): void {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'button';
  // Not "Load …": the model form's own Load button keeps its name to itself.
  button.textContent = `Use ${modelName(url)} again`;
  button.addEventListener('click', () => {
    ui.modelInput.value = url;
    void loadModel(url);
  });
  ui.notice.append(' ', button);
}

function rememberModel(url: string): void {
  try {
    localStorage.setItem(LAST_MODEL_KEY, url);
  } catch {
    // Storage refused (private mode, quota): the page then falls back to the default model next time.
  }
}

function lastModel(): string | null {
  try {
    return localStorage.getItem(LAST_MODEL_KEY);
  } catch {
    return null;
  }
}

// ---- Offline app ----

function startOfflineApp(): void {
  registerOfflineApp({
    onOfflineReady: () => { document.body.dataset.offlineReady = 'true'; },
    onUpdateReady: (apply) => {
      showNotice('A new version of Sieve is ready.', 'info');
      updateButton = document.createElement('button');
      updateButton.type = 'button';
      updateButton.className = 'button';
      updateButton.textContent = 'Reload to update';
      updateButton.addEventListener('click', () => void apply());
      ui.notice.append(' ', updateButton);
      updateControls();
    },
    onError: (e) => { const { message, remedy } = explain(e, 'Keep this page open while online.'); console.warn(`Sieve cannot work offline here: ${message} ${remedy}`); },
  });
}

// ---- Generation ----

function attentionRequest(): AttentionRequest {
  const policy = ui.policySelect.value || DENSE_POLICY;
  if (policy === DENSE_POLICY) return DENSE_POLICY;
  return { policy, budget: Number(ui.budgetInput.value) };
}

/** An empty number field means "the engine's default". */
function numberField(input: HTMLInputElement): number | undefined {
  return input.value.trim() === '' ? undefined : Number(input.value);
}

/** Prompts prefilled in more tokens than this show a progress bar in the reply until its first word (issue 18). */
const PREFILL_PROGRESS_MIN_TOKENS = 1024;

/** The reply's "reading the prompt" bar: made on the first report of a long prefill, removed at its first word. */
function prefillProgressBar(article: HTMLElement): { update: (p: { done: number; total: number }) => void; remove: () => void } {
  let bar: HTMLElement | null = null;
  return {
    update({ done, total }) {
      if (total <= PREFILL_PROGRESS_MIN_TOKENS || !article.isConnected) return;
      if (!bar) {
        bar = document.createElement('div');
        bar.className = 'prefill-progress';
        bar.innerHTML = '<progress max="1" value="0"></progress><span class="help" role="status"></span>';
        article.append(bar);
      }
      const progress = bar.querySelector('progress') as HTMLProgressElement;
      progress.max = total;
      progress.value = done;
      const label = `Reading the prompt: ${done.toLocaleString()} of ${total.toLocaleString()} tokens`;
      progress.setAttribute('aria-label', label);
      (bar.querySelector('span') as HTMLElement).textContent = label;
    },
    remove() {
      bar?.remove();
      bar = null;
    },
  };
}

const SETTINGS_INPUTS: Record<SettingsField, () => HTMLInputElement> = {
  maxTokens: () => ui.maxTokensInput, temperature: () => ui.temperatureInput, budget: () => ui.budgetInput,
};

/** A settings value the engine would refuse, shown and focused; null when all are good. */
function settingsProblem(): boolean {
  const problem = checkSettings({
    maxTokens: ui.maxTokensInput.value, temperature: ui.temperatureInput.value, budget: ui.budgetInput.value,
    policy: ui.policySelect.value || DENSE_POLICY,
  });
  for (const input of Object.values(SETTINGS_INPUTS)) input().removeAttribute('aria-invalid');
  if (!problem) return false;
  showNotice(problem);
  const input = SETTINGS_INPUTS[problem.field]();
  input.setAttribute('aria-invalid', 'true');
  ui.settings.open = true;
  input.focus();
  return true;
}

/** Sends now when the engine can take it; otherwise the message waits, shown as pending, and goes when it can. */
function submitMessage(text: string): void {
  if (settingsProblem()) return; // the text stays in the box
  ui.prompt.value = '';
  if (canSend(engineState()) && !outbox.hasWaiting(current.id)) {
    void send(current, text);
    return;
  }
  outbox.add(current.id, text);
  renderPending();
  scrollToEnd();
}

/** The waiting messages of the conversation on screen, after its messages, each with why it waits. */
function renderPending(): void {
  for (const el of ui.messages.querySelectorAll('.message.pending')) el.remove();
  const note = pendingNote(engineState());
  for (const m of outbox.of(current.id)) ui.messages.append(renderPendingMessage(m, note));
}

function renderPendingMessage(m: OutgoingMessage, note: string): HTMLElement {
  const article = document.createElement('article');
  article.className = 'message user pending';
  article.dataset.role = 'user';
  article.dataset.pending = 'true';
  const who = document.createElement('p');
  who.className = 'message-role';
  who.textContent = 'You · not sent yet';
  const content = document.createElement('div');
  content.className = 'message-content';
  content.textContent = m.text;
  const noteEl = document.createElement('p');
  noteEl.className = 'message-note';
  noteEl.textContent = note;
  const withdraw = document.createElement('button');
  withdraw.type = 'button';
  withdraw.className = 'pending-withdraw';
  withdraw.textContent = 'Don\'t send';
  withdraw.addEventListener('click', () => {
    outbox.remove(m.id);
    if (!ui.prompt.value) ui.prompt.value = m.text;
    renderPending();
  });
  noteEl.append(' ', withdraw);
  article.append(who, content, noteEl);
  return article;
}

/** Sends the next waiting message of the conversation on screen, if the engine can take it now. */
function flushOutbox(): void {
  const next = outbox.take(current.id, engineState());
  renderPending();
  if (next) void send(current, next.text);
}

async function send(conversation: Conversation, text: string): Promise<void> {
  if (!canSend(engineState())) return;
  clearNotice();
  const user: StoredMessage = { role: 'user', content: text };
  conversation.messages.push(user);
  if (conversation.messages.filter((m) => m.role === 'user').length === 1) conversation.title = titleOf(text);
  renderMessage(user);
  renderPending();
  await answer(conversation);
}

/**
 * The context is full: the person chooses to go on under a bounded cache or without the oldest turns; the
 * conversation remembers it. A question that did not fit is answered again under the choice.
 */
function offerContextChoice(conversation: Conversation, why: Explained): void {
  showNotice({ message: why.message, remedy: `${why.remedy ? `${why.remedy} ` : ''}How should this conversation go on?` }, 'info');
  for (const { choice, label } of CONTEXT_CHOICES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'context-choice';
    button.dataset.choice = choice;
    button.textContent = label;
    button.addEventListener('click', () => {
      conversation.contextChoice = choice;
      clearNotice();
      void save(conversation).then(() => {
        if (conversation.messages.at(-1)?.role === 'user' && current === conversation) void answer(conversation);
      });
    });
    ui.notice.append(' ', button);
  }
}

/** Replies to the conversation's last user message. */
async function answer(conversation: Conversation): Promise<void> {
  if (generation || loading || !loadedModel) return;
  const request = {
    messages: toApiMessages(conversation.messages),
    stream: true as const,
    max_tokens: numberField(ui.maxTokensInput),
    temperature: numberField(ui.temperatureInput),
    attention: conversation.contextChoice === 'bounded' ? BOUNDED_ATTENTION : attentionRequest(),
  };
  conversation.model = loadedModel;
  await save(conversation);

  // The reply is part of the conversation from its first word on, and saved as it grows (a reload keeps it).
  const reply: StoredMessage = { role: 'assistant', content: '' };
  conversation.messages.push(reply);
  const article = renderMessage(reply);
  article.setAttribute('aria-busy', 'true');
  renderPending(); // after the reply, and now saying they wait for it
  const content = article.querySelector('.message-content') as HTMLElement;
  const controller = new AbortController();
  generation = controller;
  updateControls();
  scrollToEnd();
  let firstTokenAt = 0;
  let pieces = 0;
  /** Set when the engine's worker died under this reply: the client starts a new one, which needs the model again. */
  let workerDied: string | null = null;
  let lastSave = performance.now();
  const prefillBar = prefillProgressBar(article);
  try {
    const open = () => engine.chat.completions.create(request, { signal: controller.signal, onPrefillProgress: prefillBar.update });
    let stream: Awaited<ReturnType<typeof open>>;
    for (;;) {
      try {
        stream = await open();
        break;
      } catch (e) {
        // Chosen for this conversation: the oldest turns go until the prompt fits (CONTEXT_FULL comes before prefill).
        const fewer = conversation.contextChoice === 'drop-oldest' && isContextFull(e) ? withoutOldestTurn(request.messages) : null;
        if (!fewer) throw e;
        request.messages = fewer;
      }
    }
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const delta = choice?.delta.content;
      prefillBar.remove();
      if (delta) {
        // Templates without special tokens (the default "Assistant:") make replies start with a space; dropping it
        // also lets the next turn's "Assistant: " + reply re-tokenize like the cached tokens, so the prefix is reused.
        reply.content = (reply.content + delta).trimStart();
        if (current === conversation) content.textContent = reply.content;
        pieces += 1;
        const t = performance.now();
        if (firstTokenAt === 0) firstTokenAt = t;
        // Until the engine's usage arrives, show the rate the text arrives at (text pieces, roughly tokens).
        else ui.statDecode.textContent = `≈ ${formatRate(((pieces - 1) * 1000) / (t - firstTokenAt))}`;
        scrollToEnd();
        if (t - lastSave > STREAM_SAVE_INTERVAL_MS) { lastSave = t; void save(conversation); }
      }
      if (choice?.finish_reason) reply.finishReason = choice.finish_reason;
      if (chunk.usage) {
        reply.usage = chunk.usage;
        if (current === conversation) showUsage(chunk.usage);
      }
    }
  } catch (e) {
    const { message, remedy } = explain(e, REMEDY.reply);
    if (isContextFull(e) && !conversation.contextChoice) offerContextChoice(conversation, { message, remedy });
    else if ((e as { code?: string })?.code === 'WORKER_DIED') workerDied = message;
    else showNotice({ message, remedy });
    // A reply that failed before its first word is not kept.
    if (reply.content.length > 0) {
      reply.finishReason = 'abort';
    } else {
      conversation.messages.splice(conversation.messages.indexOf(reply), 1);
      article.remove();
    }
  } finally {
    prefillBar.remove();
    // Saved before the page shows the reply as finished, so what the page shows done survives a reload.
    await save(conversation);
    article.removeAttribute('aria-busy');
    markFinish(article, reply);
    if (current === conversation) scrollToEnd(); // the finish note shows under the reply
    generation = null;
    updateControls();
  }
  if (workerDied && loadedModel) {
    const model = loadedModel;
    loadedModel = null;
    delete document.body.dataset.model; // none is loaded until the new worker has it again
    void loadModel(model);
    showNotice({ message: workerDied, remedy: `Loading ${modelName(model)} again: send your message again; it waits until the model is loaded.` });
    return;
  }
  flushOutbox();
  // Without max_tokens, 'length' means the reply filled the context: the next turn would not fit either.
  if (reply.finishReason === 'length' && request.max_tokens === undefined && !conversation.contextChoice && current === conversation) {
    offerContextChoice(conversation, { message: 'The reply filled the model\'s context.', remedy: '' });
  }
}

// ---- Wiring ----

async function fillPolicies(): Promise<void> {
  let names: string[];
  try {
    names = await engine.listPolicies();
  } catch (e) {
    showError('The engine did not start', e, REMEDY.engine);
    names = [];
  }
  ui.policySelect.replaceChildren(...names.map((name) => new Option(name, name, name === DENSE_POLICY, name === DENSE_POLICY)));
  updateControls();
}

function wireEvents(): void {
  // Picking fills the field; the download starts with Load (a catalog model can be gigabytes).
  picker.fill((url) => {
    ui.modelInput.value = url;
    ui.loadButton.focus();
  });
  ui.modelForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (loading) loadAbort?.abort();
    else void loadModel(ui.modelInput.value);
  });
  ui.modelInput.addEventListener('input', () => ui.modelInput.removeAttribute('aria-invalid'));
  for (const input of [ui.maxTokensInput, ui.temperatureInput, ui.budgetInput]) input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
  ui.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = ui.prompt.value.trim();
    if (text.length > 0) submitMessage(text);
  });
  ui.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.stopButton.addEventListener('click', () => generation?.abort());
  ui.newChat.addEventListener('click', startNewConversation);
  ui.policySelect.addEventListener('change', updateControls);
}

async function start(): Promise<void> {
  startOfflineApp();
  wireEvents();
  updateControls();
  const policies = fillPolicies();
  try {
    store = await ConversationStore.open();
    conversations = await store.list();
  } catch (e) {
    showNotice({ message: `Conversations cannot be saved in this browser: ${explain(e, '').message}`, remedy: REMEDY.storage }, 'info');
  }
  current = conversations[0] ?? newConversation();
  renderConversationList();
  renderConversation();
  // A new visitor can type at once (a message sent before the model is ready waits for it).
  if (document.activeElement === document.body) ui.prompt.focus();
  await policies;

  const defaultModel = remoteUrl
    ? new URLSearchParams(location.search).get('model')
    : await findDefaultModel({ isCached: (url) => engine.isModelCached(new URL(url, location.href).href), lastLoaded: lastModel() });
  for (const url of [PROJECT_MODEL_URL, FALLBACK_MODEL_URL]) ui.modelSuggestions.append(new Option(url));
  document.body.dataset.ready = 'true';
  if (defaultModel) {
    ui.modelInput.value = defaultModel;
    await loadModel(defaultModel, { cache: true });
  } else {
    showModelState('· no model loaded');
    showNotice(howToLoadAModel(), 'info');
  }
}

void start();
