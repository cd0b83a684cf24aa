/**
 * The engine's handle on one WebGPU device: acquisition (with `shader-f16` when the adapter has
 * it, and the adapter's largest buffer / storage-binding limits), the memory pool, the pipeline
 * cache, submission and read-back, and the two failures a user can meet:
 *   - device loss (driver reset, GPU process crash, tab in background on some systems): every
 *     later call throws LabError 'device-lost'; acquire a new Gpu and reload the model.
 *   - out of memory: allocations run inside an 'out-of-memory' error scope and fail with
 *     LabError 'out-of-memory' naming what did not fit.
 */
import { LabError } from '../../errors';
import { openDevice, type DeviceRequest } from './acquire';
import { MemoryPool, type MemoryCategory, type MemoryReport, type PooledBuffer } from './memory';
import { PipelineCache } from './pipelines';

/** Which adapter and device to ask for (acquire.ts), and how the engine uses them. */
export interface AcquireOptions extends DeviceRequest {
  /**
   * Largest storage binding the engine will use, at most the device limit. Tests lower it to
   * exercise the splitting of large tensors across bindings.
   */
  maxBindingBytes?: number;
}

export interface GpuLimits {
  maxBufferSize: number;
  /** The largest storage binding the engine uses (device limit, or lower when asked). */
  maxBindingBytes: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
}

