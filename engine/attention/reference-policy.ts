// Picks the CPU reference of a normalized attention spec, for the reference backend and the GPU tests' oracle.
import { A2SFReference } from './a2sf/reference.ts';
import type { ReferenceEvictionPolicy } from './evicting-reference.ts';
import { H2OReference } from './h2o/reference.ts';
import type { NormalizedSpec } from './spec.ts';
import { StreamingReference } from './streaming/reference.ts';

/**
 * The evicting reference of `spec` for a model of `numLayers`, null for dense (use ReferenceModel), undefined for a
 * policy with no CPU reference forward (the selecting ones: their references are selections, tested on the GPU).
 */
export function createReferenceEvictionPolicy(spec: NormalizedSpec, numLayers: number): ReferenceEvictionPolicy | null | undefined {
  switch (spec.policy) {
    case 'dense': return null;
    case 'streaming': return new StreamingReference(spec);
    case 'h2o': return new H2OReference(spec);
    case 'a2sf': return new A2SFReference(spec, numLayers);
    default: return undefined;
  }
}
