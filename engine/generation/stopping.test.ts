// Stop strings held back across token boundaries, and incremental detokenization of multi-byte characters.
import { describe, expect, it } from 'vitest';
import { IncrementalDetokenizer, StopStringFilter } from './stopping.ts';

function run(stops: string[], deltas: string[]) {
  const f = new StopStringFilter(stops);
  const out: string[] = [];
  let stopped = false;
  for (const d of deltas) {
    const r = f.push(d);
    out.push(r.text);
    if (r.stopped) { stopped = true; break; }
  }
  if (!stopped) out.push(f.flush());
  return { out, stopped, text: out.join('') };
}

describe('StopStringFilter', () => {
  it('finds a stop string split over three deltas, emits nothing of it, and holds back only what could start it', () => {
    const r = run(['END!'], ['abc E', 'N', 'D', '! more']);
    expect(r.stopped).toBe(true);
    expect(r.text).toBe('abc ');
    expect(r.out).toEqual(['abc ', '', '', '']);
  });

  it('releases held text once it can no longer start a stop string', () => {
    const r = run(['END'], ['x E', 'NX', 'y']);
    expect(r.stopped).toBe(false);
    expect(r.out).toEqual(['x ', 'ENX', 'y', '']);
  });

  it('stops at the earliest of several stop strings; text at the end is flushed', () => {
    expect(run(['\n', 'bb'], ['a', 'bb\nc']).text).toBe('a');
    expect(run(['.', '!'], ['Hi', ' there!', 'x']).text).toBe('Hi there');
    const tail = run(['STOP'], ['a', 'ST']);
    expect(tail).toEqual({ out: ['a', '', 'ST'], stopped: false, text: 'aST' });
  });

  it('passes everything through without stop strings', () => {
    expect(run([], ['a', 'b']).out).toEqual(['a', 'b', '']);
  });
});

describe('IncrementalDetokenizer', () => {
  // A byte-level toy vocabulary: id = byte value; decode as UTF-8 like a byte-fallback tokenizer.
  const decode = (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids));
  it('holds an incomplete UTF-8 character until its last byte arrives', () => {
    const d = new IncrementalDetokenizer(decode, []);
    const bytes = [...new TextEncoder().encode('a€b')]; // € is 3 bytes
    expect(bytes.map((b) => d.push(b))).toEqual(['a', '', '', '€', 'b']);
  });

  it('keeps the leading space of the first generated piece by decoding it after prompt context', () => {
    // SentencePiece-style: "▁" is a space, and decode drops the sequence's first space.
    const pieces = ['▁Once', '▁upon', ',', '▁a'];
    const sp = (ids: number[]) => ids.map((i) => pieces[i]).join('').replaceAll('▁', ' ').replace(/^ /, '');
    const d = new IncrementalDetokenizer(sp, [0]);
    expect([1, 2, 3].map((id) => d.push(id)).join('')).toBe(' upon, a');
    const cold = new IncrementalDetokenizer(sp, []);
    expect([0, 1].map((id) => cold.push(id)).join('')).toBe('Once upon');
  });

  it('flush releases a dangling partial character', () => {
    const d = new IncrementalDetokenizer(decode, []);
    expect(d.push(0xe2)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });
});
