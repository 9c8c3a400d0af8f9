// Builds one ONNX graph op by op: fresh value names, shared constants, and the decoder's building blocks
// (RMSNorm, linear layers, SiLU) spelled in standard opset-17 ops that ONNX Runtime's webgpu and wasm EPs run.
import {
  encodeModel, OnnxDataType,
  type AttributeSpec, type Dim, type NodeSpec, type OnnxDataTypeValue, type TensorSpec, type ValueInfoSpec,
} from './onnx-proto.ts';

/**
 * Opset 17 of the default domain: the last one where ReduceMean takes `axes` as an attribute (18 moved it to an
 * input), and one every ORT Web EP implements. IR version 8 is the one ONNX 1.12 pairs with opset 17
 * (onnx/docs/Versioning.md).
 */
export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const PRODUCER_NAME = 'sieve-compiler';

/** ONNX Runtime's contrib-op domain (MatMulNBits) and its only opset version (onnxruntime ContribOperators.md). */
export const MS_DOMAIN = 'com.microsoft';
const MS_OPSET = 1;

/** MatMulNBits' attributes for one weight [N][K] (see engine/quant for the layout of B, scales, zero points). */
export interface MatMulNBitsShape {
  k: number;
  n: number;
  bits: number;
  blockSize: number;
}

/**
 * accuracy_level 0: accumulate in A's type (f32). ORT's webgpu EP takes level 4 as leave to quantize A to int8
 * for its DP4A kernel; that would stack activation error on the weight error the tolerance is measured for.
 */
const MATMUL_NBITS_ACCURACY_LEVEL = 0;

/** int64 max: Slice's "to the end" (the ONNX Slice spec clamps it to the dimension). */
const INT64_MAX = 9223372036854775807n;

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private readonly constants = new Map<string, string>();
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly used = new Set<string>();
  private readonly domains = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  private fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`; while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: value "${name}" defined twice`);
    this.used.add(name);
    return name;
  }

  input(name: string, elemType: OnnxDataTypeValue, dims: Dim[]): string {
    this.inputs.push({ name: this.claim(name), elemType, dims });
    return name;
  }

  /** Marks an existing value (produced under this exact name) as a graph output. */
  output(name: string, elemType: OnnxDataTypeValue, dims: Dim[]): void {
    if (!this.used.has(name)) throw new Error(`graph ${this.name}: output "${name}" is never produced`);
    this.outputs.push({ name, elemType, dims });
  }

  /** A constant tensor (an initializer); identical constants are stored once. */
  constant(hint: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const key = `${data.constructor.name}[${dims}]:${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, data });
    this.constants.set(key, name);
    return name;
  }

  /** Adds a node with one output, named `out` when given (graph outputs need their exact names). */
  op(opType: string, inputs: string[], out?: string, attributes?: AttributeSpec[], domain?: string): string {
    const output = out === undefined ? this.fresh(opType.toLowerCase()) : this.claim(out);
    this.nodes.push({ opType, inputs, outputs: [output], name: `${opType}_${this.nodes.length}`, attributes, domain });
    if (domain) this.domains.add(domain);
    return output;
  }

  mul(a: string, b: string, out?: string): string { return this.op('Mul', [a, b], out); }
  add(a: string, b: string, out?: string): string { return this.op('Add', [a, b], out); }

  /** x @ w^T (+ b): HF stores linear weights [out, in], which is Gemm's B with transB = 1. */
  linear(x: string, w: string, b: string | null, out?: string): string {
    return this.op('Gemm', b ? [x, w, b] : [x, w], out, [{ name: 'transB', type: 'int', value: 1 }]);
  }

  /**
   * x @ dequant(B)^T (+ b) for a block-quantized weight: com.microsoft MatMulNBits over B [N][n_blocks][blob],
   * scales [N * n_blocks] and optional packed zero points. The bias is a separate Add: MatMulNBits' own bias
   * input came later than its other inputs, and an Add costs nothing next to the product.
   */
  matMulNBits(x: string, w: { data: string; scales: string; zeroPoints: string | null }, shape: MatMulNBitsShape, b: string | null, out?: string): string {
    const inputs = w.zeroPoints ? [x, w.data, w.scales, w.zeroPoints] : [x, w.data, w.scales];
    const attributes: AttributeSpec[] = [
      { name: 'K', type: 'int', value: shape.k },
      { name: 'N', type: 'int', value: shape.n },
      { name: 'bits', type: 'int', value: shape.bits },
      { name: 'block_size', type: 'int', value: shape.blockSize },
      { name: 'accuracy_level', type: 'int', value: MATMUL_NBITS_ACCURACY_LEVEL },
    ];
    if (!b) return this.op('MatMulNBits', inputs, out, attributes, MS_DOMAIN);
    return this.add(this.op('MatMulNBits', inputs, undefined, attributes, MS_DOMAIN), b, out);
  }

  identity(x: string, out?: string): string {
    return this.op('Identity', [x], out);
  }

  /**
   * RMSNorm over the last axis, as transformers' LlamaRMSNorm computes it in f32:
   * x * 1/sqrt(mean(x^2) + eps), then times the weight.
   */
  rmsNorm(x: string, weight: string, eps: number, out?: string): string {
    const squared = this.mul(x, x);
    const meanSquare = this.op('ReduceMean', [squared], undefined, [
      { name: 'axes', type: 'ints', value: [-1] },
      { name: 'keepdims', type: 'int', value: 1 },
    ]);
    const epsilon = this.constant('eps', [], new Float32Array([eps]));
    const rms = this.op('Sqrt', [this.add(meanSquare, epsilon)]);
    const normalized = this.mul(x, this.op('Reciprocal', [rms]));
    return this.mul(normalized, weight, out);
  }

  /** SiLU(x) = x * sigmoid(x). */
  silu(x: string): string {
    return this.mul(x, this.op('Sigmoid', [x]));
  }

  reshape(x: string, shape: number[], out?: string): string {
    return this.op('Reshape', [x, this.constant('shape', [shape.length], BigInt64Array.from(shape.map(BigInt)))], out);
  }

  gather(table: string, indices: string, out?: string): string {
    return this.op('Gather', [table, indices], out, [{ name: 'axis', type: 'int', value: 0 }]);
  }

  /** The last row of a 2-D value, kept 2-D ([1, cols]). */
  lastRow(x: string): string {
    const starts = this.constant('starts', [1], new BigInt64Array([-1n]));
    const ends = this.constant('ends', [1], new BigInt64Array([INT64_MAX]));
    const axes = this.constant('axes', [1], new BigInt64Array([0n]));
    return this.op('Slice', [x, starts, ends, axes]);
  }

  encode(): Uint8Array {
    return encodeModel({
      irVersion: ONNX_IR_VERSION,
      producerName: PRODUCER_NAME,
      opsetImports: [{ domain: '', version: ONNX_OPSET }, ...[...this.domains].map((domain) => ({ domain, version: MS_OPSET }))],
      graph: {
        name: this.name,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: this.inputs,
        outputs: this.outputs,
      },
    });
  }

  /** Op types in graph order, for tests and for checking what an EP will be asked to run. */
  opTypes(): string[] {
    return this.nodes.map((n) => n.opType);
  }
}

export { OnnxDataType };
