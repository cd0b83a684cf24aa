/**
 * The WebGPU runtime as a TrainEngine (train/engine.ts): the GPU twin of cpu/train-engine.ts.
 * One micro-batch call = the training forward of every sequence in one batch (rows of all
 * sequences together) → the log-probs of the masked tokens to the host → the host's loss and
 * d loss / d logp back → the backward (model/gpu-train-graph.ts), adding the adapter's dA, dB
 * into gradient accumulators that live on the GPU until takeGradients reads them. Log-probs
 * without gradients (DPO's reference) go through the inference path where they can, sharing a
 * pair's prompt.
 *
 * The adapter trained is the one the model holds for generation (GpuModel's LoRA buffers): after
 * an optimizer step, setAdapter writes the new weights into those buffers, and every LabEngine
 * view with that adapter generates with them at once. AdamW stays on the host (train/optim.ts):
 * gradients read back and weights written once per optimizer step (2·4 bytes per LoRA parameter,
 * a few MB even for large models) cost little next to the passes.
 *
 * GPU memory: one set of training buffers sized for the largest batch seen (category
 * 'training', kept and reused between calls; release() gives them back), plus one gradient
 * accumulator per adapter trained.
 */
import { LabError } from '../../errors';
import type { GpuModel, GpuAdapter } from './gpu-model';
import { LINEAR_NAMES, type LinearName, type LoraAdapter } from './weights';
import type { MemoryReport, PooledBuffer } from '../gpu/memory';
import { Recorder, type Program } from '../gpu/program';
import { cloneAdapter, zeroGrads } from '../train/lora';
import { targetRows, type Floats, type LossFn, type LoraTensors, type TrainEngine, type TrainSequence } from '../train/engine';
import { adapterTargets, TrainGraph, type BatchInputs, type BatchShape, type GraphMode } from './gpu-train-graph';
import { score } from './generate';

export interface GpuTrainEngineOptions {
  /**
   * Keep only each layer's input in the forward and recompute the layer's activations just
   * before its backward: activation memory of one layer instead of all, for about one more
   * forward of compute per step. Default false.
   */
  recompute?: boolean;
  /**
   * Largest LM-head logits buffer in bytes (default 64 MiB): a batch with more target rows runs
   * the head in chunks of rows, recomputed in the backward.
   */
  headChunkBytes?: number;
}

/** What the engine trains on: LabEngine (whose views generate with the adapter) or a bare model (forModel). */
export interface TrainHost {
  /** Looked up on every call: a device-loss recovery replaces it. */
  readonly gpuModel: GpuModel;
  /** Adds or replaces an adapter on the model (LabEngine also remembers it for recovery). */
  setAdapter(adapter: LoraAdapter): Promise<void>;
}

interface GradSlot {
  layer: number;
  name: LinearName;
  a: { offset: number; n: number };
  b: { offset: number; n: number };
}

/** One adapter's gradient accumulators: one buffer, each tensor at an aligned offset. */
interface GradBuffer {
  lora: GpuAdapter;
  buffer: PooledBuffer;
  slots: GradSlot[];
  bytes: number;
}

interface Batch {
  shape: BatchShape;
  inputs: BatchInputs;
  /** Per sequence: its first target row in the batch and its number of targets. */
  heads: { r0: number; n: number }[];
}

const PROGRAM_CACHE = 16;

export class GpuTrainEngine implements TrainEngine {
  private model: GpuModel | null = null;
  private graph: TrainGraph | null = null;
  private programs = new Map<string, { program: Program; deps: unknown[] }>();
  private grads = new Map<string, GradBuffer>();
  private peak = 0;
  /** Calls run one at a time: a batch's forward and backward share buffers. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: TrainHost,
    readonly opts: GpuTrainEngineOptions = {},
  ) {}

  /** An engine over a bare GpuModel (tests, benchmarks); in the app, pass the LabEngine. */
  static forModel(model: GpuModel, opts: GpuTrainEngineOptions = {}): GpuTrainEngine {
    return new GpuTrainEngine({ gpuModel: model, setAdapter: (a) => model.setAdapter(a) }, opts);
  }

  // ---- TrainEngine --------------------------------------------------------------------------

  logprobs(seqs: readonly TrainSequence[], adapter: string | null): Promise<Floats[]> {
    return this.serial(() => this.logprobsNow(seqs, adapter));
  }

  accumulateGradients(seqs: readonly TrainSequence[], adapter: string, loss: LossFn): Promise<number> {
    return this.serial(() => this.accumulateNow(seqs, adapter, loss));
  }

  takeGradients(adapter: string): Promise<LoraTensors> {
    return this.serial(() => this.takeGradientsNow(adapter));
  }

