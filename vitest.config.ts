import { defineConfig, mergeConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import viteConfig from './vite.config.ts';
// @ts-expect-error plain ESM helper shared with the test scripts
import { findChromium, CHROMIUM_ARGS } from './scripts/chromium.mjs';

const chromium: string | null = findChromium();

// Two tiers: plain Node for pure TypeScript, and real Chromium (WebGPU through SwiftShader,
// real IndexedDB) for anything that touches the browser; and the browser tier's engine tests
// once more in Node on Dawn (the `webgpu` package), which is how headless GPU machines run it.
export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            environment: 'node',
            include: ['test/unit/**/*.test.ts'],
            setupFiles: ['test/setup.ts'],
          },
        },
        {
          extends: true,
          test: {
            // Files written by the real tools, read in place from ../shared/real-world.
            name: 'real-world',
            environment: 'node',
            include: ['test/real-world/**/*.test.ts'],
            setupFiles: ['test/setup.ts'],
          },
        },
        {
          extends: true,
          test: {
            name: 'node-gpu',
            environment: 'node',
            include: ['test/browser/engine/gpu/**/*.test.ts', 'test/browser/engine/model/**/*.test.ts', 'test/browser/engine/train/gradients.test.ts', 'test/node-gpu/**/*.test.ts'],
            setupFiles: ['test/setup.ts', 'test/node-gpu-setup.ts'],
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        },
        {
          extends: true,
          test: {
            name: 'browser',
            include: ['test/browser/**/*.test.ts'],
            setupFiles: ['test/setup.ts'],
            testTimeout: 120_000,
            hookTimeout: 120_000,
            browser: {
              enabled: true,
              headless: true,
              screenshotFailures: false,
              provider: playwright({
                launchOptions: {
                  executablePath: chromium ?? undefined,
                  args: CHROMIUM_ARGS,
                },
              }),
              instances: [{ browser: 'chromium' }],
            },
          },
        },
      ],
    },
  }),
);
