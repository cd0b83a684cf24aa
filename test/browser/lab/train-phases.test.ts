import { describe, expect, it } from 'vitest';
import { createLab } from '../../../src/lab/index';
import { WEBGPU_ENGINE } from '../../../src/lab/engine';
import { ModelHost } from '../../../src/lab/models';
import { presetPatch } from '../../../src/lab/presets';
import { applyConfigPatch, parseRunConfig, type IterationEntry } from '../../../src/lab/run-config';
import type { TrainLivePhase } from '../../../src/lab/train';
import type { StepMetrics } from '../../../src/engine/train/trainer';
import type { PairRecord } from '../../../src/store/records';
import { stepThroughput, timeText } from '../../../src/ui/train-progress';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

// Issue 14, item 13 on the WebGPU engine (SwiftShader here): the first use of the training
// kernels compiles them, in a warm-up of its own, so the steps' time and tokens per second leave
// compiling out.

const quiet = { progress() {}, tree() {}, text() {}, run() {} };

describe('training phases on the WebGPU engine', () => {
  it('compiles in the warm-up, not in step 1; tokens/s are over the steps alone', async () => {
    const store = new MemoryLabStore();
    const phases: TrainLivePhase[] = [];
    const steps: StepMetrics[] = [];
    const trainListener = { steps: (_r: string, _i: number, _role: string, m: StepMetrics[]) => steps.push(...m), state() {}, phase: (_r: string, _i: number, _role: string, p: TrainLivePhase) => phases.push(p), run() {} };
    const lab = createLab(store, { models: new ModelHost({ engine: WEBGPU_ENGINE }), listener: quiet, trainListener, throttleMs: 0 });
    const config = applyConfigPatch({}, presetPatch('tiny-demo'));
    const c = parseRunConfig(config);
    const entry: IterationEntry = {
      iteration: 0, status: 'done', startedAt: 1, updatedAt: 1, finishedAt: 1, spar: c.spar, models: c.models,
      labels: { actor: 'tiny', refiner: 'tiny' }, adapters: {}, instructions: 3, finished: 3, failed: 0, pairs: 3, rft: 0,
    };
    const run = await store.createRun({ name: 'gpu phases', config: { ...config, iterations: [entry] } });
    const pairs: PairRecord[] = [0, 1, 2].map((i) => ({
      runId: run.id, id: `0:p${i}:0`, iteration: 0, promptId: `p${i}`, prompt: `Name ${i + 1} colours.`, chosen: ['red', 'red blue', 'red blue green'][i], rejected: 'no', excluded: false,
      meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenDepth: 1 },
    }));
    await store.put('pairs', pairs);

    const out = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(out.state).toBe('done');
    expect([...new Set(phases.map((p) => p.phase))]).toEqual(['loading', 'compile', 'reference', 'steps']);
    const t = out.entry.timing!;
    console.log(`WebGPU (SwiftShader) tiny DPO: ${timeText(t)}; ${stepThroughput(steps).tokensPerSecond?.toFixed(0)} tokens/s over the steps; step seconds ${steps.map((m) => m.seconds.toFixed(3)).join(', ')}`);
    expect(t.steps).toBe(out.entry.totalSteps);
    expect(t.compileSeconds).toBeGreaterThan(0);
    // The kernels were compiled before step 1: it costs about what the others cost, far less than compiling did.
    expect(steps[0].seconds).toBeLessThan(t.compileSeconds);
    expect(stepThroughput(steps).seconds).toBeCloseTo(t.stepSeconds, 6);
  });
});
