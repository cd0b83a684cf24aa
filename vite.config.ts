import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app: a static SPA. Workers are ES modules so they can import the same code as the page.
export default defineConfig({
  plugins: [svelte()],
  worker: { format: 'es' },
  // Per checkout (not node_modules/.vite): worktrees that share one node_modules must not share
  // Vite's dependency pre-bundling cache, or concurrent test runs wait on each other.
  cacheDir: '.vite-cache',
  build: { target: 'es2022', sourcemap: true },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
