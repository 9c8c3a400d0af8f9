// A minimal protobuf writer for ONNX ModelProto: just the messages and fields the segment compiler emits.
//
// Field numbers and enum values are those of onnx/onnx.proto (onnx 1.12+, unchanged since); the wire format is
// protobuf's (varint, fixed32, length-delimited). Writing it ourselves keeps the worker bundle free of a protobuf
// runtime and of the onnx package; only encoding is needed, never decoding.

/** TensorProto.DataType values (onnx.proto). */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT32: 6,
  INT64: 7,
} as const;
export type OnnxDataTypeValue = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** AttributeProto.AttributeType values (onnx.proto). */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** Protobuf wire types. */
const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

const TEXT = new TextEncoder();

/** Appends protobuf fields to a growing byte array. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /**
   * A raw varint. Negative numbers (int64 fields such as axes = [-1]) are written as their 64-bit two's complement,
   * ten bytes, as protobuf requires for int64/int32 fields.
   */
  rawVarint(value: number | bigint): void {
    let v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : value;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint: ${v} is not a safe integer`);
      if (v < 0) v = BigInt.asUintN(64, BigInt(v));
    }
    if (typeof v === 'number') {
      // Division rather than shifts: shifts truncate to 32 bits.
      while (v >= 0x80) {
        this.byte((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.byte(v);
      return;
    }
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  varint(field: number, value: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, TEXT.encode(s));
  }

  /** An embedded message, written by `write` into its own writer. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytes(field, inner.finish());
  }

  /** A packed repeated varint field (the proto3 default for repeated scalars). */
  packedVarints(field: number, values: readonly (number | bigint)[]): void {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    this.bytes(field, inner.finish());
  }

  /** A packed repeated float field. */
  packedFloats(field: number, values: readonly number[]): void {
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    this.bytes(field, data);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// ---- ONNX messages ----

export interface TensorSpec {
  name: string;
  dims: number[];
  /** Stored as raw_data (little-endian), which every ONNX reader accepts for these types. */
  data: Float32Array | Int32Array | BigInt64Array;
}

export type AttributeSpec =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'ints'; value: number[] };

export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Empty for the default ONNX domain. */
  domain?: string;
  attributes?: AttributeSpec[];
}

/** A dimension: a fixed size, or a symbolic name (e.g. "n") shared by every tensor that uses it. */
export type Dim = number | string;

export interface ValueInfoSpec {
  name: string;
  elemType: OnnxDataTypeValue;
  dims: Dim[];
}

export interface GraphSpec {
  name: string;
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  inputs: ValueInfoSpec[];
  outputs: ValueInfoSpec[];
}

export interface ModelSpec {
  irVersion: number;
  opsetImports: { domain: string; version: number }[];
  producerName: string;
  graph: GraphSpec;
}

function tensorDataType(data: TensorSpec['data']): OnnxDataTypeValue {
  if (data instanceof Float32Array) return OnnxDataType.FLOAT;
  if (data instanceof Int32Array) return OnnxDataType.INT32;
  return OnnxDataType.INT64;
}

/** Little-endian bytes of a typed array (raw_data is little-endian by the ONNX spec, whatever the host). */
function littleEndianBytes(data: TensorSpec['data']): Uint8Array {
  const out = new Uint8Array(data.length * data.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  if (data instanceof BigInt64Array) data.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => view.setInt32(i * 4, v, true));
  else data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

export function writeTensor(w: ProtoWriter, t: TensorSpec): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new RangeError(`tensor ${t.name}: dims [${t.dims}] hold ${count} values, data has ${t.data.length}`);
  if (t.dims.length > 0) w.packedVarints(1, t.dims); // dims
  w.varint(2, tensorDataType(t.data)); // data_type
  w.string(8, t.name); // name
  w.bytes(9, littleEndianBytes(t.data)); // raw_data
}

export function writeAttribute(w: ProtoWriter, a: AttributeSpec): void {
  w.string(1, a.name); // name
  switch (a.type) {
    case 'float': w.float(2, a.value); w.varint(20, AttributeType.FLOAT); break; // f, type
    case 'int': w.varint(3, a.value); w.varint(20, AttributeType.INT); break; // i
    case 'string': w.string(4, a.value); w.varint(20, AttributeType.STRING); break; // s
    case 'floats': w.packedFloats(7, a.value); w.varint(20, AttributeType.FLOATS); break; // floats
    case 'ints': w.packedVarints(8, a.value); w.varint(20, AttributeType.INTS); break; // ints
  }
}

export function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i); // input
  for (const o of n.outputs) w.string(2, o); // output
  if (n.name) w.string(3, n.name); // name
  w.string(4, n.opType); // op_type
  for (const a of n.attributes ?? []) w.message(5, (m) => writeAttribute(m, a)); // attribute
  if (n.domain) w.string(7, n.domain); // domain
}

export function writeValueInfo(w: ProtoWriter, v: ValueInfoSpec): void {
  w.string(1, v.name); // name
  w.message(2, (type) => { // type: TypeProto
    type.message(1, (tensor) => { // tensor_type: TypeProto.Tensor
      tensor.varint(1, v.elemType); // elem_type
      tensor.message(2, (shape) => { // shape: TensorShapeProto
        for (const d of v.dims) {
          shape.message(1, (dim) => { // dim: Dimension
            if (typeof d === 'number') dim.varint(1, d); // dim_value
            else dim.string(2, d); // dim_param
          });
        }
      });
    });
  });
}

export function writeGraph(w: ProtoWriter, g: GraphSpec): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n)); // node
  w.string(2, g.name); // name
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t)); // initializer
  for (const i of g.inputs) w.message(11, (m) => writeValueInfo(m, i)); // input
  for (const o of g.outputs) w.message(12, (m) => writeValueInfo(m, o)); // output
}

/** Serializes a ModelProto. */
export function encodeModel(model: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, model.irVersion); // ir_version
  w.string(2, model.producerName); // producer_name
  w.message(7, (m) => writeGraph(m, model.graph)); // graph
  for (const o of model.opsetImports) {
    w.message(8, (m) => { // opset_import: OperatorSetIdProto
      m.string(1, o.domain); // domain
      m.varint(2, o.version); // version
    });
  }
  return w.finish();
}
