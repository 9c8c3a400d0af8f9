// The Dawn flags of every Node bench: engine/gpu/node.ts holds the list and says why.
export { DAWN_FLAGS } from '../engine/gpu/node.ts';
