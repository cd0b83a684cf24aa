/**
 * The Llama-family decoder (Llama, Qwen2) on the GPU, over ModelWeights: the same graph as
 * cpu/model.ts, run on the kernels of engine/gpu.
 *
 * A forward call takes a batch of rows, each a token appended to some sequence of the paged KV
 * cache; rows of many sequences (a decode step of n samples) and many rows of one sequence (a
 * prefill chunk) mix freely. Its head decides what comes back, never the whole logits unless
 * asked: sampled token ids, log-probs of given tokens, or logits of chosen rows.
 *
 * Weights are uploaded in k-major panels (gpu/linear.ts) and fused where rows share an input: q|k|v into
 * one [C, (NH+2·NKV)·D] matrix, gate|up into one [C, 2I]. o_proj and down_proj accumulate
 * straight into the residual stream. LoRA adapters (several, by name) are added on every
 * targeted linear of the enabled ones: y += scale · (x·Aᵀ)·Bᵀ.
 *
 * For each batch shape (rows, logit rows, head, enabled adapters) the dispatches are recorded
 * once (gpu/program.ts) and replayed: inputs travel in small buffers written per call.
 *
 * Training (model/gpu-train-graph.ts) records its own forward and backward passes over these
 * uploaded weights and adapters (`uploaded`, `loadedAdapter`): the adapter it trains is the one
 * generation uses.
 */
import { LabError } from '../../errors';
import { ropeInvFreq, type ModelConfig } from './config';
import { tensorToF32 } from './dtypes';
import { LINEAR_NAMES, type LinearName, type LoraAdapter, type ModelWeights, type Tensor } from './weights';
import type { Gpu } from '../gpu/device';
import type { PooledBuffer } from '../gpu/memory';
import { PANEL, destroyLinear, uploadLinear, type GpuLinear } from '../gpu/linear';
import { destroyLoraLinear, loraForward, uploadLoraLinear, writeLoraLinear, type GpuLoraLinear } from '../gpu/lora';
import { Recorder, type Program } from '../gpu/program';
import { checkAdapterShapes, linearDims } from '../train/lora';
import { embeddingForward } from '../gpu/embedding';
import { rmsnormForward } from '../gpu/rmsnorm';
import { matmulForward } from '../gpu/matmul';
import { ropeForward, ropeTable } from '../gpu/rope';
import { attentionForward, kvcacheWrite, type KvIndex } from '../gpu/attention';
import { swigluForward } from '../gpu/swiglu';
import { gatherLogprobs } from '../gpu/softmax';
import { packSampleParams, sampleToken, type SampleRowParams } from '../gpu/sample';
import { PagedKvCache, type KvSequence } from './kv-cache';

export interface GpuModelOptions {
  /** Most positions per sequence (KV cache, RoPE table). Default min(maxPositionEmbeddings, 4096). */
  contextLength?: number;
  /** Most rows per forward call: prefill chunks and decode batches are cut to this. Default 64. */
  maxRows?: number;
  /** Positions per KV page. Default 16. */
  pageSize?: number;
}

/** One row of a batch: `token` appended to `seq` (rows of one sequence in order). */
export interface ForwardRow {
  seq: KvSequence;
  token: number;
}

export type ForwardHead =
  | { kind: 'none' }
  /** Sample one token from the logits of each listed row. */
  | { kind: 'sample'; rows: number[]; params: SampleRowParams[] }
  /** log p(targets[i]) under the logits of rows[i]. */
  | { kind: 'logprobs'; rows: number[]; targets: number[] }
  /** The logits of the listed rows, [rows.length, V]. */
  | { kind: 'logits'; rows: number[] };

type HeadResult<H extends ForwardHead> = H extends { kind: 'sample' }
  ? Uint32Array
  : H extends { kind: 'logprobs' } | { kind: 'logits' }
    ? Float32Array
    : null;

export interface GpuLayer {
  inputNorm: PooledBuffer;
  qkv: GpuLinear;
  qkvBias: PooledBuffer | null;
  o: GpuLinear;
  postNorm: PooledBuffer;
  gateUp: GpuLinear;
  down: GpuLinear;
}

