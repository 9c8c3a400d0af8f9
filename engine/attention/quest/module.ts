// Quest's CPU module: its parameters and its reference (top pages by their key bounds).
import { InvalidArgumentError } from '../../errors/index.ts';
import { KV_PAGE_SIZE } from '../../kv/constants.ts';
import type { PolicyCpuModule } from '../policy-module.ts';
import { QUEST_DEFINITION } from './params.ts';
import { questParams, QuestReferencePolicy } from './reference.ts';

export const questModule: PolicyCpuModule = {
  definition: QUEST_DEFINITION,
  reference(spec, config) {
    const params = questParams(spec);
    if (params.denseLayers > config.numLayers) throw new InvalidArgumentError('attention.denseLayers', `the model has ${config.numLayers} layers; ${params.denseLayers} dense layers are more than it has`);
    return new QuestReferencePolicy(params, config.headDim, KV_PAGE_SIZE);
  },
};
