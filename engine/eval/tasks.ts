// Seeded eval tasks for sieve-tiny (issue 16): pass key, multi-key KV retrieval, multi-needle, a question about the
// first turn of a long chat, and perplexity on held-out text. The prompts are laid out as models/train/data.py lays
// out its training and eval rows (so they measure what the model was trained to do), built from token pieces that
// each start at a pre-token boundary, so the ids equal what the tokenizer gives for the joined text. The same seed
// gives the same items on every run and for every policy (paired comparisons).
import { InvalidArgumentError } from '../errors/index.ts';
import { SeededRandom } from '../generation/random.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';

export const RETRIEVAL_TASKS = ['passkey', 'kv', 'needles', 'chat'] as const;
export const EVAL_TASKS = [...RETRIEVAL_TASKS, 'perplexity'] as const;
export type RetrievalTask = (typeof RETRIEVAL_TASKS)[number];
export type EvalTask = (typeof EVAL_TASKS)[number];

/** data.py's filler sentences (repeated haystack). */
export const FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.';
/** Greedy tokens generated per retrieval item: a space, five digits and the full stop (eval.py generates 7). */
export const ANSWER_TOKENS = 7;
/** Tokens scored per perplexity item (teacher-forced decode steps after a prefill of the rest of the window). */
export const PERPLEXITY_TOKENS = 64;

export interface RetrievalItem {
  readonly task: RetrievalTask;
  /** `<task>-<context>-<seed>-<index>`: the same id names the same prompt for every policy. */
  readonly id: string;
  readonly ids: readonly number[];
  /** The 5-digit value a correct greedy continuation starts with. */
  readonly answer: string;
  /** Where the answer sits in the prompt, 0..1 (the needle's depth), for the report. */
  readonly depth: number;
}

export interface PerplexityItem {
  readonly task: 'perplexity';
  readonly id: string;
  /** The prefilled part of the window. */
  readonly ids: readonly number[];
  /** The next tokens, fed one decode step at a time; each is scored before it is fed. */
  readonly targets: readonly number[];
}

export type EvalItem = RetrievalItem | PerplexityItem;

/** What the generators need: the model's tokenizer and ids, the word lists, held-out natural text. */
export interface TaskSource {
  readonly tokenizer: TextTokenizer;
  readonly bos: number;
  readonly eos: number;
  /** Single-token lowercase words of 4-9 letters (data.py's `words`: vocabulary entries "Ġ[a-z]{4,9}"). */
  readonly words: readonly string[];
  /** Single-token capitalized names of 4-10 letters (data.py's `names`). */
  readonly names: readonly string[];
  /** Held-out natural text as ids (documents joined as `<s> doc </s>`): haystacks and perplexity windows. */
  readonly heldOut: readonly number[];
}

/** Uniform integers and choices over SeededRandom (mulberry32). */
class Draw {
  private readonly random: SeededRandom;
  constructor(seed: number) { this.random = new SeededRandom(seed); }
  float(): number { return this.random.next(); }
  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number { return lo + Math.floor(this.random.next() * (hi - lo)); }
  digits(k = 5): string { return Array.from({ length: k }, () => String(this.int(0, 10))).join(''); }
  /** k distinct indices of [0, n), in draw order. */
  sample(n: number, k: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }
}

/** Generates the items of one task at one context length: item i of seed s is the same on every call. */
export class TaskGenerator {
  private readonly cache = new Map<string, number[]>();
  private readonly filler: number[];
  private readonly fillerSpaced: number[];

  constructor(readonly source: TaskSource) {
    this.filler = this.e(FILLER);
    this.fillerSpaced = this.e(' ' + FILLER);
    if (source.words.length < 300 || source.names.length < 10) {
      throw new InvalidArgumentError('words', `the tokenizer has ${source.words.length} single-token words and ${source.names.length} names; the tasks need at least 300 and 10`);
    }
  }

  /** Ids of a piece of text (no special tokens), memoized. */
  private e(text: string): number[] {
    let ids = this.cache.get(text);
    if (!ids) {
      ids = this.source.tokenizer.encode(text);
      this.cache.set(text, ids);
    }
    return ids;
  }