export interface GpuAdapter {
  /** The host copy it was uploaded from. */
  adapter: LoraAdapter;
  layers: Partial<Record<LinearName, GpuLoraLinear>>[];
}

/** Scratch of one forward, for up to `rows` rows and `logitRows` logit rows. */
interface Scratch {
  rows: number;
  logitRows: number;
  loraRank: number;
  x: PooledBuffer; // [T, C] residual stream
  xn: PooledBuffer; // [T, C] normed
  qkv: PooledBuffer; // [T, QKVW]
  att: PooledBuffer; // [T, NH·D]
  gu: PooledBuffer; // [T, 2I]
  h: PooledBuffer; // [T, I]
  xa: PooledBuffer; // [T, r] LoRA x·Aᵀ
  lnf: PooledBuffer; // [R, C]
  logits: PooledBuffer; // [R, V]
  // per-call inputs
  tokens: PooledBuffer; // [T] u32
  positions: PooledBuffer; // [T] u32
  rowSeq: PooledBuffer; // [T] u32
  headRows: PooledBuffer; // [R] u32
  headAux: PooledBuffer; // [R] sampling params (16 B) or targets (u32)
  out: PooledBuffer; // [R] ids or log-probs
}

const PLAN_CACHE = 24;

export class GpuModel {
  readonly config: ModelConfig;
  readonly contextLength: number;
  readonly maxRows: number;
  readonly kv: PagedKvCache;
  private embed!: GpuLinear;
  private lmHead!: GpuLinear;
  private finalNorm!: PooledBuffer;
  private layers: GpuLayer[] = [];
  private rope!: PooledBuffer;
  private adapters = new Map<string, GpuAdapter>();
  private scratch: Scratch | null = null;
  private plans = new Map<string, { program: Program; version: string }>();
  private destroyed = false;

  private constructor(
    readonly gpu: Gpu,
    config: ModelConfig,
    opts: GpuModelOptions,
  ) {
    this.config = config;
    this.contextLength = Math.min(opts.contextLength ?? 4096, config.maxPositionEmbeddings);
    this.maxRows = opts.maxRows ?? 64;
    this.kv = new PagedKvCache(gpu, config.numLayers, config.numKvHeads * config.headDim, {
      contextLength: this.contextLength,
      pageSize: opts.pageSize ?? 16,
    });
  }

  /** Uploads the weights. Throws LabError 'out-of-memory' if they do not fit. */
  static async load(gpu: Gpu, weights: ModelWeights, opts: GpuModelOptions = {}): Promise<GpuModel> {
    const m = await gpu.guardOom('the model weights', () => new GpuModel(gpu, weights.config, opts));
    try {
      await gpu.guardOom('the model weights', () => m.upload(weights));
      await gpu.sync();
    } catch (e) {
      m.destroy();
      throw e;
    }
    return m;
  }

  private upload(w: ModelWeights): void {
    const c = this.config;
    const f32 = (t: Tensor, label: string) => {
      const d = tensorToF32(t);
      return this.gpu.storage(d.byteLength, 'weights', label, d);
    };
    this.embed = uploadLinear(this.gpu, w.embed, 'embed');
    this.lmHead = w.lmHead ? uploadLinear(this.gpu, w.lmHead, 'lm_head') : this.embed;
    this.finalNorm = f32(w.finalNorm, 'norm');
    const qkvw = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
    this.layers = w.layers.map((l, i) => {
      let qkvBias: PooledBuffer | null = null;
      if (l.qBias || l.kBias || l.vBias) {
        const b = new Float32Array(qkvw);
        const qd = c.numHeads * c.headDim;
        const kd = c.numKvHeads * c.headDim;
        if (l.qBias) b.set(tensorToF32(l.qBias), 0);
        if (l.kBias) b.set(tensorToF32(l.kBias), qd);
        if (l.vBias) b.set(tensorToF32(l.vBias), qd + kd);
        qkvBias = this.gpu.storage(b.byteLength, 'weights', `layers.${i}.qkv_bias`, b);
      }
      return {
        inputNorm: f32(l.inputNorm, `layers.${i}.input_layernorm`),
        qkv: uploadLinear(this.gpu, concatRows([l.q, l.k, l.v]), `layers.${i}.qkv_proj`),
        qkvBias,
        o: uploadLinear(this.gpu, l.o, `layers.${i}.o_proj`),
        postNorm: f32(l.postNorm, `layers.${i}.post_attention_layernorm`),
        gateUp: uploadLinear(this.gpu, concatRows([l.gate, l.up]), `layers.${i}.gate_up_proj`),
        down: uploadLinear(this.gpu, l.down, `layers.${i}.down_proj`),
      };
    });
    const table = ropeTable(ropeInvFreq(c), this.contextLength);
    this.rope = this.gpu.storage(table.byteLength, 'weights', 'rope table', table);
  }

