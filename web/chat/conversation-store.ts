// Conversations kept in IndexedDB, so a reload (or a later visit) finds every chat where it was left.
import type { ChatCompletionMessageParam, CompletionUsage, FinishReason } from '../client/index.ts';
import type { ContextChoice } from './context-choice.ts';

/** Bump when the stored shape changes, with an upgrade step in open(). */
const DB_VERSION = 1;
const STORE = 'conversations';

export interface StoredMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Assistant replies: why it ended ('abort' when the user stopped it). */
  finishReason?: FinishReason;
  usage?: CompletionUsage;
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  /** The model URL the last reply came from. */
  model?: string;
  messages: StoredMessage[];
  /** What the person chose once the context was full (web/chat/context-choice.ts); absent until then. */
  contextChoice?: ContextChoice;
}

/** The messages as the API takes them. */
export function toApiMessages(messages: readonly StoredMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

/** A title from the first user message: its first line, shortened. */
export function titleOf(text: string, maxLength = 48): string {
  const line = text.trim().split('\n')[0].trim();
  if (line.length === 0) return 'New chat';
  return line.length > maxLength ? `${line.slice(0, maxLength - 1).trimEnd()}…` : line;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class ConversationStore {
  private constructor(private readonly db: IDBDatabase) {}

  static open(name = 'sieve-chat'): Promise<ConversationStore> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' }).createIndex('updatedAt', 'updatedAt');
      };
      req.onsuccess = () => resolve(new ConversationStore(req.result));
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('The conversation database is open in an older version of this page; close other tabs.'));
    });
  }

  /** Newest first. */
  async list(): Promise<Conversation[]> {
    const all = await request(this.db.transaction(STORE).objectStore(STORE).getAll() as IDBRequest<Conversation[]>);
    return all.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  get(id: string): Promise<Conversation | undefined> {
    return request(this.db.transaction(STORE).objectStore(STORE).get(id) as IDBRequest<Conversation | undefined>);
  }

  async put(conversation: Conversation): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(conversation);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  async delete(id: string): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).delete(id);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
}

export function newConversation(): Conversation {
  const now = Date.now();
  return { id: crypto.randomUUID(), title: 'New chat', createdAt: now, updatedAt: now, messages: [] };
}
