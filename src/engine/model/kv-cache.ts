/**
 * The paged KV cache of the GPU model. Keys and values of every layer live in pages of
 * PAGE positions ([pages · PAGE, NKV·D] per layer, see gpu/attention.ts); each sequence owns
 * one row of a page table listing its pages in order.
 *
 * Prefix sharing: fork() gives a new sequence the same pages as its parent (reference counts),
 * so the n samples of one prompt read one copy of the prompt's keys and values. Pages are
 * copy-on-write: before a sequence writes into a page it shares (the prompt's last, partly
 * filled page), that page is copied to a private one.
 *
 * Pages and page-table rows grow on demand (buffers reallocated and copied); `version` changes
 * then, so recorded programs that bind the old buffers are dropped.
 */
import { LabError } from '../../errors';
import type { Gpu } from '../gpu/device';
import { formatBytes } from '../gpu/device';
import type { PooledBuffer } from '../gpu/memory';

export interface KvSequence {
  /** Page-table row. */
  readonly row: number;
  /** Pages in position order. */
  pages: number[];
  /** Positions held; the next token goes to position `length`. */
  length: number;
  released: boolean;
}

export interface KvCacheOptions {
  pageSize?: number;
  /** Positions per sequence at most (the model's usable context). */
  contextLength: number;
  /** Pages allocated up front (grown when needed). */
  initialPages?: number;
  initialRows?: number;
}

export class PagedKvCache {
  readonly pageSize: number;
  readonly maxPages: number;
  /** Bumped whenever buffers are replaced. */
  version = 0;
  k: PooledBuffer[] = [];
  v: PooledBuffer[] = [];
  pageTable!: PooledBuffer;
  private numPages = 0;
  private numRows = 0;
  private refs: number[] = [];
  private freePages: number[] = [];
  private freeRows: number[] = [];
  private tableHost = new Uint32Array(0);
  private bounce: PooledBuffer | null = null;

  constructor(
    private gpu: Gpu,
    readonly numLayers: number,
    /** NKV · D */
    readonly width: number,
    opts: KvCacheOptions,
  ) {
    this.pageSize = opts.pageSize ?? 16;
    this.maxPages = Math.ceil(opts.contextLength / this.pageSize);
    this.growPages(opts.initialPages ?? 64);
    this.growRows(opts.initialRows ?? 16);
  }

  /** Bytes per page over all layers (K and V). */
  get pageBytes(): number {
    return 2 * this.numLayers * this.pageSize * this.width * 4;
  }

  get pagesInUse(): number {
    return this.numPages - this.freePages.length;
  }

  newSequence(): KvSequence {
    if (this.freeRows.length === 0) this.growRows(this.numRows * 2);
    return { row: this.freeRows.pop()!, pages: [], length: 0, released: false };
  }

  /** A sequence continuing `parent`: same pages (shared), same length. */
  fork(parent: KvSequence): KvSequence {
    const s = this.newSequence();
    s.pages = [...parent.pages];
    s.length = parent.length;
    for (const p of s.pages) this.refs[p]++;
    this.writeRow(s);
    return s;
  }

  release(s: KvSequence): void {
    if (s.released) return;
    s.released = true;
    for (const p of s.pages) {
      if (--this.refs[p] === 0) this.freePages.push(p);
    }
    s.pages = [];
    this.freeRows.push(s.row);
  }

  /**
   * Makes positions [s.length, s.length + n) writable by `s`: allocates pages and copies a
   * shared partial page. Records the copies on `enc` (run them before the forward).
   */
  reserve(s: KvSequence, n: number, enc: GPUCommandEncoder): void {
    const end = s.length + n;
    if (end > this.maxPages * this.pageSize) {
      throw new LabError('invalid-input', `A sequence of ${end} tokens exceeds the context length of ${this.maxPages * this.pageSize}.`);
    }
    this.ensureFree(this.pagesNeeded(s, n));
    const first = Math.floor(s.length / this.pageSize);
    let changed = false;
    if (s.length % this.pageSize !== 0 && this.refs[s.pages[first]] > 1) {
      const shared = s.pages[first];
      const own = this.allocPage();
      this.copyPage(enc, shared, own);
      this.refs[shared]--;
      s.pages[first] = own;
      changed = true;
    }
    while (s.pages.length * this.pageSize < end) {
      s.pages.push(this.allocPage());
      changed = true;
    }
    // Most decode steps stay within the last page: no page-table upload then.
    if (changed) this.writeRow(s);
  }