  // ---- LoRA adapters ------------------------------------------------------------------------

  /** [out, in] of each linear. */
  linearDims(): Record<LinearName, [number, number]> {
    return linearDims(this.config);
  }


  /** The weights as uploaded, for the training graph (which records its own passes over them). */
  get uploaded(): { embed: GpuLinear; lmHead: GpuLinear; finalNorm: PooledBuffer; layers: readonly GpuLayer[]; rope: PooledBuffer } {
    return { embed: this.embed, lmHead: this.lmHead, finalNorm: this.finalNorm, layers: this.layers, rope: this.rope };
  }

  /** A loaded adapter: its host copy and GPU tensors (the same object until the adapter is replaced by one of other shapes, or removed). */
  loadedAdapter(name: string): GpuAdapter {
    return this.enabled([name])[0];
  }

  /**
   * Uploads (or replaces) a named adapter. Replacing one of the same shapes and scale (an
   * optimizer step) writes the new weights into its buffers: recorded programs stay valid.
   */
  async setAdapter(adapter: LoraAdapter): Promise<void> {
    this.assertUsable();
    checkAdapterShapes(adapter, this.config);
    const held = this.adapters.get(adapter.name);
    if (held && sameShapes(held.adapter, adapter)) {
      adapter.layers.forEach((layer, i) => {
        for (const name of LINEAR_NAMES) {
          const ab = layer[name];
          if (ab) writeLoraLinear(this.gpu, held.layers[i][name]!, ab.a, ab.b);
        }
      });
      held.adapter = adapter;
      return;
    }
    const dims = this.linearDims();
    const layers = await this.gpu.guardOom(`adapter "${adapter.name}"`, () =>
      adapter.layers.map((layer, i) => {
        const out: Partial<Record<LinearName, GpuLoraLinear>> = {};
        for (const name of LINEAR_NAMES) {
          const ab = layer[name];
          if (!ab) continue;
          const [OC, IC] = dims[name];
          out[name] = uploadLoraLinear(this.gpu, ab.a, ab.b, adapter.rank, IC, OC, `${adapter.name}.layers.${i}.${name}`);
        }
        return out;
      }),
    );
    this.removeAdapter(adapter.name);
    this.adapters.set(adapter.name, { adapter, layers });
  }

