// `npm start`: install what is missing, build the lab, serve it on 127.0.0.1 and print the URL.
import { ensureDependencies, run } from './setup.mjs';

ensureDependencies();
const port = process.env.PORT ?? '4173';
run('npx', ['vite', 'build', '--logLevel', 'warn']);
console.log(`\nSPaR Lab is served at  http://127.0.0.1:${port}/  (open it in Chrome or Edge; Ctrl+C stops it)\n`);
run('npx', ['vite', 'preview', '--port', port, '--strictPort']);
