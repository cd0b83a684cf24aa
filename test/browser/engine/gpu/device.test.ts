import { describe, expect, it } from 'vitest';
import { LabError } from '../../../../src/errors';
import { Gpu } from '../../../../src/engine/gpu/device';
import { Recorder } from '../../../../src/engine/gpu/program';
import { addForward } from '../../../../src/engine/gpu/add';
import { rand, run, upload, withGpu, zeros } from '../../../helpers/gpu';

describe('GPU device, memory accounting and failures', () => {
  it('counts the bytes it holds by category, reuses released scratch, frees on trim and destroy', async () => {
    const gpu = await Gpu.acquire();
    expect(gpu.memoryReport().totalBytes).toBe(0);
    const w = gpu.storage(1000, 'weights', 'w');
    const a = gpu.storage(3000, 'activations', 'a');
    let r = gpu.memoryReport();
    expect(r.byCategory.weights).toBe(1008);
    expect(r.byCategory.activations).toBeGreaterThanOrEqual(3000);
    expect(r.totalBytes).toBe(r.byCategory.weights + r.byCategory.activations);
    gpu.memory.release(a);
    expect(gpu.memoryReport().pooledFreeBytes).toBe(a.size);
    expect(gpu.storage(2990, 'activations')).toBe(a); // same size class: reused
    gpu.memory.release(a);
    gpu.memory.trim();
    r = gpu.memoryReport();
    expect(r.byCategory.activations).toBe(0);
    expect(r.totalBytes).toBe(1008);
    gpu.memory.destroy(w);
    expect(gpu.memoryReport().totalBytes).toBe(0);
    gpu.destroy();
    expect(() => gpu.assertAlive()).toThrow(LabError);
  });

  it('reports a shader compile error with line numbers and the numbered source', async () => {
    await withGpu(async (gpu) => {
      const rec = new Recorder(gpu);
      rec.dispatch({
        key: 'broken',
        source: () => '@compute @workgroup_size(1)\nfn main() {\n  let x = undefinedThing;\n}\n',
        params: {},
        values: {},
        bindings: [],
        workgroups: [1],
      });
      const err = await gpu.check().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LabError);
      const msg = (err as LabError).message;
      expect(msg).toContain('"broken"');
      expect(msg).toMatch(/line 3:\d+: .*undefinedThing/);
      expect(msg).toContain('3 |   let x = undefinedThing;');
    });
  });

  it('turns device loss into LabError "device-lost", and a new device works again', async () => {
    const gpu = await Gpu.acquire();
    const lost: string[] = [];
    gpu.onLost((m) => lost.push(m));
    const a = upload(gpu, rand(100));
    gpu.device.destroy(); // what a driver reset looks like from here
    await new Promise((r) => setTimeout(r, 50));
    expect(lost.length).toBe(1);
    expect(gpu.alive).toBe(false);
    const err = await run(gpu, (rec) => addForward(rec, a, a, a, 100)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('device-lost');
    expect((err as LabError).message).toMatch(/Reload the model/);
    gpu.destroy();

    await withGpu(async (fresh) => {
      const x = rand(64);
      const out = zeros(fresh, 64);
      await run(fresh, (rec) => addForward(rec, out, upload(fresh, x), upload(fresh, x), 64));
      expect(Array.from(await fresh.readF32(out.buffer, 0, 64))).toEqual(Array.from(x, (v) => 2 * v));
    });
  });

  it('turns an allocation the GPU cannot make into LabError "out-of-memory"', async () => {
    await withGpu(async (gpu) => {
      const tooBig = gpu.limits.maxBufferSize + 4;
      const err = await gpu.guardOom('a huge tensor', () => gpu.storage(tooBig, 'weights', 'huge')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LabError);
      expect((err as LabError).kind).toBe('out-of-memory');
      expect((err as LabError).message).toMatch(/smaller or quantized/);
    });
  });
});