  removeAdapter(name: string): void {
    const a = this.adapters.get(name);
    if (!a) return;
    for (const layer of a.layers) for (const l of Object.values(layer)) destroyLoraLinear(this.gpu, l);
    this.adapters.delete(name);
    this.dropPlans();
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  private enabled(names: readonly string[] | undefined): GpuAdapter[] {
    return (names ?? []).map((n) => {
      const a = this.adapters.get(n);
      if (!a) throw new LabError('not-found', `No adapter "${n}" is loaded (loaded: ${this.adapterNames().join(', ') || 'none'}).`);
      return a;
    });
  }

  // ---- forward ------------------------------------------------------------------------------

  /**
   * Runs one batch: every row's token is appended to its sequence (KV cache written), then the
   * head is evaluated. Rows must be ≤ maxRows; a sequence's rows appear in order.
   */
  async forward<H extends ForwardHead>(rows: ForwardRow[], head: H, opts: { adapters?: readonly string[] } = {}): Promise<HeadResult<H>> {
    this.assertUsable();
    const c = this.config;
    const T = rows.length;
    if (T === 0 || T > this.maxRows) throw new LabError('internal', `forward takes 1..${this.maxRows} rows (got ${T}).`);
    const headRows = head.kind === 'none' ? [] : head.rows;
    const R = headRows.length;
    if (R > this.maxRows) throw new LabError('internal', `forward takes at most ${this.maxRows} head rows.`);
    for (const r of headRows) if (r < 0 || r >= T) throw new LabError('internal', `head row ${r} is not a row of this batch.`);
    for (const { token } of rows) {
      if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
        throw new LabError('invalid-input', `Token id ${token} is outside the vocabulary (0..${c.vocabSize - 1}).`);
      }
    }
    const adapters = this.enabled(opts.adapters);

    // Positions, and KV pages for the new positions (copy-on-write of shared pages first).
    const enc = this.gpu.device.createCommandEncoder();
    const counts = new Map<KvSequence, number>();
    for (const { seq } of rows) {
      if (seq.released) throw new LabError('internal', 'forward on a released sequence.');
      counts.set(seq, (counts.get(seq) ?? 0) + 1);
    }
    // Every page this step needs first: a pool grown midway would drop the copies recorded so far.
    let pages = 0;
    for (const [seq, n] of counts) pages += this.kv.pagesNeeded(seq, n);
    this.kv.ensureFree(pages);
    for (const [seq, n] of counts) this.kv.reserve(seq, n, enc);
    const next = new Map<KvSequence, number>();
    const positions = new Uint32Array(T);
    rows.forEach(({ seq }, t) => {
      const p = next.get(seq) ?? seq.length;
      positions[t] = p;
      next.set(seq, p + 1);
    });

    const s = this.ensureScratch(adapters);
    const g = this.gpu;
    g.write(s.tokens.buffer, 0, Uint32Array.from(rows, (r) => r.token));
    g.write(s.positions.buffer, 0, positions);
    g.write(s.rowSeq.buffer, 0, Uint32Array.from(rows, (r) => r.seq.row));
    if (R) g.write(s.headRows.buffer, 0, Uint32Array.from(headRows));
    if (head.kind === 'sample') g.write(s.headAux.buffer, 0, packSampleParams(head.params));
    if (head.kind === 'logprobs') g.write(s.headAux.buffer, 0, Uint32Array.from(head.targets));

    const program = this.plan(T, R, head.kind, adapters);
    program.encode(enc);
    const V = c.vocabSize;
    let bytes = 0;
    let src: PooledBuffer | null = null;
    if (head.kind === 'sample' || head.kind === 'logprobs') [src, bytes] = [s.out, R * 4];
    if (head.kind === 'logits') [src, bytes] = [s.logits, R * V * 4];
    let staging: PooledBuffer | null = null;
    if (src && bytes) {
      staging = g.memory.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
      enc.copyBufferToBuffer(src.buffer, 0, staging.buffer, 0, bytes);
    }
    g.submit([enc.finish()]);
    for (const [seq, end] of next) seq.length = end;
    if (!staging) {
      await g.check();
      return null as HeadResult<H>;
    }
    try {
      await staging.buffer.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      g.assertAlive();
      throw e;
    }
    const data = staging.buffer.getMappedRange(0, bytes).slice(0);
    staging.buffer.unmap();
    g.memory.release(staging);
    await g.check();
    return (head.kind === 'sample' ? new Uint32Array(data) : new Float32Array(data)) as HeadResult<H>;
  }

  /** The recorded program for this batch shape (cached; public for bench/profile.ts). */
  plan(T: number, R: number, head: ForwardHead['kind'], adapters: GpuAdapter[] = []): Program {
    const key = `${T}/${R}/${head}/${adapters.map((a) => a.adapter.name).join('+')}`;
    const version = `${this.kv.version}/${this.scratch!.rows}/${this.scratch!.loraRank}`;
    const hit = this.plans.get(key);
    if (hit && hit.version === version) {
      this.plans.delete(key); // LRU: re-insert as newest
      this.plans.set(key, hit);
      return hit.program;
    }
    hit?.program.release();
    const rec = new Recorder(this.gpu);
    this.record(rec, T, R, head, adapters);
    const program = rec.finish();
    this.plans.set(key, { program, version });
    while (this.plans.size > PLAN_CACHE) {
      const [oldest, p] = this.plans.entries().next().value!;
      p.program.release();
      this.plans.delete(oldest);
    }
    return program;
  }

