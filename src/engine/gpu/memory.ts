/**
 * Every GPU buffer the engine holds goes through one MemoryPool, so the lab can say how many
 * bytes it holds on the GPU and for what (shown in the UI), and so scratch buffers are reused
 * instead of re-created on every call.
 */

/** 'training': what LoRA training adds (saved activations, gradients of activations and of the adapter). */
export type MemoryCategory = 'weights' | 'lora' | 'kv-cache' | 'activations' | 'training' | 'uniforms' | 'staging';
export const MEMORY_CATEGORIES: readonly MemoryCategory[] = ['weights', 'lora', 'kv-cache', 'activations', 'training', 'uniforms', 'staging'];

export interface MemoryReport {
  /** Bytes in live GPU buffers, in use or kept for reuse. */
  totalBytes: number;
  byCategory: Record<MemoryCategory, number>;
  /** Part of totalBytes kept in the free list for reuse (released by trim()). */
  pooledFreeBytes: number;
  buffers: number;
}

/** A buffer handed out by the pool. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly size: number;
  readonly usage: GPUBufferUsageFlags;
  readonly category: MemoryCategory;
}

export class MemoryPool {
  private live = new Set<PooledBuffer>();
  private free: PooledBuffer[] = [];

  constructor(private device: GPUDevice) {}

  /**
   * A buffer of at least `size` bytes. Reuses a released buffer of the same size class, usage
   * and category when one is free. Scratch (activations, staging) is rounded to size classes so
   * it reuses well; everything else to a multiple of 16 bytes.
   */
  acquire(size: number, usage: GPUBufferUsageFlags, category: MemoryCategory, label: string = category): PooledBuffer {
    const rounded = category === 'activations' || category === 'training' || category === 'staging' ? sizeClass(size) : round16(size);
    const i = this.free.findIndex((b) => b.size === rounded && b.usage === usage && b.category === category);
    if (i >= 0) return this.free.splice(i, 1)[0];
    const buffer = this.device.createBuffer({ size: rounded, usage, label });
    const b: PooledBuffer = { buffer, size: rounded, usage, category };
    this.live.add(b);
    return b;
  }

  /** Gives a buffer back for reuse; it stays allocated (and counted) until trim(). */
  release(b: PooledBuffer): void {
    if (this.live.has(b) && !this.free.includes(b)) this.free.push(b);
  }

  /** Frees a buffer now. */
  destroy(b: PooledBuffer): void {
    if (!this.live.delete(b)) return;
    const i = this.free.indexOf(b);
    if (i >= 0) this.free.splice(i, 1);
    b.buffer.destroy();
  }

  /** Frees every released buffer. */
  trim(): void {
    for (const b of this.free.splice(0)) {
      this.live.delete(b);
      b.buffer.destroy();
    }
  }

  /** Frees everything (the device is going away). */
  destroyAll(): void {
    for (const b of this.live) b.buffer.destroy();
    this.live.clear();
    this.free = [];
  }

  report(): MemoryReport {
    const byCategory = Object.fromEntries(MEMORY_CATEGORIES.map((c) => [c, 0])) as Record<MemoryCategory, number>;
    let totalBytes = 0;
    for (const b of this.live) {
      byCategory[b.category] += b.size;
      totalBytes += b.size;
    }
    const pooledFreeBytes = this.free.reduce((s, b) => s + b.size, 0);
    return { totalBytes, byCategory, pooledFreeBytes, buffers: this.live.size };
  }
}

function round16(size: number): number {
  return Math.max(16, Math.ceil(size / 16) * 16);
}

/** Size classes: powers of two up to 64 KiB, then multiples of 1/16 of the next power of two. */
function sizeClass(size: number): number {
  const n = round16(size);
  if (n <= 65536) return 2 ** Math.ceil(Math.log2(n));
  const step = 2 ** Math.ceil(Math.log2(n)) / 16;
  return Math.ceil(n / step) * step;
}
