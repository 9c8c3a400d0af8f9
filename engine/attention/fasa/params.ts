// FASA's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { MAX_HEAD_DIM } from '../constants.ts';
import { MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const FASA_DEFINITION: PolicyDefinition = {
  name: 'fasa',
  description: 'FASA: scores every token with q.k over the few RoPE frequency chunks that agree most with the full head (calibrated); reads the top tokens up to the budget. Needs a calibration (sieve calibrate).',
  evicts: false,
  parameters: [
    {
      name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
      source: 'FASA (arXiv 2602.03152): 256 tokens keep about 100% of full-cache LongBench-V1',
      description: 'tokens read per decode step (the new token included) at the layers after the dense ones',
    },
    {
      name: 'chunks', type: 'int', default: 0, min: 0, max: MAX_HEAD_DIM / 2,
      source: 'Sieve: 0 = the model\'s head dim / 16 RoPE pairs (8 of 64 at head dim 128, issue 5\'s example: the same 16 key dims per token as Double Sparsity\'s default); FASA reports 16 chunks; more than head dim / 2 is an error',
      description: 'dominant frequency chunks (RoPE pairs) the estimate uses (0: head dim / 16)',
    },
    {
      name: 'denseLayers', type: 'int', default: 1, min: 0, max: 1024,
      source: 'FASA (arXiv 2602.03152): layer 0 attends densely',
      description: 'the first layers, attended densely',
    },
  ],
  budget: null,
};