  private record(rec: Recorder, T: number, R: number, head: ForwardHead['kind'], adapters: GpuAdapter[]): void {
    const c = this.config;
    const s = this.scratch!;
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = c;
    const QD = NH * D;
    const KVD = NKV * D;
    const QKVW = QD + 2 * KVD;
    const colOf = fusedColumns(c);
    const lora = (layer: number, names: LinearName[], x: PooledBuffer, xStride: number, out: PooledBuffer) => {
      for (const a of adapters) {
        for (const name of names) {
          const l = a.layers[layer][name];
          if (l) loraForward(rec, out, s.xa, x, l, a.adapter.scale, T, { xStride, outStride: colOf[name].stride, outOffset: colOf[name].offset });
        }
      }
    };
    const idx: KvIndex = { pageTable: this.kv.pageTable, maxPages: this.kv.maxPages, pageSize: this.kv.pageSize, rowSeq: s.rowSeq, positions: s.positions };

    embeddingForward(rec, s.x, s.tokens, this.embed, T);
    this.layers.forEach((L, l) => {
      rmsnormForward(rec, s.xn, s.x, L.inputNorm, T, C, c.rmsNormEps);
      matmulForward(rec, s.qkv, s.xn, L.qkv, T, { bias: L.qkvBias });
      lora(l, ['q', 'k', 'v'], s.xn, C, s.qkv);
      ropeForward(rec, s.qkv, s.positions, this.rope, T, D, { stride: QKVW, off0: 0, n0: NH, off1: QD, n1: NKV });
      const kv = { k: this.kv.k[l], v: this.kv.v[l] };
      kvcacheWrite(rec, kv, s.qkv, idx, T, { width: KVD, stride: QKVW, kOff: QD, vOff: QD + KVD });
      attentionForward(rec, s.att, s.qkv, kv, idx, T, NH, NKV, D, { qStride: QKVW, qOff: 0 });
      matmulForward(rec, s.x, s.att, L.o, T, { accumulate: true });
      lora(l, ['o'], s.att, QD, s.x);
      rmsnormForward(rec, s.xn, s.x, L.postNorm, T, C, c.rmsNormEps);
      matmulForward(rec, s.gu, s.xn, L.gateUp, T);
      lora(l, ['gate', 'up'], s.xn, C, s.gu);
      swigluForward(rec, s.h, s.gu, T, I);
      matmulForward(rec, s.x, s.h, L.down, T, { accumulate: true });
      lora(l, ['down'], s.h, I, s.x);
    });
    if (R === 0) return;
    rmsnormForward(rec, s.lnf, s.x, this.finalNorm, R, C, c.rmsNormEps, s.headRows);
    matmulForward(rec, s.logits, s.lnf, this.lmHead, R);
    if (head === 'sample') sampleToken(rec, s.out, s.logits, s.headAux, R, V);
    if (head === 'logprobs') gatherLogprobs(rec, s.out, s.logits, this.identityRows(), s.headAux, R, V);
  }

  private identity: PooledBuffer | null = null;
  /** [0, 1, …, maxRows-1] u32: logit row i belongs to head entry i. */
  private identityRows(): PooledBuffer {
    if (!this.identity) {
      const ids = Uint32Array.from({ length: this.maxRows }, (_, i) => i);
      this.identity = this.gpu.storage(ids.byteLength, 'activations', 'identity rows', ids);
    }
    return this.identity;
  }

