import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app: a static SPA. Workers are ES modules so they can import the same code as the page.
export default defineConfig({
  plugins: [svelte()],
  worker: { format: 'es', rolldownOptions: { checks: { bundlerTimings: false } } },
  // Per checkout (not node_modules/.vite): worktrees that share one node_modules must not share
  // Vite's dependency pre-bundling cache, or concurrent test runs wait on each other.
  cacheDir: '.vite-cache',
  build: {
    target: 'es2022',
    sourcemap: true,
    // Bundling each worker happens inside one plugin callback, so Rolldown's timing report
    // ("[PLUGIN_TIMINGS] … vite:worker-import-meta-url") fires on every build of an app with
    // workers, louder on a busy machine; it is a profile, not a problem in the app (also off for
    // the worker bundles above).
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