  items(task: EvalTask, context: number, n: number, seed: number): EvalItem[] {
    if (!Number.isInteger(context) || context < 256) throw new InvalidArgumentError('context', `must be an integer of at least 256 tokens, got ${context}`);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('n', `must be a positive integer, got ${n}`);
    return Array.from({ length: n }, (_, i) => this.item(task, context, seed, i, n));
  }

  item(task: EvalTask, context: number, seed: number, index: number, n: number): EvalItem {
    // One stream per (task, context, seed, index): an item does not change when n does.
    const draw = new Draw(hashSeed(task, context, seed, index));
    const id = `${task}-${context}-${seed}-${index}`;
    // Needle depths swept evenly over the items (as eval.py does), jittered within their slot.
    const depth = (index + draw.float()) / n;
    switch (task) {
      case 'passkey': return { task, id, ...this.passkey(draw, context, depth) };
      case 'kv': return { task, id, ...this.kv(draw, context) };
      case 'needles': return { task, id, ...this.needles(draw, context) };
      case 'chat': return { task, id, ...this.chat(draw, context) };
      case 'perplexity': return { task, id, ...this.perplexity(draw, context) };
      default: throw new InvalidArgumentError('task', `unknown task "${task as string}"; available: ${EVAL_TASKS.join(', ')}`);
    }
  }

  /** n tokens of distractor text: the repeated filler, or a slice of held-out text (document starts read as ends). */
  private haystack(draw: Draw, n: number, kind: 'filler' | 'text'): number[] {
    if (n <= 0) return [];
    if (kind === 'filler') {
      const out = [...this.filler];
      while (out.length < n) out.push(...this.fillerSpaced);
      return out.slice(0, n);
    }
    const text = this.source.heldOut;
    if (text.length < n + 2) throw new InvalidArgumentError('context', `the held-out text holds ${text.length} tokens, fewer than a ${n}-token haystack`);
    const start = draw.int(0, text.length - n - 1);
    return text.slice(start, start + n).map((t) => (t === this.source.bos ? this.source.eos : t));
  }

  private passkey(draw: Draw, L: number, depth: number) {
    const key = draw.digits();
    const needle = this.e(` The pass key is ${key}. Remember it. ${key} is the pass key.`);
    const q = this.e('\nWhat is the pass key? The pass key is');
    const answerLength = this.e(` ${key}.`).length + 1;
    const h = this.haystack(draw, L - needle.length - q.length - answerLength - 1, 'filler');
    const d = Math.floor(depth * h.length);
    return { ids: [this.source.bos, ...h.slice(0, d), ...needle, ...h.slice(d), ...q], answer: key, depth: d / Math.max(1, h.length) };
  }

  private kv(draw: Draw, L: number) {
    const words = this.source.words;
    const head = this.e('Here is a list of keys and values. Remember them.\n');
    const lines: number[][] = [];
    const keys: string[] = [];
    const values: string[] = [];
    let used = head.length + 24 + 8;
    for (const w of draw.sample(words.length, words.length)) {
      const value = draw.digits();
      const line = this.e(`- ${words[w]}: ${value}\n`);
      if (used + line.length > L) break;
      lines.push(line);
      keys.push(words[w]);
      values.push(value);
      used += line.length;
    }
    const j = draw.int(0, keys.length);
    const q = this.e(`What is the value of ${keys[j]}? The value of ${keys[j]} is`);
    return { ids: [this.source.bos, ...head, ...lines.flat(), ...q], answer: values[j], depth: (j + 0.5) / keys.length };
  }

