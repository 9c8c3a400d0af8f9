// Tests of the safetensors parser on files built by hand: dtypes, metadata, and headers that lie.
import { describe, expect, it } from 'vitest';
import { BadModelFileError, UnsupportedDtypeError } from '../errors/index.ts';
import { f16Bits } from '../quant/index.ts';
import { safetensorsBytes, testValues } from './checkpoint.test-helper.ts';
import { decodeF16, parseSafetensors, parseSafetensorsFile, STREAM_PIECE_BYTES, streamSafetensors } from './safetensors.ts';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('parseSafetensors', () => {
  const values = testValues(6, 7);

  it.each(['F32', 'F16', 'BF16'])('reads %s as f32 with shape', (dtype) => {
    const bytes = safetensorsBytes([
      { name: 'a', shape: [2, 3], values, dtype },
      { name: 'b', shape: [3], values: [1.5, -0.25, 0], dtype },
    ]);
    const map = parseSafetensors(bytes, 'model.safetensors');
    expect([...map.keys()]).toEqual(['a', 'b']);
    expect(map.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(map.get('a')!.data)).toEqual(values);
    expect(Array.from(map.get('b')!.data)).toEqual([1.5, -0.25, 0]);
  });

  it('rounds f32 -> f16 -> f32 as IEEE binary16 does', () => {
    const odd = [65504, -65504, 6.103515625e-5, 5.960464477539063e-8, 1 / 3, Infinity, -0];
    const map = parseSafetensors(safetensorsBytes([{ name: 'x', shape: [odd.length], values: odd, dtype: 'F16' }]), 'f.safetensors');
    const got = Array.from(map.get('x')!.data);
    expect(got.slice(0, 4)).toEqual(odd.slice(0, 4));
    expect(got[4]).toBe(0.333251953125); // nearest binary16 to 1/3
    expect(got[5]).toBe(Infinity);
    expect(Object.is(got[6], -0)).toBe(true);
    expect(Number.isNaN(decodeF16(0x7e00))).toBe(true);
    expect(decodeF16(f16Bits(-2.5))).toBe(-2.5);
  });

  it('reads f32 from an unaligned data section by copying', () => {
    const bytes = safetensorsBytes([{ name: 'x', shape: [3], values: [1, 2, 3] }], { pad: false, metadata: { format: 'pt' } });
    // Header "{"__metadata__":...}" without padding leaves the data at an offset that is not a multiple of 4.
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 4).not.toBe(0);
    expect(Array.from(parseSafetensors(bytes, 'f').get('x')!.data)).toEqual([1, 2, 3]);
  });

  it('returns __metadata__ and reads scalars and empty tensors', () => {
    const bytes = safetensorsBytes(
      [{ name: 's', shape: [], values: [4] }, { name: 'e', shape: [0, 5], values: [] }],
      { metadata: { format: 'pt' } },
    );
    const { tensors, metadata } = parseSafetensorsFile(bytes, 'f');
    expect(metadata.get('format')).toBe('pt');
    expect(tensors.has('__metadata__')).toBe(false);
    expect(Array.from(tensors.get('s')!.data)).toEqual([4]);
    expect(tensors.get('e')!.data.length).toBe(0);
  });

  it('refuses other dtypes, naming file, tensor and dtype', () => {
    const e = thrown(() => parseSafetensors(safetensorsBytes([{ name: 'ids', shape: [2], values: [1, 2], dtype: 'I64' }]), 'm.safetensors'));
    expect(e).toBeInstanceOf(UnsupportedDtypeError);
    expect((e as UnsupportedDtypeError).message).toContain('m.safetensors');
    expect((e as UnsupportedDtypeError).message).toContain('"ids"');
    expect((e as UnsupportedDtypeError).message).toContain('I64');
  });

  const lies: [string, (h: Record<string, any>) => void, RegExp][] = [
    ['an offset past the end', (h) => { h.b.data_offsets = [24, 40]; }, /tensor "b" data_offsets: end 40 is past the 36 data bytes/],
    ['a size that does not match the shape', (h) => { h.a.shape = [2, 2]; }, /tensor "a" data_offsets: cover 24 bytes but shape \[2, 2\] of F32 needs 16/],
    ['overlapping tensors', (h) => { h.b.data_offsets = [20, 32]; }, /tensor "b" data_offsets: \[20, 32\] overlaps/],
    ['a hole between tensors', (h) => { h.a.data_offsets = [0, 20]; h.a.shape = [5]; }, /tensor "b" data_offsets: starts at 24, leaving a hole/],
    ['begin after end', (h) => { h.b.data_offsets = [36, 24]; }, /begin 36 is after end 24/],
    ['a shape that is not integers', (h) => { h.a.shape = [2, -3]; }, /tensor "a" shape/],
    ['missing data_offsets', (h) => { delete h.a.data_offsets; }, /tensor "a" data_offsets/],
    ['a missing dtype', (h) => { delete h.a.dtype; }, /tensor "a" dtype: is missing/],
  ];
  it.each(lies)('refuses a header with %s, naming file, tensor and field', (_, edit, message) => {
    const bytes = safetensorsBytes(
      [{ name: 'a', shape: [2, 3], values }, { name: 'b', shape: [3], values: [1, 2, 3] }],
      { header: edit },
    );
    const e = thrown(() => parseSafetensors(bytes, 'shard-2.safetensors'));
    expect(e).toBeInstanceOf(BadModelFileError);
    expect((e as Error).message).toMatch(/^shard-2\.safetensors: /);
    expect((e as Error).message).toMatch(message);
  });

  it('refuses a file with bytes that no tensor covers', () => {
    const bytes = safetensorsBytes([{ name: 'a', shape: [2], values: [1, 2] }]);
    const longer = new Uint8Array(bytes.byteLength + 4);
    longer.set(bytes);
    expect(() => parseSafetensors(longer, 'f')).toThrow(/data: the tensors cover 8 bytes but 12 follow the header/);
  });

  it('refuses a header length beyond the file, a truncated file, and a header that is not JSON', () => {
    const bytes = safetensorsBytes([{ name: 'a', shape: [2], values: [1, 2] }]);
    const lying = bytes.slice();
    new DataView(lying.buffer).setUint32(0, 1_000_000, true);
    expect(() => parseSafetensors(lying, 'f')).toThrow(BadModelFileError);
    expect(() => parseSafetensors(lying, 'f')).toThrow(/header length: says 1000000 bytes/);
    expect(() => parseSafetensors(bytes.subarray(0, 5), 'f')).toThrow(/fewer than the 8-byte header length/);
    expect(() => parseSafetensors(bytes.subarray(0, bytes.byteLength - 4), 'f')).toThrow(/end 8 is past the 4 data bytes/);
    const garbage = bytes.slice();
    garbage[8] = 0x5b; // '[' : still JSON-ish but not an object once the rest fails
    expect(() => parseSafetensors(garbage, 'f')).toThrow(/header: is not valid UTF-8 JSON/);
  });
});

