// StreamingLLM's CPU module: its parameters and its reference (sinks + window).
import { evictingReferencePolicy } from '../evicting-reference.ts';
import type { PolicyCpuModule } from '../policy-module.ts';
import type { StreamingSpec } from '../spec.ts';
import { STREAMING_DEFINITION } from './params.ts';
import { StreamingReference } from './reference.ts';

export const streamingModule: PolicyCpuModule = {
  definition: STREAMING_DEFINITION,
  evictionReference: (spec) => new StreamingReference(spec as unknown as StreamingSpec),
  reference: (spec, config) => evictingReferencePolicy(new StreamingReference(spec as unknown as StreamingSpec), config.numLayers),
};
