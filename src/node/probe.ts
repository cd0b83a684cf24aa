/**
 * `tsx src/node/probe.ts`: whether Dawn finds a WebGPU adapter here, as the engine's report
 * (engine/gpu/report.ts) in JSON. Exit 0 with an adapter, 2 without (the report says why and
 * what to do). scripts/test.mjs asks it before the node-gpu tier.
 */
import { useDawn } from './dawn';
import { probeWebGpu } from '../engine/gpu/report';

await useDawn();
const report = await probeWebGpu();
console.log(JSON.stringify(report));
process.exitCode = report.available ? 0 : 2;