  /** Pages reserve(s, n) allocates: one more than it appends where a shared partial page is copied. */
  pagesNeeded(s: KvSequence, n: number): number {
    const end = Math.min(s.length + n, this.maxPages * this.pageSize);
    const first = Math.floor(s.length / this.pageSize);
    const copy = s.length % this.pageSize !== 0 && this.refs[s.pages[first]] > 1 ? 1 : 0;
    return copy + Math.max(0, Math.ceil(end / this.pageSize) - s.pages.length);
  }

  /**
   * Grows the pool now so that `n` pages can be allocated without growing: growing replaces the
   * K/V buffers, and page copies already recorded on an encoder would read destroyed ones.
   */
  ensureFree(n: number): void {
    let size = this.numPages;
    while (this.freePages.length + (size - this.numPages) < n) size *= 2;
    if (size > this.numPages) this.growPages(size);
  }

  private allocPage(): number {
    if (this.freePages.length === 0) this.growPages(this.numPages * 2);
    const p = this.freePages.pop()!;
    this.refs[p] = 1;
    return p;
  }

  /** Copies one page of every layer (through a bounce buffer: WebGPU copies need two buffers). */
  private copyPage(enc: GPUCommandEncoder, from: number, to: number): void {
    const bytes = this.pageSize * this.width * 4;
    const all = [...this.k, ...this.v];
    this.bounce ??= this.gpu.storage(bytes * all.length, 'kv-cache', 'kv page copy');
    all.forEach((b, i) => enc.copyBufferToBuffer(b.buffer, from * bytes, this.bounce!.buffer, i * bytes, bytes));
    all.forEach((b, i) => enc.copyBufferToBuffer(this.bounce!.buffer, i * bytes, b.buffer, to * bytes, bytes));
  }

  private writeRow(s: KvSequence): void {
    const row = this.tableHost.subarray(s.row * this.maxPages, (s.row + 1) * this.maxPages);
    row.fill(0);
    row.set(s.pages);
    this.gpu.write(this.pageTable.buffer, s.row * this.maxPages * 4, row);
  }

  private growPages(n: number): void {
    const bytes = n * this.pageSize * this.width * 4;
    if (bytes > this.gpu.limits.maxBindingBytes) {
      throw new LabError(
        'out-of-memory',
        `The KV cache would need ${formatBytes(bytes)} per layer, more than this GPU's ${formatBytes(this.gpu.limits.maxBindingBytes)} ` +
          'storage-binding limit. Generate fewer samples at once or shorter outputs.',
      );
    }
    const enc = this.gpu.device.createCommandEncoder();
    const grow = (old: PooledBuffer[], name: string) =>
      Array.from({ length: this.numLayers }, (_, l) => {
        const b = this.gpu.storage(bytes, 'kv-cache', `${name}${l}`);
        if (old[l]) {
          enc.copyBufferToBuffer(old[l].buffer, 0, b.buffer, 0, old[l].size);
        }
        return b;
      });
    const k = grow(this.k, 'k');
    const v = grow(this.v, 'v');
    this.gpu.submit([enc.finish()]);
    for (const b of [...this.k, ...this.v]) this.gpu.memory.destroy(b);
    this.k = k;
    this.v = v;
    for (let p = n - 1; p >= this.numPages; p--) this.freePages.push(p);
    this.refs.length = n;
    this.refs.fill(0, this.numPages);
    this.numPages = n;
    this.version++;
  }

  private growRows(n: number): void {
    const host = new Uint32Array(n * this.maxPages);
    host.set(this.tableHost);
    this.tableHost = host;
    if (this.pageTable) this.gpu.memory.destroy(this.pageTable);
    this.pageTable = this.gpu.storage(host.byteLength, 'kv-cache', 'page table', host);
    for (let r = n - 1; r >= this.numRows; r--) this.freeRows.push(r);
    this.numRows = n;
    this.version++;
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v, this.pageTable, this.bounce]) if (b) this.gpu.memory.destroy(b);
    this.k = [];
    this.v = [];
  }
}
