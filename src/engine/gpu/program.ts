/**
 * Recording GPU work once and replaying it. Launchers (one per kernel, named after the CPU op)
 * append dispatches to a Recorder; `finish()` packs every dispatch's params into one uniform
 * buffer, creates the bind groups and returns a Program that can be encoded any number of
 * times. A decode step for a given batch shape is recorded once and replayed every token.
 */
import type { Gpu } from './device';
import type { PooledBuffer } from './memory';
import { packParams, type ParamSpec, type ParamValues } from './wgsl';

/** A storage binding: a whole buffer or a byte range of it (a PooledBuffer is one too). */
export interface Binding {
  readonly buffer: GPUBuffer;
  readonly offset?: number;
  readonly size?: number;
}

/** What a launcher passes for one dispatch. */
export interface DispatchSpec<S extends ParamSpec> {
  /** Pipeline cache key: kernel name plus every compile-time choice that changes the source. */
  key: string;
  source: () => string;
  params: S;
  values: ParamValues<S>;
  /** Storage bindings 1..n in the order the WGSL declares them. */
  bindings: Binding[];
  workgroups: [number, number?, number?];
}

type Transfer =
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number }
  | { kind: 'clear'; dst: GPUBuffer; dstOffset: number; size: number };

type Step = { kind: 'dispatch'; pipeline: GPUComputePipeline; bindings: Binding[]; params: Uint8Array; workgroups: [number, number, number]; label: string } | Transfer;

type Encoded = { kind: 'dispatch'; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: [number, number, number]; label: string } | Transfer;

const UNIFORM_ALIGN = 256;

export class Recorder {
  private steps: Step[] = [];

  constructor(readonly gpu: Gpu) {}

  dispatch<S extends ParamSpec>(spec: DispatchSpec<S>): void {
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return; // nothing to do (e.g. zero rows)
    const pipeline = this.gpu.pipelines.get(spec.key, spec.source);
    this.steps.push({
      kind: 'dispatch',
      pipeline,
      bindings: spec.bindings,
      params: packParams(spec.params, spec.values),
      workgroups: [x, y, z],
      label: spec.key,
    });
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (size > 0) this.steps.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
  }

  /** Zeroes `size` bytes at `offset` (both multiples of 4): gradient buffers that kernels add into. */
  clear(dst: GPUBuffer, offset: number, size: number): void {
    if (size > 0) this.steps.push({ kind: 'clear', dst, dstOffset: offset, size });
  }

  get length(): number {
    return this.steps.length;
  }

  finish(): Program {
    const dispatches = this.steps.filter((s) => s.kind === 'dispatch');
    const arena = this.gpu.memory.acquire(Math.max(UNIFORM_ALIGN, dispatches.length * UNIFORM_ALIGN), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms');
    const bytes = new Uint8Array(arena.size);
    let slot = 0;
    const encoded: Encoded[] = this.steps.map((s) => {
      if (s.kind !== 'dispatch') return s;
      const offset = slot++ * UNIFORM_ALIGN;
      bytes.set(s.params, offset);
      const bindGroup = this.gpu.device.createBindGroup({
        label: s.label,
        layout: s.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: arena.buffer, offset, size: s.params.byteLength } },
          ...s.bindings.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } })),
        ],
      });
      return { kind: 'dispatch', pipeline: s.pipeline, bindGroup, workgroups: s.workgroups, label: s.label };
    });
    this.gpu.write(arena.buffer, 0, bytes);
    this.steps = [];
    return new Program(this.gpu, encoded, arena);
  }
}

export class Program {
  constructor(
    private gpu: Gpu,
    private steps: Encoded[],
    private arena: PooledBuffer | null,
  ) {}

  get dispatchCount(): number {
    return this.steps.filter((s) => s.kind === 'dispatch').length;
  }

  /** Appends the recorded work to `enc`: runs of dispatches share one compute pass. */
  encode(enc: GPUCommandEncoder): void {
    let pass: GPUComputePassEncoder | null = null;
    for (const s of this.steps) {
      if (s.kind !== 'dispatch') {
        pass?.end();
        pass = null;
        if (s.kind === 'copy') enc.copyBufferToBuffer(s.src, s.srcOffset, s.dst, s.dstOffset, s.size);
        else enc.clearBuffer(s.dst, s.dstOffset, s.size);
        continue;
      }
      pass ??= enc.beginComputePass();
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.bindGroup);
      pass.dispatchWorkgroups(...s.workgroups);
    }
    pass?.end();
  }

  /** Dispatch keys in order (profiling). */
  get labels(): string[] {
    return this.steps.flatMap((s) => (s.kind === 'dispatch' ? [s.label] : []));
  }

  /**
   * The dispatches whose index (among dispatches) passes `keep`, sharing this program's bind
   * groups and uniforms (valid while this program is): bench/profile.ts times kernel classes so.
   */
  subset(keep: (index: number, label: string) => boolean): Program {
    let i = 0;
    const steps = this.steps.filter((s) => s.kind === 'dispatch' && keep(i++, s.label));
    return new Program(this.gpu, steps, null);
  }

  /** Encodes and submits. */
  run(): void {
    const enc = this.gpu.device.createCommandEncoder();
    this.encode(enc);
    this.gpu.submit([enc.finish()]);
  }

  /** Returns the uniform buffer to the pool. */
  release(): void {
    if (this.arena) this.gpu.memory.release(this.arena);
    this.arena = null;
    this.steps = [];
  }
}
