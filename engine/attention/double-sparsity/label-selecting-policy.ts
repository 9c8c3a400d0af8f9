// The policy shape Double Sparsity and FASA share: a calibrated estimator (a LabelSelector fitted to the model at
// checkModel) whose label cache is written on append and whose top tokens are each step's plan. Subclasses say only
// how their parameters fit the model and which key channels the labels gather.
import { checkCalibrationFits, type CalibrationArtifact } from '../../calibration/index.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { AttentionPlan, AttentionPolicy, PolicyNeeds, PolicyStepContext } from '../policy.ts';
import { LabelSelector, type LabelSelectorOptions } from './label-selector.ts';

/** What every fitted parameter set has: the budget and the leading dense layers. */
interface FittedParams {
  budget: number;
  denseLayers: number;
}

export abstract class LabelSelectingPolicy<Spec extends FittedParams, Fitted extends FittedParams, Calibration extends CalibrationArtifact>
  implements AttentionPolicy {
  readonly needs: PolicyNeeds;
  private resolved: Fitted | null = null;
  private selector: LabelSelector | null = null;

  /** `calibration`: a validated artifact of the policy's method (parseCalibration); `calibrationFile` names it in errors. */
  constructor(
    readonly name: 'double-sparsity' | 'fasa', readonly params: Spec, readonly calibration: Calibration,
    private readonly calibrationFile = 'calibration',
  ) {
    if (!Number.isInteger(params.budget) || params.budget < 1) throw new InvalidArgumentError('attention.budget', `must be a positive integer, got ${params.budget}`);
    const self = this;
    this.needs = {
      get denseLayers(): readonly number[] {
        return Array.from({ length: self.params.denseLayers }, (_, l) => l);
      },
      granularity: 'token', statistics: () => 'none', metadata: ['token-label-channels'], evicts: false, calibration: name,
    };
  }

  /** The parameters fitted to the model (typed errors when they cannot be). */
  protected abstract fit(config: ModelConfig): Fitted;
  /** The selector's options but its label: the channels per (layer, KV head), the score scale. */
  protected abstract selectorOptions(config: ModelConfig, fitted: Fitted): Omit<LabelSelectorOptions, 'label'>;
  /** Why a step before checkModel cannot run, for its error. */
  protected abstract readonly needsModelReason: string;

  /** Fits the parameters to the model and checks the calibration was made for it (typed errors otherwise). */
  checkModel(config: ModelConfig): void {
    checkCalibrationFits(this.calibration, config, this.calibrationFile);
    const fitted = this.fit(config);
    this.resolved = fitted;
    this.selector?.destroy();
    this.selector = new LabelSelector({ label: this.name, ...this.selectorOptions(config, fitted) });
  }

  /** The parameters as fitted to the model (null before checkModel). */
  get fitted(): Fitted | null {
    return this.resolved;
  }

  onAppend(encoder: GPUCommandEncoder, ctx: PolicyStepContext): void {
    this.selectorFor().onAppend(encoder, ctx);
  }

  plan(encoder: GPUCommandEncoder, ctx: PolicyStepContext): AttentionPlan {
    return this.selectorFor().plan(encoder, ctx);
  }

  /** Frees the selector's GPU state (its label cache); the selector itself stays, fitted to the model. */
  destroy(): void {
    this.selector?.destroy();
  }

  /** The GPU estimator (tests read its partial scores). */
  selectorFor(): LabelSelector {
    if (!this.selector) throw new InvalidArgumentError('policy', `${this.name} needs the model (checkModel) before its first step: ${this.needsModelReason}`);
    return this.selector;
  }
}
