// Shared set-up for `npm start` and `npm test`: check Node, install dependencies when they are
// missing or older than package-lock.json, and run commands with inherited output.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

export const INSTALL_ENV = {
  // Tests use the system's Chromium; never let Playwright download a browser.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
  // onnxruntime-node (via @huggingface/transformers) would download CUDA extras in its postinstall; its CPU binaries ship in the package.
  ONNXRUNTIME_NODE_INSTALL: 'skip',
};

export function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    console.error(`SPaR Lab needs Node.js 20.19 or newer; this is ${process.version}. Install a newer Node (https://nodejs.org).`);
    process.exit(1);
  }
}

export function ensureDependencies() {
  checkNode();
  const marker = 'node_modules/.package-lock.json';
  const stale = !existsSync(marker) || statSync('package-lock.json').mtimeMs > statSync(marker).mtimeMs;
  if (!stale) return;
  console.log('Installing dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: INSTALL_ENV });
}

/** Runs a command with inherited stdio; returns its exit code (exits on spawn failure). */
export function run(cmd, args, { env = {}, allowFailure = false } = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env }, shell: process.platform === 'win32' });
  if (r.error) {
    console.error(`Could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0 && !allowFailure) process.exit(r.status ?? 1);
  return r.status ?? 1;
}
