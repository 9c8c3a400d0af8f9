// Picks the CPU reference of an attention spec: the evicting references for the CLI's evicting forward, and the
// reference policy of every registered policy for the reference forward of any policy (policy-reference.ts).
import { checkCalibrationFits, parseCalibration, type DoubleSparsityCalibration, type FasaCalibration } from '../calibration/index.ts';
import { CalibrationMissingError, InvalidArgumentError } from '../errors/index.ts';
import { KV_PAGE_SIZE } from '../kv/constants.ts';
import type { ModelConfig } from '../model/index.ts';
import { A2SFReference } from './a2sf/reference.ts';
import { doubleSparsityReferencePolicy, doubleSparsitySpecParams, resolveDoubleSparsityParams } from './double-sparsity/reference.ts';
import { evictingReferencePolicy, type ReferenceEvictionPolicy } from './evicting-reference.ts';
import { fasaReferencePolicy, fasaSpecParams, resolveFasaParams } from './fasa/reference.ts';
import { H2OReference } from './h2o/reference.ts';
import { DENSE_REFERENCE, type ReferencePolicy } from './policy-reference.ts';
import { questParams, QuestReferencePolicy } from './quest/reference.ts';
import { recycledParams, RecycledReferencePolicy } from './recycled/reference.ts';
import { parseAttentionSpec, type AttentionSpecInput, type NormalizedSpec } from './spec.ts';
import { StreamingReference } from './streaming/reference.ts';
import { resolveTidalParams, tidalSpecParams, TidalReferencePolicy } from './tidal/reference.ts';

/**
 * The evicting reference of `spec` for a model of `numLayers`, null for dense (use ReferenceModel), undefined for a
 * selecting policy (PolicyReferenceModel runs those, through createReferencePolicy).
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

/**
 * The CPU reference policy of `input` (a spec string or object) fitted to `config`; Double Sparsity and FASA need
 * their calibration artifact (parsed JSON). Typed errors as the GPU factories give them.
 */
export function createReferencePolicy(input: AttentionSpecInput, config: ModelConfig, calibration?: unknown): ReferencePolicy {
  const spec = parseAttentionSpec(input) as unknown as { policy: string; [key: string]: unknown };
  const evicting = createReferenceEvictionPolicy(spec as NormalizedSpec, config.numLayers);
  if (evicting === null) return DENSE_REFERENCE;
  if (evicting) return evictingReferencePolicy(evicting, config.numLayers);
  const artifact = (method: 'double-sparsity' | 'fasa') => {
    if (calibration === undefined || calibration === null) throw new CalibrationMissingError(method, method, 'none was given to the reference forward');
    const parsed = parseCalibration(calibration, 'calibration', method);
    checkCalibrationFits(parsed, config, 'calibration');
    return parsed;
  };
  switch (spec.policy) {
    case 'quest': {
      const params = questParams(spec);
      if (params.denseLayers > config.numLayers) throw new InvalidArgumentError('attention.denseLayers', `the model has ${config.numLayers} layers; ${params.denseLayers} dense layers are more than it has`);
      return new QuestReferencePolicy(params, config.headDim, KV_PAGE_SIZE);
    }
    case 'tidal': return new TidalReferencePolicy(resolveTidalParams(tidalSpecParams(spec), config.numLayers));
    case 'recycled': return new RecycledReferencePolicy(recycledParams(spec), config.numLayers);
    case 'double-sparsity':
      return doubleSparsityReferencePolicy(resolveDoubleSparsityParams(doubleSparsitySpecParams(spec), config), artifact('double-sparsity') as DoubleSparsityCalibration, config);
    case 'fasa':
      return fasaReferencePolicy(resolveFasaParams(fasaSpecParams(spec), config), artifact('fasa') as FasaCalibration, config);
    default: throw new InvalidArgumentError('attention.policy', `policy "${spec.policy}" has no CPU reference`);
  }
}
