// Counts the compute passes and dispatches encoded into a command encoder, for the decode profile: the step's
// dispatch budget (DESIGN.md: at most 5 per layer for dense decode) is checked against what was really encoded,
// attention's and policies' kernels included, not against a formula.
export interface DispatchCounts {
  dispatches: number;
  passes: number;
}

/** `encoder`, with every compute pass begun on it and every dispatch in those passes added to `counts`. */
export function countingEncoder(encoder: GPUCommandEncoder, counts: DispatchCounts): GPUCommandEncoder {
  const countingPass = (pass: GPUComputePassEncoder): GPUComputePassEncoder => new Proxy(pass, {
    get(target, key) {
      if (key === 'dispatchWorkgroups' || key === 'dispatchWorkgroupsIndirect') {
        return (...args: unknown[]) => {
          counts.dispatches += 1;
          return (target[key] as (...a: unknown[]) => void).apply(target, args);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return new Proxy(encoder, {
    get(target, key) {
      if (key === 'beginComputePass') {
        return (descriptor?: GPUComputePassDescriptor) => {
          counts.passes += 1;
          return countingPass(target.beginComputePass(descriptor));
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
