import { describe, expect, it } from 'vitest';
import { probeWebGpu } from '../../src/engine/gpu/report';

// In CI a missing WebGPU must fail, not skip: these tests never skip.
describe('WebGPU in the test browser', () => {
  it('reports an adapter with its limits', async () => {
    const report = await probeWebGpu();
    if (!report.available) throw new Error(`WebGPU unavailable: ${report.reason}`);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(report.limits.maxBufferSize).toBeGreaterThanOrEqual(report.limits.maxStorageBufferBindingSize);
    expect(typeof report.shaderF16).toBe('boolean');
  });

  it('runs a compute shader that matches the CPU', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter!.requestDevice();
    const n = 1000 + Math.floor(Math.random() * 100); // not a multiple of the workgroup size
    const a = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
    const b = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
    const expected = a.map((x, i) => Math.fround(Math.fround(x * b[i]) + 0.5 * x));

    const module = device.createShaderModule({
      code: /* wgsl */ `
        @group(0) @binding(0) var<storage, read> a: array<f32>;
        @group(0) @binding(1) var<storage, read> b: array<f32>;
        @group(0) @binding(2) var<storage, read_write> out: array<f32>;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3u) {
          let i = id.x;
          if (i >= arrayLength(&out)) { return; }
          out[i] = a[i] * b[i] + 0.5 * a[i];
        }`,
    });
    const info = await module.getCompilationInfo();
    expect(info.messages.filter((m) => m.type === 'error')).toEqual([]);
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const mk = (data: Float32Array<ArrayBuffer>) => {
      const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buf, 0, data);
      return buf;
    };
    const out = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [mk(a), mk(b), out].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, n * 4);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    // f32 with a possible fused multiply-add: a few ulps of the terms (up to 1 in magnitude),
    // which is what the result can be off by where the two terms cancel (b near -0.5).
    expect(got).toBeAllclose(expected, { rtol: 1e-5, floor: 0.1 });
    device.destroy();
  });
});
