// Double Sparsity's face: the GPU policy, the label cache and partial-score selector it shares with FASA, and the CPU
// reference of its selection.
export { DoubleSparsityPolicy, calibrationFromContext, createDoubleSparsityPolicy } from './policy.ts';
export { LabelSelector, type LabelSelectorOptions } from './label-selector.ts';
export { LabelSelectingPolicy } from './label-selecting-policy.ts';
export {
  DOUBLE_SPARSITY_CHANNEL_DIVISOR, doubleSparsityChannels, doubleSparsitySpecParams, partialScores, resolveDoubleSparsityParams, selectTokens,
  topIndices, type DoubleSparsityParams, type DoubleSparsitySpecParams,
} from './reference.ts';
