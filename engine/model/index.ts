// The model module's face (browser-safe): types, HF config and safetensors parsing, URL sources, loadModel.
// Node-only sources (local folders and files) are in the second face, ./node.ts, so page bundles never see node:fs.
export * from './types.ts';
export { ropeInverseFrequencies, ropeTable, ropePair, applyRope } from './rope.ts';
export { parseHfConfig, UnsupportedConfigError } from './config.ts';
export {
  parseSafetensors, parseSafetensorsFile, readSafetensorsHeader, streamSafetensors, SUPPORTED_SAFETENSORS_DTYPES, STREAM_PIECE_BYTES,
  type SafetensorsFile, type SafetensorsEntry, type TensorPieceSink,
} from './safetensors.ts';
export {
  urlSource, urlFileSource, huggingFaceSource, HUGGING_FACE_ORIGIN, isSingleFileSource, answeredWithHtml, looksLikeHtml, type SingleFileSource,
} from './sources.ts';
export {
  loadModel, loadFromSource, streamModel, streamFromSource, expectedTensorShapes, checkWeights, checkTensorLimits, TensorMapWeightStore,
  type LoadOptions, type ExpectedTensors, type StreamedModelFiles, type TensorShapes,
} from './load.ts';