  private needles(draw: Draw, L: number) {
    const kind = draw.float() < 0.3 ? 'filler' : 'text';
    const m = draw.int(2, 6);
    const names = draw.sample(this.source.names.length, m).map((i) => this.source.names[i]);
    const keys = names.map(() => draw.digits());
    const pieces = names.map((name, i) => this.e(` The pass key for ${name} is ${keys[i]}.`));
    const j = draw.int(0, m);
    const q = this.e(`\nWhat is the pass key for ${names[j]}? The pass key for ${names[j]} is`);
    const answerLength = this.e(` ${keys[j]}.`).length + 1;
    const h = this.haystack(draw, Math.max(0, L - pieces.reduce((s, p) => s + p.length, 0) - q.length - answerLength - 1), kind);
    const cuts = names.map(() => draw.int(0, h.length + 1)).sort((a, b) => a - b);
    const ids = [this.source.bos];
    let previous = 0;
    cuts.forEach((cut, i) => {
      ids.push(...h.slice(previous, cut), ...pieces[i]);
      previous = cut;
    });
    ids.push(...h.slice(previous), ...q);
    return { ids, answer: keys[j], depth: cuts[j] / Math.max(1, h.length) };
  }

  /**
   * A chat whose first user turn holds a pass key (data.py's chat-form needle), followed by short exchanges of the
   * kinds sieve-tiny was trained on (sums, counting, spelling, greetings) until the context is full, then a last turn
   * that asks for the key in the chat-form question. The retrieval crosses every turn in between.
   */
  private chat(draw: Draw, L: number) {
    const key = draw.digits();
    const first = [...this.e(`User: The pass key is ${key}. Remember it. ${key} is the pass key.\nAssistant:`), ...this.e(' Hello! How can I help you today?'), this.source.eos, ...this.e('\n')];
    const q = this.e('User: What is the pass key?\nAssistant: The pass key is');
    const ids = [this.source.bos, ...first];
    const limit = L - q.length - this.e(` ${key}.`).length - 1;
    for (;;) {
      const turn = this.exchange(draw);
      if (ids.length + turn.length > limit) break;
      ids.push(...turn);
    }
    ids.push(...q);
    return { ids, answer: key, depth: 0 };
  }

  /** One short User/Assistant exchange in the chat template's layout (`User: ...\nAssistant: ...</s>\n`). */
  private exchange(draw: Draw): number[] {
    const a = draw.int(0, 50);
    const b = draw.int(0, 50);
    let user: string;
    let reply: string;
    switch (draw.int(0, 4)) {
      case 0: user = `What is ${a} plus ${b}?`; reply = `${a} plus ${b} is ${a + b}.`; break;
      case 1: {
        const c = draw.int(2, 8);
        user = `Count from ${a} to ${a + c}.`;
        reply = Array.from({ length: c + 1 }, (_, i) => String(a + i)).join(', ') + '.';
        break;
      }
      case 2: {
        const w = this.source.words[draw.int(0, this.source.words.length)];
        user = `Spell the word ${w}.`; reply = [...w].join('-') + '.';
        break;
      }
      default: user = ['Hello!', 'Hi.', 'Good morning.', 'Hi there!'][draw.int(0, 4)]; reply = 'Hello! How can I help you today?';
    }
    return [...this.e(`User: ${user}\nAssistant:`), ...this.e(' ' + reply), this.source.eos, ...this.e('\n')];
  }

  private perplexity(draw: Draw, L: number) {
    const text = this.source.heldOut;
    if (text.length < L + 1) throw new InvalidArgumentError('context', `the held-out text holds ${text.length} tokens, fewer than one ${L}-token window`);
    const start = draw.int(0, text.length - L);
    const window = text.slice(start, start + L);
    window[0] = this.source.bos;
    const cut = L - PERPLEXITY_TOKENS;
    return { ids: window.slice(0, cut), targets: window.slice(cut) };
  }
}

/** A 32-bit seed from the item's coordinates (FNV-1a over their text). */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('/')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** data.py's word and name lists from a byte-level BPE vocabulary (`Ġ` marks a leading space). */
export function wordListsOf(vocab: Readonly<Record<string, number>>): { words: string[]; names: string[] } {
  const tokens = Object.keys(vocab).sort();
  return {
    words: tokens.filter((t) => /^\u0120[a-z]{4,9}$/.test(t)).map((t) => t.slice(1)),
    names: tokens.filter((t) => /^\u0120[A-Z][a-z]{3,9}$/.test(t)).map((t) => t.slice(1)),
  };
}

/** Whether a greedy continuation answers: its text, trimmed, starts with the value (eval.py's rule). */
export function isCorrect(continuation: string, answer: string): boolean {
  return continuation.trim().startsWith(answer);
}
