import { defineConfig } from '@playwright/test';
// @ts-expect-error plain ESM helper shared with the test scripts
import { findChromium, CHROMIUM_ARGS } from './scripts/chromium.mjs';

// E2E_PORT lets several checkouts run their e2e tests side by side.
const PORT = Number(process.env.E2E_PORT ?? 4173);
// E2E_DIST serves another build folder (`vite build --outDir dist-x`), for the same reason.
const DIST = process.env.E2E_DIST ?? 'dist';

// End-to-end tests drive the built app (`vite build` output) served by `vite preview`.
export default defineConfig({
  testDir: 'test/e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-reports/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: { executablePath: findChromium() ?? undefined, args: CHROMIUM_ARGS },
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  },
  webServer: {
    command: `npx vite preview --port ${PORT} --strictPort --outDir ${DIST}`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
