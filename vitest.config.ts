// Unit tests run in Node: parsers, the CPU reference, the ONNX compiler (on ORT's wasm backend),
// and WGSL kernels on Dawn (the `webgpu` package) over SwiftShader. Browser tests live in e2e/.
import { defineConfig } from 'vitest/config';

// Dawn's Vulkan loader must see SwiftShader's driver from the start of every test process (forks inherit this):
// set later, other installed drivers (Mesa's lavapipe) can be picked and crash the worker.
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    include: ['engine/**/*.test.ts', 'models/**/*.test.ts', 'workers/**/*.test.ts', 'web/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores here: GPU (SwiftShader) tests are CPU-bound, so keep files from fighting.
    fileParallelism: false,
  },
});
