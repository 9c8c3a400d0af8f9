// The reference module's face: the plain f32 CPU forward used as the oracle of the GPU paths.
export { ReferenceModel, referenceLogits, type AttentionInputObserver, type ReferenceModelOptions } from './reference-model.ts';
export {
  referenceWeights, matmul, rmsNormRows, rmsNormInPlace, addInPlace, attentionInputs, attentionOutputAndMlp,
  type AttentionInputs, type ReferenceWeights, type ReferenceLayerWeights, type ReferenceLinear,
} from './layers.ts';
