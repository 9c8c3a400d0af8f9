// The model compiler's face: ONNX segment graphs (embed, layer junction, head) with weights as graph inputs,
// and the protobuf writer they are serialized with.
export {
  buildSegment, segmentFeedNames, segmentWeightFeeds, SEGMENT_KINDS, SEGMENT_TENSORS, DYNAMIC_TOKENS_DIM,
  type SegmentKind, type SegmentShape, type SegmentGraph, type SegmentWeightInput, type SegmentTensorInfo, type WeightPresence,
  type WeightPart, type SegmentOptions,
} from './segments.ts';
export { ONNX_OPSET, ONNX_IR_VERSION, MS_DOMAIN } from './graph-builder.ts';
export {
  ProtoWriter, encodeModel, OnnxDataType,
  type ModelSpec, type GraphSpec, type NodeSpec, type TensorSpec, type ValueInfoSpec, type AttributeSpec, type Dim,
} from './onnx-proto.ts';
