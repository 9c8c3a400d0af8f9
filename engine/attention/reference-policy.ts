// Picks the CPU reference of a normalized attention spec, for the reference backend and the GPU tests' oracle.
import { A2SFReference } from './a2sf/reference.ts';
import type { ReferenceEvictionPolicy } from './evicting-reference.ts';
import { H2OReference } from './h2o/reference.ts';
import type { NormalizedSpec } from './spec.ts';
import { StreamingReference } from './streaming/reference.ts';

/** The evicting reference of `spec` for a model of `numLayers`, or null for dense (use ReferenceModel). */
export function createReferenceEvictionPolicy(spec: NormalizedSpec, numLayers: number): ReferenceEvictionPolicy | null {
  switch (spec.policy) {
    case 'dense': return null;
    case 'streaming': return new StreamingReference(spec);
    case 'h2o': return new H2OReference(spec);
    case 'a2sf': return new A2SFReference(spec, numLayers);
  }
}
