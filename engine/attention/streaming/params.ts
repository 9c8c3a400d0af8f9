// StreamingLLM's parameters: names, types, defaults with their sources, ranges (what the spec parser validates
// against and the chat page shows), and what `budget` stands for.
import { sinks, MAX_POLICY_TOKENS, type PolicyDefinition } from '../params.ts';

export const STREAMING_DEFINITION: PolicyDefinition = {
  name: 'streaming',
  description: 'StreamingLLM: keeps the first `sinks` tokens and the newest `window`, evicts the middle.',
  evicts: true,
  parameters: [
    sinks(''),
    {
      name: 'window', type: 'int', default: 1020, min: 1, max: MAX_POLICY_TOKENS,
      source: 'StreamingLLM (Xiao et al., 2023): a 1024-token cache of 4 sinks + 1020 recent tokens',
      description: 'the newest tokens kept',
    },
  ],
  budget: { fixed: 'sinks', parts: ['window'] },
};
