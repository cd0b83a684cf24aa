/**
 * Which engine serves lab-engine models: chosen by whether WebGPU gives an adapter and a device,
 * not by whether navigator.gpu exists (Chrome on Linux without flags and blocklisted GPUs have
 * navigator.gpu and no adapter).
 */
import { describe, expect, it } from 'vitest';
import { CPU_ENGINE, WEBGPU_ENGINE, chooseLabEngine, chosenEngine } from '../../../src/lab/engine';

/** A navigator.gpu whose adapter (and device) behave as asked. */
function fakeGpu(o: { adapter: 'none' | 'throws' | 'ok'; device?: 'throws' | 'ok' }) {
  const log: string[] = [];
  const device = { destroy: () => log.push('device destroyed') };
  const adapter = {
    features: new Set<string>(['shader-f16']),
    limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 },
    info: { vendor: 'acme' },
    requestDevice: async (desc: GPUDeviceDescriptor) => {
      log.push(`requestDevice ${[...(desc.requiredFeatures ?? [])].join(',')}`);
      if (o.device === 'throws') throw new DOMException('Failed to create a device: out of memory', 'OperationError');
      return device;
    },
  };
  const gpu = {
    requestAdapter: async () => {
      log.push('requestAdapter');
      if (o.adapter === 'throws') throw new Error('GPU process crashed');
      return o.adapter === 'none' ? null : adapter;
    },
  };
  return { gpu: gpu as unknown as GPU, log };
}

describe('lab engine choice', () => {
  it('navigator.gpu without an adapter: the CPU reference, and why', async () => {
    const { gpu } = fakeGpu({ adapter: 'none' });
    const c = await chooseLabEngine(gpu);
    expect(c.kind).toBe(CPU_ENGINE);
    expect(c.whyNotWebGpu).toMatch(/WebGPU is present but offers no GPU adapter/);
  });

  it('an adapter that cannot open a device: the CPU reference, and why', async () => {
    const { gpu, log } = fakeGpu({ adapter: 'ok', device: 'throws' });
    const c = await chooseLabEngine(gpu);
    expect(c.kind).toBe(CPU_ENGINE);
    expect(c.whyNotWebGpu).toMatch(/found an adapter \(acme\) but could not open a device on it \(OperationError: Failed to create a device/);
    expect(log).toEqual(['requestAdapter', 'requestDevice shader-f16']);
  });

  it('requestAdapter() failing, or no navigator.gpu at all: the CPU reference', async () => {
    expect(await chooseLabEngine(fakeGpu({ adapter: 'throws' }).gpu)).toEqual({ kind: CPU_ENGINE, whyNotWebGpu: expect.stringContaining('requestAdapter() failed (Error: GPU process crashed)') });
    expect(await chooseLabEngine(undefined)).toEqual({ kind: CPU_ENGINE, whyNotWebGpu: expect.stringContaining('navigator.gpu is missing') });
  });

  it('an adapter and a device: the WebGPU engine, with the trial device released', async () => {
    const { gpu, log } = fakeGpu({ adapter: 'ok', device: 'ok' });
    expect(await chooseLabEngine(gpu)).toEqual({ kind: WEBGPU_ENGINE, whyNotWebGpu: null });
    expect(log).toEqual(['requestAdapter', 'requestDevice shader-f16', 'device destroyed']);
  });

  it('the engine kind is usable before the choice settles and then carries the chosen name', async () => {
    let settle!: (c: { kind: typeof CPU_ENGINE; whyNotWebGpu: string }) => void;
    const kind = chosenEngine(new Promise((r) => (settle = r)));
    expect(kind.name).toMatch(/checking WebGPU/);
    settle({ kind: CPU_ENGINE, whyNotWebGpu: 'no adapter' });
    await Promise.resolve();
    expect(kind.name).toBe('CPU reference engine');
  });
});
