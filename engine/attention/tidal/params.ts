// TidalDecode's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const TIDAL_DEFINITION: PolicyDefinition = {
  name: 'tidal',
  description: 'TidalDecode: dense first layers; a selection layer and a middle re-selection layer attend densely and pick the top tokens by q.k for the layers after them.',
  evicts: false,
  parameters: [
    {
      name: 'budget', type: 'int', default: 256, min: 1, max: MAX_POLICY_TOKENS,
      source: 'Sieve: TidalDecode (Yang et al., 2024) uses top-k 128 (needle) to 4096 (LongBench); 256 is issue 5\'s comparison budget',
      description: 'tokens read per decode step at the layers after a selection layer',
    },
    {
      name: 'selectLayer', type: 'int', default: 2, min: 0, max: 1024,
      source: 'TidalDecode (Yang et al., 2024): layers 0 and 1 dense, selection at layer 2',
      description: 'the layer that attends densely and selects; the layers before it attend densely',
    },
    {
      name: 'reselectLayer', type: 'int', default: 0, min: 0, max: 1024,
      source: 'TidalDecode (Yang et al., 2024): layer 13 of 32 on Llama-3-8B; 0 = the model\'s default, round(13/32 of its layers), at least select-layer + 1',
      description: 'the middle layer that attends densely and re-selects for the layers after it (0: the model\'s default; past the last layer is an error)',
    },
  ],
  budget: null,
};