  /**
   * Log-probs as `logprobs` gives them, always through the training forward (every token of
   * every sequence, no prompt shared): the forward a training step builds on (benchmarks).
   */
  forwardLogprobs(seqs: readonly TrainSequence[], adapter: string | null): Promise<Floats[]> {
    return this.serial(() => this.logprobsNow(seqs, adapter, false));
  }

  async getAdapter(name: string): Promise<LoraAdapter> {
    return cloneAdapter(this.current().loadedAdapter(name).adapter);
  }

  setAdapter(adapter: LoraAdapter): Promise<void> {
    return this.serial(async () => {
      this.current();
      await this.host.setAdapter(cloneAdapter(adapter));
    });
  }

  // ---- memory -------------------------------------------------------------------------------

  /** The most GPU memory held at the end of a training call (weights, KV cache, adapters and training buffers). */
  get peakBytes(): number {
    return this.peak;
  }

  memoryReport(): MemoryReport {
    return this.current().gpu.memoryReport();
  }

  /** Frees the training buffers and gradient accumulators (accumulated gradients are lost). */
  release(): void {
    const gpu = this.model?.gpu;
    const alive = gpu?.alive ?? false;
    for (const p of this.programs.values()) if (alive) p.program.release();
    this.programs.clear();
    if (alive) {
      this.graph?.destroy();
      for (const g of this.grads.values()) gpu!.memory.destroy(g.buffer);
      gpu!.memory.trim();
    }
    this.graph = null;
    this.grads.clear();
  }

  /** The recorded forward and backward programs by key ('forward/…', 'backward/…'): profiling (bench/train-profile.ts). */
  get recordedPrograms(): ReadonlyMap<string, Program> {
    return new Map([...this.programs].map(([k, v]) => [k, v.program]));
  }

