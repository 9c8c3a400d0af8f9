// Dense attention's CPU module: its parameters and its reference policy (every slot).
import type { PolicyCpuModule } from '../policy-module.ts';
import { DENSE_REFERENCE } from '../policy-reference.ts';
import { DENSE_DEFINITION } from './params.ts';

export const denseModule: PolicyCpuModule = { definition: DENSE_DEFINITION, reference: () => DENSE_REFERENCE };
