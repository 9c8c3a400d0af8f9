// Messages sent before the engine can take them (a model still loading, none loaded, a reply still streaming): kept in
// order per conversation and shown as pending, then sent one by one when the engine is free.

export interface OutgoingMessage {
  readonly id: number;
  readonly conversationId: string;
  readonly text: string;
}

/** What the engine is doing, as far as a message waiting for it cares. */
export interface EngineState {
  loading: boolean;
  replying: boolean;
  modelLoaded: boolean;
}

export class Outbox {
  private items: OutgoingMessage[] = [];
  private nextId = 1;

  add(conversationId: string, text: string): OutgoingMessage {
    const m = { id: this.nextId++, conversationId, text };
    this.items.push(m);
    return m;
  }

  remove(id: number): void {
    this.items = this.items.filter((m) => m.id !== id);
  }

  /** The conversation's waiting messages, oldest first. */
  of(conversationId: string): OutgoingMessage[] {
    return this.items.filter((m) => m.conversationId === conversationId);
  }

  /** Whether a new message of this conversation must wait behind others (they go first, in order). */
  hasWaiting(conversationId: string): boolean {
    return this.items.some((m) => m.conversationId === conversationId);
  }

  /** The next message to send now, taken out; null while the engine is busy or has no model. */
  take(conversationId: string, state: EngineState): OutgoingMessage | null {
    if (!canSend(state)) return null;
    const next = this.items.find((m) => m.conversationId === conversationId) ?? null;
    if (next) this.remove(next.id);
    return next;
  }
}

export function canSend(state: EngineState): boolean {
  return !state.loading && !state.replying && state.modelLoaded;
}

/** The note under a waiting message: why it waits and when it goes. */
export function pendingNote(state: EngineState): string {
  if (state.loading) return 'Waiting for the model to load: sent as soon as it is ready.';
  if (state.replying) return 'Sent when the reply above ends.';
  if (!state.modelLoaded) return 'Not sent yet: no model is loaded. Load one in Model and settings and it is sent then.';
  return 'Sending…';
}
