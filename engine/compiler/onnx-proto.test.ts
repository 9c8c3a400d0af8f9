// Tests of the protobuf writer: exact wire bytes for the encodings that are easy to get wrong, and a hand-built
// model that ONNX Runtime (wasm, in Node) must load and run with a symbolic dimension and every attribute kind used.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { ProtoWriter, encodeModel, OnnxDataType, writeTensor, writeAttribute, writeValueInfo } from './onnx-proto.ts';

ort.env.wasm.numThreads = 1;

function bytesOf(write: (w: ProtoWriter) => void): number[] {
  const w = new ProtoWriter();
  write(w);
  return Array.from(w.finish());
}

describe('ProtoWriter', () => {
  it('writes varints as protobuf does, including 64-bit two\'s complement for negatives', () => {
    expect(bytesOf((w) => w.rawVarint(0))).toEqual([0]);
    expect(bytesOf((w) => w.rawVarint(1))).toEqual([1]);
    expect(bytesOf((w) => w.rawVarint(300))).toEqual([0xac, 0x02]);
    expect(bytesOf((w) => w.rawVarint(2 ** 35))).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(bytesOf((w) => w.rawVarint(-1))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytesOf((w) => w.rawVarint(-2n))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytesOf((w) => w.rawVarint(9223372036854775807n))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(() => bytesOf((w) => w.rawVarint(2 ** 60))).toThrow(RangeError);
  });

  it('writes tags, floats, strings and packed fields', () => {
    expect(bytesOf((w) => w.varint(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytesOf((w) => w.float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    expect(bytesOf((w) => w.string(2, 'testing'))).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    expect(bytesOf((w) => w.packedVarints(4, [3, 270, 86942]))).toEqual([0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    expect(bytesOf((w) => w.packedFloats(7, [1, -2]))).toEqual([0x3a, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(bytesOf((w) => w.message(20, (m) => m.varint(1, 1)))).toEqual([0xa2, 0x01, 0x02, 0x08, 0x01]);
  });

  it('grows past its initial buffer', () => {
    const data = new Uint8Array(1000).map((_, i) => i & 0xff);
    const out = bytesOf((w) => w.bytes(1, data));
    expect(out.slice(0, 3)).toEqual([0x0a, 0xe8, 0x07]);
    expect(out.slice(3)).toEqual(Array.from(data));
  });
});

describe('ONNX messages', () => {
  it('TensorProto: dims, data_type, name, little-endian raw_data; dims must match the data', () => {
    const bytes = bytesOf((w) => writeTensor(w, { name: 's', dims: [2], data: new BigInt64Array([1n, -1n]) }));
    expect(bytes).toEqual([
      0x0a, 0x01, 0x02, // dims [2]
      0x10, 0x07, // data_type INT64
      0x42, 0x01, 0x73, // name "s"
      0x4a, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // raw_data
    ]);
    expect(() => bytesOf((w) => writeTensor(w, { name: 'x', dims: [3], data: new Float32Array(2) }))).toThrow(RangeError);
  });

  it('AttributeProto carries its type; ints are packed varints', () => {
    expect(bytesOf((w) => writeAttribute(w, { name: 'a', type: 'ints', value: [-1] }))).toEqual([
      0x0a, 0x01, 0x61, 0x42, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xa0, 0x01, 0x07,
    ]);
    expect(bytesOf((w) => writeAttribute(w, { name: 'k', type: 'int', value: 1 }))).toEqual([0x0a, 0x01, 0x6b, 0x18, 0x01, 0xa0, 0x01, 0x02]);
  });

  it('ValueInfoProto: symbolic and fixed dims', () => {
    expect(bytesOf((w) => writeValueInfo(w, { name: 'x', elemType: OnnxDataType.FLOAT, dims: ['n', 4] }))).toEqual([
      0x0a, 0x01, 0x78, // name
      0x12, 0x0f, 0x0a, 0x0d, 0x08, 0x01, // type { tensor_type { elem_type FLOAT
      0x12, 0x09, 0x0a, 0x03, 0x12, 0x01, 0x6e, 0x0a, 0x02, 0x08, 0x04, // shape { dim { dim_param "n" } dim { dim_value 4 } } } }
    ]);
  });

  it('a hand-built model loads in ONNX Runtime and runs with several sizes of its symbolic dimension', async () => {
    // y = 0.5 * x @ W^T + c (Gemm with transB and a float attribute); m = ReduceMean(y, axes=[-1], keepdims=1).
    const W = new Float32Array([1, 2, 3, 4, 5, 6]); // [2, 3]
    const c = new Float32Array([10, -10]);
    const bytes = encodeModel({
      irVersion: 8,
      producerName: 'sieve-test',
      opsetImports: [{ domain: '', version: 17 }],
      graph: {
        name: 'tiny',
        nodes: [
          { opType: 'Gemm', inputs: ['x', 'W', 'c'], outputs: ['y'], name: 'gemm', attributes: [
            { name: 'alpha', type: 'float', value: 0.5 }, { name: 'transB', type: 'int', value: 1 },
          ] },
          { opType: 'ReduceMean', inputs: ['y'], outputs: ['m'], attributes: [
            { name: 'axes', type: 'ints', value: [-1] }, { name: 'keepdims', type: 'int', value: 1 },
          ] },
        ],
        initializers: [{ name: 'W', dims: [2, 3], data: W }],
        inputs: [
          { name: 'x', elemType: OnnxDataType.FLOAT, dims: ['n', 3] },
          { name: 'c', elemType: OnnxDataType.FLOAT, dims: [2] },
        ],
        outputs: [
          { name: 'y', elemType: OnnxDataType.FLOAT, dims: ['n', 2] },
          { name: 'm', elemType: OnnxDataType.FLOAT, dims: ['n', 1] },
        ],
      },
    });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    try {
      expect(session.inputNames).toEqual(['x', 'c']);
      expect(session.outputNames).toEqual(['y', 'm']);
      for (const n of [1, 4]) {
        const x = Float32Array.from({ length: n * 3 }, (_, i) => i - 2);
        const out = await session.run({ x: new ort.Tensor('float32', x, [n, 3]), c: new ort.Tensor('float32', c, [2]) });
        expect(out.y.dims).toEqual([n, 2]);
        expect(out.m.dims).toEqual([n, 1]);
        const y = out.y.data as Float32Array;
        const m = out.m.data as Float32Array;
        for (let r = 0; r < n; r++) {
          const row: number[] = [];
          for (let o = 0; o < 2; o++) {
            let s = 0;
            for (let k = 0; k < 3; k++) s += x[r * 3 + k] * W[o * 3 + k];
            row.push(0.5 * s + c[o]);
            expect(y[r * 2 + o]).toBeCloseTo(row[o], 5);
          }
          expect(m[r]).toBeCloseTo((row[0] + row[1]) / 2, 5);
        }
      }
    } finally {
      await session.release();
    }
  });
});