describe('streamSafetensors', () => {
  const tensors = [
    { name: 'a', shape: [3, 5], values: Array.from({ length: 15 }, (_, i) => i / 7 - 1), dtype: 'BF16' as const },
    { name: 'b', shape: [4], values: [1, -2, 0.5, 3], dtype: 'F16' as const },
    { name: 'c', shape: [2, 3], values: [1, 2, 3, 4, 5, 6], dtype: 'F32' as const },
  ];
  async function* chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
    for (let at = 0; at < bytes.byteLength; at += size) yield bytes.slice(at, at + size);
  }
  async function collect(bytes: Uint8Array, size: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    await streamSafetensors(chunked(bytes, size), 'f', {
      piece(entry, rowStart, rows, data) {
        const all = out.get(entry.name) ?? [];
        expect(all.length).toBe(rowStart * (data.length / rows)); // pieces arrive in row order
        out.set(entry.name, [...all, ...data]);
      },
    });
    return out;
  }

  it('gives the values parseSafetensors gives, whatever the chunk sizes', async () => {
    const bytes = safetensorsBytes(tensors);
    const whole = parseSafetensors(bytes, 'f');
    for (const size of [1, 3, 7, 64, bytes.byteLength]) {
      const streamed = await collect(bytes, size);
      for (const [name, t] of whole) expect(streamed.get(name)).toEqual(Array.from(t.data));
    }
  });

  it('fails a stream cut short or carrying extra bytes, naming the tensor', async () => {
    const bytes = safetensorsBytes(tensors);
    await expect(collect(bytes.subarray(0, bytes.byteLength - 2), 5)).rejects.toThrow(/tensor "c" data: the file ends after/);
    const longer = new Uint8Array(bytes.byteLength + 4);
    longer.set(bytes);
    await expect(collect(longer, 5)).rejects.toThrow(/data: more bytes follow/);
    const lying = bytes.slice();
    new DataView(lying.buffer).setUint32(0, lying.byteLength, true);
    await expect(collect(lying, 5)).rejects.toThrow(new RegExp(`header length: says ${lying.byteLength} bytes but the file has ${lying.byteLength - 8} after it`));
  });

  it('splits a large tensor into pieces of whole rows no larger than STREAM_PIECE_BYTES', async () => {
    const rows = 1100;
    const cols = 4096; // 8 KiB of bf16 per row: 8.6 MiB in all, more than one piece
    const values = new Array(rows * cols).fill(0).map((_, i) => (i % 97) / 97);
    const bytes = safetensorsBytes([{ name: 'w', shape: [rows, cols], values, dtype: 'BF16' }]);
    const pieces: number[] = [];
    await streamSafetensors(chunked(bytes, 1 << 20), 'f', { piece: (_e, _r, n) => { pieces.push(n); } });
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(rows);
    expect(pieces.length).toBeGreaterThan(1);
    for (const n of pieces) expect(n * cols * 2).toBeLessThanOrEqual(STREAM_PIECE_BYTES);
  });
});
