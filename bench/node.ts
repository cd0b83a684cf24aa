/**
 * `npm run bench -- --node`: the engine and training benchmarks of the browser bench, in Node on
 * Dawn (the `webgpu` package), so machines with a GPU and no browser can be measured. Dawn picks
 * the high-performance adapter (a discrete GPU over an integrated one or SwiftShader); every
 * adapter it sees is listed. scripts/bench.mjs runs this with tsx and writes the results:
 *   tsx bench/node.ts --out FILE [--only train]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listDawnAdapters, useDawn } from '../src/node/dawn';
import { engineBench } from './engine';
import { BENCH_MODEL } from './model';
import { log } from './page';
import { trainBench } from './train';

const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' } } });
const { vulkan } = await useDawn();
const adapters = await listDawnAdapters();
log(`Dawn sees: ${adapters.map((a) => `${a.name} (${a.backend})`).join(', ') || 'no adapter'}`);
if (vulkan) log(`Vulkan: loader ${vulkan.loader ?? 'none'}, driver files ${vulkan.drivers.join(', ') || 'none'} (${vulkan.driversFrom})`);
const engine = values.only === 'train' ? null : await engineBench({ log });
log('');
const train = await trainBench(BENCH_MODEL, { log });
const result = { engine, train, host: { runtime: `Node ${process.version}, Dawn (webgpu package)`, adapters, vulkan } };
if (values.out) writeFileSync(values.out, JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