  // ---- internals ----------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async logprobsNow(seqs: readonly TrainSequence[], adapter: string | null, sharePrompts = true): Promise<Floats[]> {
    const model = this.current();
    const lora = adapter === null ? null : model.loadedAdapter(adapter);
    // No gradients needed: sequences scored on one suffix (a prompt, then the response: DPO)
    // can take the inference path, which shares prompts.
    const starts = seqs.map(suffixStart);
    if (sharePrompts && starts.every((s) => s !== null)) {
      const jobs = seqs.map((q, i) => ({ prompt: q.tokens.slice(0, starts[i]!), response: q.tokens.slice(starts[i]!) }));
      return (await score(model, jobs, { adapters: adapter === null ? [] : [adapter] })).map((s) => s.tokenLogprobs);
    }
    const batch = this.layout(seqs);
    if (batch.shape.R === 0) return seqs.map(() => new Float32Array(0));
    return this.forward(await this.graphFor(batch.shape, 'infer', lora), batch, lora);
  }

  private async accumulateNow(seqs: readonly TrainSequence[], adapter: string, loss: LossFn): Promise<number> {
    const model = this.current();
    const lora = model.loadedAdapter(adapter);
    const batch = this.layout(seqs);
    const mode: GraphMode = this.opts.recompute ? 'recompute' : 'save';
    const graph = batch.shape.R > 0 ? await this.graphFor(batch.shape, mode, lora) : null;
    const logprobs = graph ? await this.forward(graph, batch, lora) : seqs.map(() => new Float32Array(0));
    const { loss: value, dlogprobs } = loss(logprobs);
    if (dlogprobs.length !== seqs.length) throw new LabError('internal', `The loss returned ${dlogprobs.length} gradients for ${seqs.length} sequences.`);
    if (!graph) return value;
    // losses = −logp  ⇒  dlosses = −dlogp
    const dlosses = new Float32Array(batch.shape.R);
    batch.heads.forEach(({ r0, n }, i) => {
      if (dlogprobs[i].length !== n) throw new LabError('internal', `The loss returned ${dlogprobs[i].length} gradients for ${n} tokens.`);
      for (let j = 0; j < n; j++) dlosses[r0 + j] = -dlogprobs[i][j];
    });
    const grads = await this.gradBuffer(adapter, lora);
    const gpu = model.gpu;
    gpu.write(graph.dlosses.buffer, 0, dlosses);
    const program = this.program(`backward/${graph.cap.mode}/${shapeKey(batch.shape)}/${adapter}`, [graph, lora, grads], (rec) =>
      graph.recordBackward(rec, batch.shape, lora, (layer, name) => {
        const s = grads.slots.find((x) => x.layer === layer && x.name === name);
        return s ? { a: { buffer: grads.buffer.buffer, offset: s.a.offset, size: s.a.n * 4 }, b: { buffer: grads.buffer.buffer, offset: s.b.offset, size: s.b.n * 4 } } : null;
      }),
    );
    program.run();
    await gpu.check();
    this.notePeak();
    return value;
  }

  private async takeGradientsNow(adapter: string): Promise<LoraTensors> {
    const model = this.current();
    const lora = model.loadedAdapter(adapter);
    const g = this.grads.get(adapter);
    if (!g || g.lora !== lora) return zeroGrads(lora.adapter);
    const gpu = model.gpu;
    const data = await gpu.read(g.buffer.buffer, 0, g.bytes);
    const enc = gpu.device.createCommandEncoder();
    enc.clearBuffer(g.buffer.buffer, 0, g.buffer.size);
    gpu.submit([enc.finish()]);
    const out: LoraTensors = lora.adapter.layers.map(() => ({}));
    for (const s of g.slots) {
      out[s.layer][s.name] = { a: new Float32Array(data.slice(s.a.offset, s.a.offset + s.a.n * 4)), b: new Float32Array(data.slice(s.b.offset, s.b.offset + s.b.n * 4)) };
    }
    return out;
  }


  /** The host's model; everything held for a previous one (before a device loss) is dropped. */
  private current(): GpuModel {
    const m = this.host.gpuModel;
    if (m !== this.model) {
      this.release();
      this.model = m;
    }
    m.gpu.assertAlive();
    return m;
  }

  private notePeak(): void {
    this.peak = Math.max(this.peak, this.current().gpu.memoryReport().totalBytes);
  }

  /** Rows of every sequence with trained tokens, back to back; the head rows that predict them. */
  private layout(seqs: readonly TrainSequence[]): Batch {
    const m = this.model!;
    const V = m.config.vocabSize;
    const used: { seq: TrainSequence; rows: number[]; targets: number[] }[] = [];
    const heads: Batch['heads'] = [];
    let R = 0;
    for (const seq of seqs) {
      if (seq.mask.length !== seq.tokens.length) throw new LabError('invalid-input', `A training sequence has ${seq.tokens.length} tokens but a mask of ${seq.mask.length}.`);
      for (const t of seq.tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= V) throw new LabError('invalid-input', `Token id ${t} is outside the vocabulary (0..${V - 1}).`);
      }
      const { rows, targets } = targetRows(seq);
      heads.push({ r0: R, n: rows.length });
      R += rows.length;
      if (rows.length === 0) continue;
      if (seq.tokens.length > m.contextLength) {
        throw new LabError('invalid-input', `A training sequence has ${seq.tokens.length} tokens; the model's usable context is ${m.contextLength}. Shorten the data or load the model with a longer context.`);
      }
      used.push({ seq, rows, targets });
    }
    const T = used.reduce((n, u) => n + u.seq.tokens.length, 0);
    const maxLen = used.reduce((n, u) => Math.max(n, u.seq.tokens.length), 0);
    const nSeq = used.length;
    const inputs: BatchInputs = {
      tokens: new Uint32Array(T),
      positions: new Uint32Array(T),
      rowSeq: new Uint32Array(T),
      segStart: new Uint32Array(T),
      segEnd: new Uint32Array(T),
      pageTable: new Uint32Array(Math.max(1, nSeq * maxLen)),
      headRows: new Uint32Array(R),
      targets: new Uint32Array(R),
    };
    let t0 = 0;
    let r = 0;
    used.forEach(({ seq, rows, targets }, s) => {
      const n = seq.tokens.length;
      for (let i = 0; i < n; i++) {
        inputs.tokens[t0 + i] = seq.tokens[i];
        inputs.positions[t0 + i] = i;
        inputs.pageTable[s * maxLen + i] = t0 + i;
      }
      inputs.rowSeq.fill(s, t0, t0 + n);
      inputs.segStart.fill(t0, t0, t0 + n);
      inputs.segEnd.fill(t0 + n, t0, t0 + n);
      rows.forEach((row, j) => {
        inputs.headRows[r] = t0 + row;
        inputs.targets[r++] = targets[j];
      });
      t0 += n;
    });
    return { shape: { T, R, nSeq, maxLen }, inputs, heads };
  }

  /** Training buffers that fit the batch (they only grow, and a gradient-keeping mode sticks). */
  private async graphFor(shape: BatchShape, mode: GraphMode, lora: GpuAdapter | null): Promise<TrainGraph> {
    const m = this.model!;
    const rank = lora?.adapter.rank ?? 0;
    const targets = lora ? adapterTargets(lora) : [];
    const g = this.graph;
    if (g && g.fits(shape, mode, rank, targets)) return g;
    const old = g?.cap;
    const round = (n: number) => Math.ceil(n / 32) * 32;
    const R = round(Math.max(shape.R, old?.R ?? 0));
    const headRows = Math.max(64, Math.floor((this.opts.headChunkBytes ?? 64 * 2 ** 20) / (m.config.vocabSize * 4) / 64) * 64);
    const cap = {
      T: round(Math.max(shape.T, old?.T ?? 0)),
      R,
      Rc: R <= headRows ? R : headRows,
      pages: Math.max(shape.nSeq * shape.maxLen, old?.pages ?? 0),
      mode: mode !== 'infer' ? mode : (old?.mode ?? 'infer'),
      rank: Math.max(rank, old?.rank ?? 0),
      targets: LINEAR_NAMES.filter((n) => targets.includes(n) || (old?.targets.includes(n) ?? false)),
    };
    this.releaseGraph();
    const made: { graph?: TrainGraph } = {};
    try {
      await m.gpu.guardOom(`the training buffers for ${shape.T} tokens`, () => void (made.graph = new TrainGraph(m, cap)));
    } catch (e) {
      made.graph?.destroy();
      throw e;
    }
    this.graph = made.graph!;
    return this.graph;
  }

  private releaseGraph(): void {
    if (!this.graph) return;
    for (const p of this.programs.values()) p.program.release();
    this.programs.clear();
    this.graph.destroy();
    this.graph = null;
  }

  /** Runs the forward; returns each sequence's log-probs of its masked tokens. */
  private async forward(graph: TrainGraph, batch: Batch, lora: GpuAdapter | null): Promise<Float32Array[]> {
    const gpu = this.model!.gpu;
    graph.write(batch.inputs);
    const program = this.program(`forward/${graph.cap.mode}/${shapeKey(batch.shape)}/${lora?.adapter.name ?? '-'}`, [graph, lora], (rec) => graph.recordForward(rec, batch.shape, lora));
    program.run();
    const losses = await gpu.readF32(graph.losses.buffer, 0, batch.shape.R);
    this.notePeak();
    return batch.heads.map(({ r0, n }) => {
      const lp = new Float32Array(n);
      for (let j = 0; j < n; j++) lp[j] = -losses[r0 + j];
      return lp;
    });
  }

  /** A recorded pass, cached by key while the buffers and adapters it binds (deps) are the same. */
  private program(key: string, deps: unknown[], record: (rec: Recorder) => void): Program {
    const hit = this.programs.get(key);
    if (hit && hit.deps.length === deps.length && hit.deps.every((d, i) => d === deps[i])) {
      this.programs.delete(key);
      this.programs.set(key, hit);
      return hit.program;
    }
    hit?.program.release();
    const rec = new Recorder(this.model!.gpu);
    record(rec);
    const program = rec.finish();
    this.programs.set(key, { program, deps });
    while (this.programs.size > PROGRAM_CACHE) {
      const [oldest, p] = this.programs.entries().next().value!;
      p.program.release();
      this.programs.delete(oldest);
    }
    return program;
  }

  /** The adapter's accumulators (zeroed when new; rebuilt if the adapter's shapes changed). */
  private async gradBuffer(name: string, lora: GpuAdapter): Promise<GradBuffer> {
    const held = this.grads.get(name);
    if (held && held.lora === lora) return held;
    const gpu = this.model!.gpu;
    if (held) gpu.memory.destroy(held.buffer);
    const align = Math.max(256, gpu.limits.minStorageBufferOffsetAlignment);
    const slots: GradSlot[] = [];
    let bytes = 0;
    const place = (n: number) => {
      const offset = bytes;
      bytes = Math.ceil((offset + n * 4) / align) * align;
      return { offset, n };
    };
    lora.adapter.layers.forEach((layer, l) => {
      for (const n of LINEAR_NAMES) {
        const ab = layer[n];
        if (ab) slots.push({ layer: l, name: n, a: place(ab.a.length), b: place(ab.b.length) });
      }
    });
    const buffer = await gpu.guardOom(`the gradients of adapter "${name}"`, () => gpu.storage(bytes, 'training', `${name} gradients`));
    const enc = gpu.device.createCommandEncoder();
    enc.clearBuffer(buffer.buffer, 0, buffer.size);
    gpu.submit([enc.finish()]);
    const g = { lora, buffer, slots, bytes };
    this.grads.set(name, g);
    return g;
  }
}

/** Where a sequence's masked tokens start if they are exactly its last tokens (at least one unmasked before); null otherwise. */
function suffixStart(seq: TrainSequence): number | null {
  if (seq.mask.length !== seq.tokens.length) return null;
  let start = seq.mask.indexOf(1);
  if (start < 0) start = seq.mask.length;
  if (start < 1) return null;
  for (let t = start; t < seq.mask.length; t++) if (!seq.mask[t]) return null;
  return start;
}

function shapeKey(s: BatchShape): string {
  return `${s.T}/${s.R}/${s.nSeq}/${s.maxLen}`;
}
