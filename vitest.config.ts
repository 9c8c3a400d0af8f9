// Unit tests run in Node: parsers, the CPU reference, and WGSL kernels on Dawn (the `webgpu` package) over
// SwiftShader. Browser tests live in e2e/.
import { defineConfig } from 'vitest/config';

// Dawn's Vulkan loader must see SwiftShader's driver from the start of every test process (forks inherit this):
// set later, other installed drivers (Mesa's lavapipe) can be picked and crash the worker.
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    include: ['engine/**/*.test.ts', 'models/**/*.test.ts', 'workers/**/*.test.ts', 'web/**/*.test.ts', 'bench/compare/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two files at a time, each in its own process (and Dawn instance): a SwiftShader test keeps about one and a half
    // of the two cores busy, so a second file beside it fills the gaps (the four slowest GPU files: 2m54 against
    // 3m43 one at a time). More workers than cores only make every GPU test slower.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
