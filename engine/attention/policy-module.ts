// What each policy's folder gives the CPU side of the engine (module.ts): its parameter definition (params.ts) and
// its CPU reference, for the spec parser, the parameter table and the reference forwards. The GPU factory is
// registered beside it in registry.ts; both lists name a policy in one line each.
import { checkCalibrationFits, parseCalibration, type CalibrationArtifact, type CalibrationMethod } from '../calibration/index.ts';
import { CalibrationMissingError } from '../errors/index.ts';
import type { ModelConfig } from '../model/index.ts';
import type { ReferenceEvictionPolicy } from './evicting-reference.ts';
import type { PolicyDefinition } from './params.ts';
import type { ReferencePolicy } from './policy-reference.ts';
import type { ResolvedSpec } from './spec.ts';

export interface PolicyCpuModule {
  readonly definition: PolicyDefinition;
  /** The CPU reference policy of a parsed spec, fitted to `config` (typed errors where it does not fit). */
  reference(spec: ResolvedSpec, config: ModelConfig, calibration?: unknown): ReferencePolicy;
  /** Evicting policies: their reference for EvictingReferenceModel (chunked prefill, as the engine runs it). */
  evictionReference?(spec: ResolvedSpec, numLayers: number): ReferenceEvictionPolicy;
}

/** A calibration artifact for a reference policy: parsed, checked against the model, or CalibrationMissingError. */
export function referenceCalibration(method: CalibrationMethod, calibration: unknown, config: ModelConfig): CalibrationArtifact {
  if (calibration === undefined || calibration === null) throw new CalibrationMissingError(method, method, 'none was given to the reference forward');
  const parsed = parseCalibration(calibration, 'calibration', method);
  checkCalibrationFits(parsed, config, 'calibration');
  return parsed;
}