// Read when used, not as the module loads: in Node the WebGPU globals exist only once a source
// (Dawn) is installed.
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export class Gpu {
  readonly memory: MemoryPool;
  readonly pipelines: PipelineCache;
  readonly limits: GpuLimits;
  /** Why the device was lost, once it was (null while it is alive). */
  lostMessage: string | null = null;
  private disposed = false;
  private lostListeners: ((message: string) => void)[] = [];
  private uncaptured: string[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo,
    readonly shaderF16: boolean,
    /** The device has the 'subgroups' feature (kernels may use quad broadcasts). */
    readonly subgroups: boolean,
    /**
     * Its subgroups are 4 lanes: a CPU's SIMD width (SwiftShader). There a workgroup barrier
     * costs a coroutine switch per 4 lanes (~4 µs, bench/profile.ts), so kernels that reduce
     * over a row (RMSNorm, attention, sampling) run one subgroup per row without barriers.
     */
    readonly narrowSubgroups: boolean,
    maxBindingBytes: number,
  ) {
    this.memory = new MemoryPool(device);
    this.pipelines = new PipelineCache(device);
    const l = device.limits;
    this.limits = {
      maxBufferSize: Number(l.maxBufferSize),
      maxBindingBytes: Math.min(Number(l.maxStorageBufferBindingSize), maxBindingBytes),
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    };
    void device.lost.then((info) => {
      if (this.disposed) return;
      this.lostMessage = info.message || String(info.reason ?? 'unknown reason');
      for (const f of this.lostListeners) f(this.lostMessage);
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** Requests an adapter and a device with the limits the engine needs. */
  static async acquire(opts: AcquireOptions = {}): Promise<Gpu> {
    const opened = await openDevice(opts);
    if (!opened.ok) throw new LabError('no-webgpu', `${opened.reason} ${opened.advice}`);
    const { adapter, device, shaderF16, subgroups } = opened;
    const narrow = subgroups && (adapter.info.subgroupMaxSize ?? Infinity) <= 4;
    return new Gpu(device, adapter.info, shaderF16, subgroups, narrow, opts.maxBindingBytes ?? Infinity);
  }

  /** Called once if the device is lost (not when we destroy it ourselves). */
  onLost(listener: (message: string) => void): void {
    this.lostListeners.push(listener);
  }

  get alive(): boolean {
    return !this.disposed && this.lostMessage === null;
  }

  /** Throws LabError 'device-lost' if the device is gone. */
  assertAlive(): void {
    if (this.lostMessage !== null) {
      throw new LabError(
        'device-lost',
        `The GPU device was lost (${this.lostMessage}). Reload the model to continue; if it keeps happening, ` +
          'close other GPU-heavy tabs or use a smaller model.',
      );
    }
    if (this.disposed) throw new LabError('internal', 'This GPU device was released; acquire a new one.');
  }

  /** A storage buffer, optionally filled. Pair with guardOom() to turn allocation failure into a LabError. */
  storage(size: number, category: MemoryCategory, label?: string, data?: ArrayBufferView): PooledBuffer {
    this.assertAlive();
    if (size > this.limits.maxBufferSize) {
      throw new LabError(
        'out-of-memory',
        `${label ?? category} needs a ${formatBytes(size)} GPU buffer; this GPU allows at most ${formatBytes(this.limits.maxBufferSize)} ` +
          'per buffer. Use a smaller or quantized (q4) model.',
      );
    }
    const b = this.memory.acquire(size, storageUsage(), category, label);
    if (data) this.write(b.buffer, 0, data);
    return b;
  }

  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Runs `fn` (which allocates GPU memory) inside an out-of-memory error scope; an allocation
   * failure becomes LabError 'out-of-memory' that names `what`.
   */
  async guardOom<T>(what: string, fn: () => T): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope('out-of-memory');
    let result: T;
    try {
      result = fn();
    } catch (e) {
      await this.device.popErrorScope();
      if (e instanceof RangeError) throw oomError(what, this.memory.report(), e);
      throw e;
    }
    const err = await this.device.popErrorScope();
    if (err) throw oomError(what, this.memory.report(), err);
    return result;
  }

  submit(commands: GPUCommandBuffer[]): void {
    this.assertAlive();
    this.device.queue.submit(commands);
  }

  /** Copies `size` bytes at `offset` of `src` back to the CPU (waits for the queue). */
  async read(src: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    this.assertAlive();
    const staging = this.memory.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging.buffer, 0, Math.ceil(size / 4) * 4);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.buffer.mapAsync(GPUMapMode.READ, 0, Math.ceil(size / 4) * 4);
    } catch (e) {
      this.assertAlive(); // a lost device rejects the map: say so
      throw e;
    }
    const out = staging.buffer.getMappedRange(0, Math.ceil(size / 4) * 4).slice(0, size);
    staging.buffer.unmap();
    this.memory.release(staging);
    await this.check();
    return out;
  }

  async readF32(src: GPUBuffer, offset: number, count: number): Promise<Float32Array> {
    return new Float32Array(await this.read(src, offset, count * 4));
  }

  async readU32(src: GPUBuffer, offset: number, count: number): Promise<Uint32Array> {
    return new Uint32Array(await this.read(src, offset, count * 4));
  }

  /** Waits for submitted work; throws device loss, shader compile errors and validation errors. */
  async sync(): Promise<void> {
    this.assertAlive();
    await this.device.queue.onSubmittedWorkDone();
    await this.check();
  }

  /** Throws pending shader/validation errors (without waiting for the queue). */
  async check(): Promise<void> {
    this.assertAlive();
    await this.pipelines.check();
    if (this.uncaptured.length) {
      const msgs = this.uncaptured.splice(0);
      throw new LabError('internal', `WebGPU reported an error (a bug in SPaR Lab; please report it): ${msgs.join('\n')}`);
    }
  }

  memoryReport(): MemoryReport {
    return this.memory.report();
  }

  /** Releases every buffer and the device. The Gpu cannot be used afterwards. */
  destroy(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.destroyAll();
    this.device.destroy();
  }
}

function oomError(what: string, mem: MemoryReport, cause: unknown): LabError {
  return new LabError(
    'out-of-memory',
    `The GPU ran out of memory while allocating ${what} (the lab already holds ${formatBytes(mem.totalBytes)}). ` +
      'Try a smaller or quantized (q4) model, fewer samples at once, a shorter context, or close other tabs that use the GPU.',
    { cause },
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