  private ensureScratch(adapters: GpuAdapter[]): Scratch {
    const rank = Math.max(1, ...adapters.map((a) => a.adapter.rank));
    const cur = this.scratch;
    if (cur && cur.loraRank >= rank) return cur;
    const c = this.config;
    const T = this.maxRows;
    const R = this.maxRows;
    const QKVW = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
    const loraRank = Math.max(rank, cur?.loraRank ?? 0);
    if (cur) this.freeScratch();
    const f = (n: number, label: string) => this.gpu.storage(Math.max(16, n * 4), 'activations', label);
    this.scratch = {
      rows: T,
      logitRows: R,
      loraRank,
      x: f(T * c.hiddenSize, 'x'),
      xn: f(T * c.hiddenSize, 'xn'),
      qkv: f(T * QKVW, 'qkv'),
      att: f(T * c.numHeads * c.headDim, 'att'),
      gu: f(T * 2 * c.intermediateSize, 'gate_up'),
      h: f(T * c.intermediateSize, 'h'),
      xa: f(T * loraRank, 'lora xa'),
      lnf: f(R * c.hiddenSize, 'lnf'),
      logits: f(R * c.vocabSize, 'logits'),
      tokens: f(T, 'tokens'),
      positions: f(T, 'positions'),
      rowSeq: f(T, 'row seq'),
      headRows: f(R, 'head rows'),
      headAux: f(R * 4, 'head params'),
      out: f(R, 'head out'),
    };
    this.dropPlans();
    return this.scratch;
  }

  private freeScratch(): void {
    const s = this.scratch;
    if (!s) return;
    for (const b of [s.x, s.xn, s.qkv, s.att, s.gu, s.h, s.xa, s.lnf, s.logits, s.tokens, s.positions, s.rowSeq, s.headRows, s.headAux, s.out]) {
      this.gpu.memory.destroy(b);
    }
    this.scratch = null;
  }

  private dropPlans(): void {
    for (const p of this.plans.values()) p.program.release();
    this.plans.clear();
  }

  private assertUsable(): void {
    this.gpu.assertAlive();
    if (this.destroyed) throw new LabError('internal', 'This model was unloaded.');
  }

