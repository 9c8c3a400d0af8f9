// Dense attention's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { type PolicyDefinition } from '../params.ts';

export const DENSE_DEFINITION: PolicyDefinition = {
  name: 'dense',
  description: 'Full causal attention over every cached token; the reference every other policy must equal.',
  evicts: false,
  parameters: [],
  budget: null,
};