  /** Frees every GPU buffer of the model (the device stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (!this.gpu.alive) return; // the device took everything with it
    this.dropPlans();
    this.freeScratch();
    for (const name of [...this.adapters.keys()]) this.removeAdapter(name);
    if (this.embed) destroyLinear(this.gpu, this.embed);
    if (this.lmHead && this.lmHead !== this.embed) destroyLinear(this.gpu, this.lmHead);
    for (const L of this.layers) {
      for (const w of [L.qkv, L.o, L.gateUp, L.down]) destroyLinear(this.gpu, w);
      for (const b of [L.inputNorm, L.postNorm, L.qkvBias]) if (b) this.gpu.memory.destroy(b);
    }
    for (const b of [this.finalNorm, this.rope, this.identity]) if (b) this.gpu.memory.destroy(b);
    this.kv.destroy();
    this.gpu.memory.trim();
  }
}

/** Same rank, scale and targeted linears (so the same GPU buffers and recorded programs fit). */
function sameShapes(a: LoraAdapter, b: LoraAdapter): boolean {
  return (
    a.rank === b.rank &&
    a.scale === b.scale &&
    a.layers.length === b.layers.length &&
    a.layers.every((l, i) => LINEAR_NAMES.every((n) => !l[n] === !b.layers[i][n]))
  );
}

/** Stacks [rows_i, IC] tensors of one dtype into [Σ rows_i, IC] (fused projections). */
export function concatRows(ts: Tensor[]): Tensor {
  const IC = ts[0].shape[1];
  const rows = ts.reduce((n, t) => n + t.shape[0], 0);
  const shape = [rows, IC];
  const first = ts[0];
  if (ts.some((t) => t.dtype !== first.dtype || t.shape[1] !== IC)) {
    return { dtype: 'f32', shape, data: concat(ts.map(tensorToF32), Float32Array) };
  }
  if (first.dtype === 'f32') return { dtype: 'f32', shape, data: concat(ts.map((t) => (t as typeof first).data), Float32Array) };
  if (first.dtype === 'f16') return { dtype: 'f16', shape, data: concat(ts.map((t) => (t as typeof first).data), Uint16Array) };
  const q = ts as Extract<Tensor, { dtype: 'q4' }>[];
  if (q.some((t) => t.groupSize !== first.groupSize || t.scaleDtype !== first.scaleDtype)) {
    return { dtype: 'f32', shape, data: concat(ts.map(tensorToF32), Float32Array) };
  }
  return {
    dtype: 'q4',
    shape,
    packed: concat(q.map((t) => t.packed), Uint32Array),
    scales: first.scaleDtype === 'f32' ? concat(q.map((t) => t.scales as Float32Array), Float32Array) : concat(q.map((t) => t.scales as Uint16Array), Uint16Array),
    scaleDtype: first.scaleDtype,
    groupSize: first.groupSize,
  };
}

function concat<A extends Float32Array | Uint16Array | Uint32Array>(parts: A[], Ctor: { new (n: number): A }): A {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
}

export interface GpuMemoryEstimate {
  /** Weights as the engine holds them (outputs padded to a multiple of PANEL; q4 with its scales). */
  weights: number;
  /** KV cache for `tokens` positions (f32). */
  kvCache: number;
  /** Scratch of one forward of `maxRows` rows, logits included. */
  activations: number;
  total: number;
  /** The largest single buffer (a slice never exceeds the binding limit; this is before slicing). */
  largestTensor: number;
}

/**
 * GPU bytes a model will take, from its config alone (before downloading it): weights in
 * `format`, a KV cache of `kvTokens` positions, and forward scratch. WebGPU does not expose the
 * GPU's memory size, so this is for showing the user and for comparing against what the lab
 * already holds; per-buffer limits are handled by slicing (gpu/linear.ts).
 */
export function estimateGpuBytes(
  c: ModelConfig,
  format: 'f32' | 'f16' | 'q4f32' | 'q4f16',
  opts: { kvTokens?: number; maxRows?: number; groupSize?: number; contextLength?: number } = {},
): GpuMemoryEstimate {
  const g = opts.groupSize ?? 32;
  const pad = (n: number) => Math.ceil(n / PANEL) * PANEL;
  const linear = (OC: number, IC: number) => {
    const n = pad(OC) * IC;
    if (format === 'f32') return n * 4;
    if (format === 'f16') return n * 2;
    return n / 2 + (Math.ceil(IC / g) * pad(OC) * (format === 'q4f32' ? 4 : 2));
  };
  const { hiddenSize: C, intermediateSize: I, numHeads: NH, numKvHeads: NKV, headDim: D, vocabSize: V, numLayers: L } = c;
  const qkvw = (NH + 2 * NKV) * D;
  const perLayer = linear(qkvw, C) + linear(C, NH * D) + linear(2 * I, C) + linear(C, I) + 2 * C * 4 + (c.attentionBias ? qkvw * 4 : 0);
  const embed = linear(V, C);
  const ropeTable = Math.min(opts.contextLength ?? 4096, c.maxPositionEmbeddings) * D * 4;
  const weights = embed + (c.tieWordEmbeddings ? 0 : linear(V, C)) + L * perLayer + C * 4 + ropeTable;
  const kvCache = 2 * L * NKV * D * 4 * (opts.kvTokens ?? 4096);
  const T = opts.maxRows ?? 64;
  const activations = 4 * T * (2 * C + qkvw + NH * D + 3 * I + C + V);
  return { weights, kvCache, activations, total: weights + kvCache + activations, largestTensor: Math.max(embed, linear(2 * I, C)) };
}

/** Which column range of its fused output (q|k|v, gate|up, or its own) each linear writes. */
export function fusedColumns(c: ModelConfig): Record<LinearName, { stride: number; offset: number }> {
  const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I } = c;
  const QD = NH * D;
  const KVD = NKV * D;
  const QKVW = QD + 2 * KVD;
  return {
    q: { stride: QKVW, offset: 0 },
    k: { stride: QKVW, offset: QD },
    v: { stride: QKVW, offset: QD + KVD },
    o: { stride: C, offset: 0 },
    gate: { stride: 2 * I, offset: 0 },
    up: { stride: 2 * I, offset: I },
    down: { stride: C, offset: 0 },
  };
}
