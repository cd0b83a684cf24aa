/**
 * The training passes of the GPU model: a forward over a batch of whole sequences that keeps
 * what the backward needs, and the backward, walking the layers in reverse like llm.c's
 * gpt2_backward (and cpu/model.ts CpuModel.backward, its reference). Activation gradients flow
 * through every op; weight gradients are computed for the trained LoRA adapter's A and B only
 * (the base is frozen, so its linears need only dx = dy·W, dequantized in the kernel for f16 and
 * q4 bases: QLoRA-style).
 *
 * A batch is the rows of several sequences, each a contiguous segment at positions 0..len-1
 * (a DPO pair's chosen and rejected, or a micro-batch of chats). Attention runs over the
 * segments through the paged-attention kernels, with one-position pages pointing at the
 * segment's own rows; its backward reads keys and values straight from the saved q|k|v.
 *
 * What the forward keeps (llm.c's ActivationTensors), per layer:
 *   x     [T, C]     residual stream entering the layer (xs[l]; xs[L] leaves the last one)
 *   xn1   [T, C]     input norm          qkv [T, QKVW]  q|k|v after bias and RoPE
 *   att   [T, QD]    attention output    res2 [T, C]    x + o_proj(att)
 *   xn2   [T, C]     post-attention norm gu  [T, 2I]    gate|up     h [T, I]  silu(gate)·up
 *   xa    [T, r]     x·Aᵀ of each LoRA-targeted linear
 * 'save' keeps all of it for every layer; 'recompute' keeps only xs and rebuilds one layer's
 * activations from its input just before that layer's backward (one layer's activations held
 * instead of L, for about one more forward of compute). RMSNorm's rstd is recomputed by its
 * backward kernel, attention's probabilities by its own (flash-attention style).
 *
 * The LM head runs only on the R rows that predict a trained token, in chunks whose logits
 * buffer stays under a byte budget; with a single chunk (and in 'save' mode) the forward's
 * logits are overwritten in place by their gradient, otherwise the backward recomputes each
 * chunk's logits.
 *
 * Shapes: T rows, R target rows, C hidden, V vocab, NH/NKV heads, D head dim, QD = NH·D,
 * KVD = NKV·D, QKVW = QD + 2·KVD, I SwiGLU width, r LoRA rank, L layers.
 */
import { LINEAR_NAMES, type LinearName } from './weights';
import { fusedColumns, type GpuAdapter, type GpuModel } from './gpu-model';
import type { Gpu } from '../gpu/device';
import type { PooledBuffer } from '../gpu/memory';
import type { Binding, Recorder } from '../gpu/program';
import { embeddingForward } from '../gpu/embedding';
import { rmsnormBackward, rmsnormForward } from '../gpu/rmsnorm';
import { matmulBackward, matmulForward } from '../gpu/matmul';
import { loraBackward, loraForward } from '../gpu/lora';
import { ropeBackward, ropeForward } from '../gpu/rope';
import { attentionBackward, attentionForward, kvcacheWrite, type KvIndex } from '../gpu/attention';
import { swigluBackward, swigluForward } from '../gpu/swiglu';
import { crossEntropyBackward, crossEntropyForward } from '../gpu/cross-entropy';

/** How a gradient-keeping forward keeps activations; 'infer' keeps nothing (log-probs only). */
export type GraphMode = 'save' | 'recompute' | 'infer';

/** The sizes a recorded pass is specific to. */
export interface BatchShape {
  T: number;
  R: number;
  /** Sequences (segments) and the longest one: the page table is [nSeq, maxLen]. */
  nSeq: number;
  maxLen: number;
}

/** Per-call inputs, written before a pass runs. */
export interface BatchInputs {
  tokens: Uint32Array; // [T]
  positions: Uint32Array; // [T] position within its sequence
  rowSeq: Uint32Array; // [T] segment index
  segStart: Uint32Array; // [T] first row of its segment
  segEnd: Uint32Array; // [T] one past its segment's last row
  pageTable: Uint32Array; // [nSeq, maxLen] row holding each position
  headRows: Uint32Array; // [R] rows whose logits predict a target
  targets: Uint32Array; // [R]
}

/** Where the trained adapter's gradients go: dA [r, IC] and dB [OC, r] of a targeted linear. */
export type GradTarget = (layer: number, name: LinearName) => { a: Binding; b: Binding } | null;

interface LayerActs {
  xn1: PooledBuffer;
  qkv: PooledBuffer;
  att: PooledBuffer;
  res2: PooledBuffer;
  xn2: PooledBuffer;
  gu: PooledBuffer;
  h: PooledBuffer;
  xa: Partial<Record<LinearName, PooledBuffer>>;
}

/** Capacity of a set of buffers; a batch that does not fit gets new ones. */
export interface GraphCapacity {
  T: number;
  R: number;
  /** Rows per LM-head chunk. */
  Rc: number;
  pages: number;
  mode: GraphMode;
  /** The adapter whose x·Aᵀ are kept ('save': one buffer per targeted linear and layer). */
  rank: number;
  targets: readonly LinearName[];
}

/** Inputs of each linear: x [T, IC] in one of the layer's activations. */
const INPUT_OF: Record<LinearName, 'xn1' | 'att' | 'xn2' | 'h'> = { q: 'xn1', k: 'xn1', v: 'xn1', o: 'att', gate: 'xn2', up: 'xn2', down: 'h' };

/**
 * The buffers of training passes over one model for a capacity, and the recording of the passes.
 * Everything it allocates is in the memory category 'training'.
 */
export class TrainGraph {
  private readonly owned: PooledBuffer[] = [];
  private readonly gpu: Gpu;
  // inputs
  private readonly tokens: PooledBuffer;
  private readonly positions: PooledBuffer;
  private readonly rowSeq: PooledBuffer;
  private readonly segStart: PooledBuffer;
  private readonly segEnd: PooledBuffer;
  private readonly pageTable: PooledBuffer;
  private readonly headRows: PooledBuffer;
  private readonly targets: PooledBuffer;
  // forward
  /** Residual stream: xs[l] enters layer l, xs[L] leaves the last ('infer': one buffer, updated in place). */
  private readonly xs: PooledBuffer[];
  private readonly acts: LayerActs[];
  private readonly kc: PooledBuffer;
  private readonly vc: PooledBuffer;
  private readonly lnf: PooledBuffer;
  private readonly logits: PooledBuffer;
  /** [R] −log p(target) of each head row: what the host reads back. */
  readonly losses: PooledBuffer;
  private readonly lse: PooledBuffer;
  // backward
  /** [R] d loss / d losses, written by the host. */
  readonly dlosses: PooledBuffer;
  private readonly dx: PooledBuffer;
  private readonly dxn: PooledBuffer;
  private readonly dqkv: PooledBuffer;
  private readonly datt: PooledBuffer;
  private readonly dgu: PooledBuffer;
  private readonly dh: PooledBuffer;
  private readonly dxa: PooledBuffer;
  private readonly dlnf: PooledBuffer;
  private readonly attLse: PooledBuffer;
  private readonly attDelta: PooledBuffer;

  constructor(
    readonly model: GpuModel,
    readonly cap: GraphCapacity,
  ) {
    const c = model.config;
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V, numLayers: L } = c;
    const QD = NH * D;
    const KVD = NKV * D;
    const QKVW = QD + 2 * KVD;
    this.gpu = model.gpu;
    const { T, R, Rc, mode } = cap;
    const r = Math.max(1, cap.rank);
    const f = (n: number, label: string) => {
      const b = this.gpu.storage(Math.max(16, n * 4), 'training', `train ${label}`);
      this.owned.push(b);
      return b;
    };
    this.tokens = f(T, 'tokens');
    this.positions = f(T, 'positions');
    this.rowSeq = f(T, 'row seq');
    this.segStart = f(T, 'segment start');
    this.segEnd = f(T, 'segment end');
    this.pageTable = f(cap.pages, 'page table');
    this.headRows = f(R, 'head rows');
    this.targets = f(R, 'targets');
    this.xs = Array.from({ length: mode === 'infer' ? 1 : L + 1 }, (_, l) => f(T * C, `x${l}`));
    const layerActs = (l: number, keepXa: boolean): LayerActs => ({
      xn1: f(T * C, `layer ${l} xn1`),
      qkv: f(T * QKVW, `layer ${l} qkv`),
      att: f(T * QD, `layer ${l} att`),
      res2: f(T * C, `layer ${l} res2`),
      xn2: f(T * C, `layer ${l} xn2`),
      gu: f(T * 2 * I, `layer ${l} gate_up`),
      h: f(T * I, `layer ${l} h`),
      xa: keepXa ? Object.fromEntries(cap.targets.map((n) => [n, f(T * r, `layer ${l} ${n} xa`)])) : {},
    });
    // 'infer' and 'recompute' share one set of layer activations; 'infer' needs one x·Aᵀ scratch.
    this.acts = mode === 'save' ? Array.from({ length: L }, (_, l) => layerActs(l, true)) : [layerActs(0, mode === 'recompute')];
    this.kc = f(T * KVD, 'k');
    this.vc = f(T * KVD, 'v');
    this.lnf = f(Rc * C, 'lnf');
    this.logits = f(Rc * V, 'logits');
    this.losses = f(R, 'losses');
    this.lse = f(2 * R, 'lse');
    this.dxa = f(T * r, 'dxa');
    // Backward-only buffers; an 'infer' graph never records a backward, so it allocates none
    // (the fields point at the x·Aᵀ scratch and are never bound).
    const train = mode !== 'infer';
    const g = (n: number, label: string) => (train ? f(n, label) : this.dxa);
    this.dlosses = g(R, 'dlosses');
    this.dx = g(T * C, 'dx');
    this.dxn = g(T * C, 'dxn');
    this.dqkv = g(T * QKVW, 'dqkv');
    this.datt = g(T * QD, 'datt');
    this.dgu = g(T * 2 * I, 'dgate_up');
    this.dh = g(T * I, 'dh');
    this.dlnf = g(Rc * C, 'dlnf');
    this.attLse = g(2 * T * NH, 'attention max and sum');
    this.attDelta = g(T * NH, 'attention delta');
  }

  /**
   * Whether a batch fits these buffers: any of them can run a forward without gradients; a
   * gradient-keeping one needs its mode and room for the adapter's x·Aᵀ.
   */
  fits(shape: BatchShape, mode: GraphMode, rank: number, targets: readonly LinearName[]): boolean {
    const c = this.cap;
    const modeOk = mode === 'infer' || c.mode === mode;
    const loraOk = rank <= Math.max(1, c.rank) && (mode === 'infer' || targets.every((t) => c.targets.includes(t)));
    return modeOk && loraOk && shape.T <= c.T && shape.R <= c.R && shape.nSeq * shape.maxLen <= c.pages;
  }

  write(inputs: BatchInputs): void {
    const g = this.gpu;
    g.write(this.tokens.buffer, 0, inputs.tokens);
    g.write(this.positions.buffer, 0, inputs.positions);
    g.write(this.rowSeq.buffer, 0, inputs.rowSeq);
    g.write(this.segStart.buffer, 0, inputs.segStart);
    g.write(this.segEnd.buffer, 0, inputs.segEnd);
    g.write(this.pageTable.buffer, 0, inputs.pageTable);
    g.write(this.headRows.buffer, 0, inputs.headRows);
    g.write(this.targets.buffer, 0, inputs.targets);
  }

  destroy(): void {
    for (const b of this.owned.splice(0)) this.gpu.memory.destroy(b);
  }

  // ---- recording --------------------------------------------------------------------------

  private at(b: PooledBuffer, rows: number): Binding {
    return { buffer: b.buffer, offset: rows * 4 };
  }

  private kvIndex(shape: BatchShape): KvIndex {
    return { pageTable: this.pageTable, maxPages: shape.maxLen, pageSize: 1, rowSeq: this.rowSeq, positions: this.positions };
  }

  /** The activations layer l reads and writes ('save': its own; otherwise the shared set). */
  private actsOf(l: number): LayerActs {
    return this.acts[this.cap.mode === 'save' ? l : 0];
  }

  /**
   * Forward of the batch: embedding, the layers (with `lora` applied, or the base alone), then
   * the LM head on the target rows: losses[i] = −log p(targets[i]).
   */
  recordForward(rec: Recorder, shape: BatchShape, lora: GpuAdapter | null): void {
    const m = this.model;
    const { T } = shape;
    const infer = this.cap.mode === 'infer';
    embeddingForward(rec, this.xs[0], this.tokens, m.uploaded.embed, T);
    for (let l = 0; l < m.config.numLayers; l++) {
      const xIn = this.xs[infer ? 0 : l];
      this.recordLayer(rec, shape, l, xIn, infer ? xIn : this.actsOf(l).res2, infer ? xIn : this.xs[l + 1], lora);
    }
    this.forEachChunk(shape, (c0, rc) => {
      this.recordLogits(rec, c0, rc);
      crossEntropyForward(rec, this.at(this.losses, c0), this.at(this.lse, 2 * c0), this.logits, this.at(this.targets, c0), rc, m.config.vocabSize);
    });
  }

  private forEachChunk(shape: BatchShape, fn: (c0: number, rc: number) => void): void {
    for (let c0 = 0; c0 < shape.R; c0 += this.cap.Rc) fn(c0, Math.min(this.cap.Rc, shape.R - c0));
  }

  /** logits [rc, V] of head rows c0..c0+rc-1. */
  private recordLogits(rec: Recorder, c0: number, rc: number): void {
    const m = this.model;
    const w = m.uploaded;
    rmsnormForward(rec, this.lnf, this.xs[this.xs.length - 1], w.finalNorm, rc, m.config.hiddenSize, m.config.rmsNormEps, this.at(this.headRows, c0));
    matmulForward(rec, this.logits, this.lnf, w.lmHead, rc);
  }

  /**
   * One decoder layer: res2 = xIn + o_proj(attention(…)), xOut = res2 + down(…) (buffers may be
   * the same for an in-place residual). xOut null: stop after what the backward needs (the
   * down projection's x·Aᵀ but not its output).
   */
  private recordLayer(rec: Recorder, shape: BatchShape, l: number, xIn: PooledBuffer, res2: PooledBuffer, xOut: PooledBuffer | null, lora: GpuAdapter | null): void {
    const m = this.model;
    const c = m.config;
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I } = c;
    const { T } = shape;
    const QD = NH * D;
    const KVD = NKV * D;
    const QKVW = QD + 2 * KVD;
    const L = m.uploaded.layers[l];
    const a = this.actsOf(l);
    const cols = fusedColumns(m.config);
    const adapterOn = (names: LinearName[], x: PooledBuffer, out: PooledBuffer) => {
      if (!lora) return;
      for (const name of names) {
        const ll = lora.layers[l][name];
        if (!ll) continue;
        const xa = a.xa[name] ?? this.dxa; // kept for backward, or scratch
        loraForward(rec, out, xa, x, ll, lora.adapter.scale, T, { xStride: ll.a.IC, outStride: cols[name].stride, outOffset: cols[name].offset });
      }
    };
    rmsnormForward(rec, a.xn1, xIn, L.inputNorm, T, C, c.rmsNormEps);
    matmulForward(rec, a.qkv, a.xn1, L.qkv, T, { bias: L.qkvBias });
    adapterOn(['q', 'k', 'v'], a.xn1, a.qkv);
    ropeForward(rec, a.qkv, this.positions, m.uploaded.rope, T, D, { stride: QKVW, off0: 0, n0: NH, off1: QD, n1: NKV });
    const kv = { k: this.kc, v: this.vc };
    const idx = this.kvIndex(shape);
    kvcacheWrite(rec, kv, a.qkv, idx, T, { width: KVD, stride: QKVW, kOff: QD, vOff: QD + KVD });
    attentionForward(rec, a.att, a.qkv, kv, idx, T, NH, NKV, D, { qStride: QKVW, qOff: 0 });
    if (res2 !== xIn) rec.copy(xIn.buffer, 0, res2.buffer, 0, T * C * 4);
    matmulForward(rec, res2, a.att, L.o, T, { accumulate: true });
    adapterOn(['o'], a.att, res2);
    rmsnormForward(rec, a.xn2, res2, L.postNorm, T, C, c.rmsNormEps);
    matmulForward(rec, a.gu, a.xn2, L.gateUp, T);
    adapterOn(['gate', 'up'], a.xn2, a.gu);
    swigluForward(rec, a.h, a.gu, T, I);
    if (xOut) {
      if (xOut !== res2) rec.copy(res2.buffer, 0, xOut.buffer, 0, T * C * 4);
      matmulForward(rec, xOut, a.h, L.down, T, { accumulate: true });
      adapterOn(['down'], a.h, xOut);
    } else {
      const ll = lora?.layers[l].down;
      if (ll && a.xa.down) matmulForward(rec, a.xa.down, a.h, ll.a, T);
    }
  }

  /**
   * Backward of a recorded forward, from dlosses (written by the host) down to the first layer's
   * input. LoRA gradients are added (+=) where `grads` points; the adapter must be the one the
   * forward applied, unchanged.
   */
  recordBackward(rec: Recorder, shape: BatchShape, lora: GpuAdapter, grads: GradTarget): void {
    if (this.cap.mode === 'infer') throw new Error('TrainGraph: an inference graph has no backward buffers');
    const m = this.model;
    const c = m.config;
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = c;
    const { T } = shape;
    const QD = NH * D;
    const KVD = NKV * D;
    const QKVW = QD + 2 * KVD;
    const w = m.uploaded;
    const xFinal = this.xs[c.numLayers];
    const reuseLogits = this.cap.Rc >= shape.R; // the forward's logits are still there

    // Head: logits = rmsnorm(xFinal[rows]) · lm_headᵀ, losses = cross-entropy(logits, targets).
    rec.clear(this.dx.buffer, 0, T * C * 4);
    this.forEachChunk(shape, (c0, rc) => {
      if (!reuseLogits) this.recordLogits(rec, c0, rc);
      crossEntropyBackward(rec, this.logits, this.at(this.dlosses, c0), this.logits, this.at(this.lse, 2 * c0), this.at(this.targets, c0), rc, V);
      matmulBackward(rec, this.dlnf, null, this.logits, null, w.lmHead, rc);
      rmsnormBackward(rec, this.dx, this.dlnf, xFinal, w.finalNorm, rc, C, c.rmsNormEps, { rows: this.at(this.headRows, c0), accumulate: true });
    });

    // dx: the gradient of the residual stream, carried down through the layers.
    const dx = this.dx;
    const cols = fusedColumns(m.config);
    for (let l = c.numLayers - 1; l >= 0; l--) {
      if (this.cap.mode === 'recompute') this.recordLayer(rec, shape, l, this.xs[l], this.acts[0].res2, null, lora);
      const L = w.layers[l];
      const a = this.actsOf(l);
      const adapterBack = (names: LinearName[], dIn: PooledBuffer | null, dOut: PooledBuffer) => {
        for (const name of names) {
          const ll = lora.layers[l][name];
          if (!ll) continue;
          loraBackward(rec, dIn, grads(l, name), dOut, a[INPUT_OF[name]], a.xa[name]!, this.dxa, ll, lora.adapter.scale, T, {
            xStride: ll.a.IC,
            doutStride: cols[name].stride,
            doutOffset: cols[name].offset,
          });
        }
      };
      // xOut = res2 + h·Wdownᵀ (+ LoRA): res2 gets dx as is (dx carries on), h gets dx·Wdown.
      matmulBackward(rec, this.dh, null, dx, null, L.down, T);
      adapterBack(['down'], this.dh, dx);
      // h = silu(gate)·up
      swigluBackward(rec, this.dgu, this.dh, a.gu, T, I);
      // gate|up = xn2·Wᵀ (+ LoRA)
      matmulBackward(rec, this.dxn, null, this.dgu, null, L.gateUp, T);
      adapterBack(['gate', 'up'], this.dxn, this.dgu);
      // xn2 = rmsnorm(res2): dx += …  (dx is now d res2)
      rmsnormBackward(rec, dx, this.dxn, a.res2, L.postNorm, T, C, c.rmsNormEps, { accumulate: true });
      // res2 = xIn + att·Woᵀ (+ LoRA): xIn gets dx as is, att gets dx·Wo.
      matmulBackward(rec, this.datt, null, dx, null, L.o, T);
      adapterBack(['o'], this.datt, dx);
      // att = attention(q, k, v) over each segment
      attentionBackward(rec, this.dqkv, this.datt, a.qkv, { start: this.segStart, end: this.segEnd }, { lse: this.attLse, delta: this.attDelta }, T, NH, NKV, D, {
        stride: QKVW,
        qOff: 0,
        kOff: QD,
        vOff: QD + KVD,
      });
      // q, k rotated in place
      ropeBackward(rec, this.dqkv, this.positions, w.rope, T, D, { stride: QKVW, off0: 0, n0: NH, off1: QD, n1: NKV });
      // q|k|v = xn1·Wᵀ + b (+ LoRA), bias frozen. Below the first layer is the frozen
      // embedding: there only the adapter's own gradients are left to compute.
      if (l === 0) {
        adapterBack(['q', 'k', 'v'], null, this.dqkv);
        break;
      }
      matmulBackward(rec, this.dxn, null, this.dqkv, null, L.qkv, T);
      adapterBack(['q', 'k', 'v'], this.dxn, this.dqkv);
      // xn1 = rmsnorm(xIn): dx += …  (dx is now d xIn, the previous layer's output)
      rmsnormBackward(rec, dx, this.dxn, this.xs[l], L.inputNorm, T, C, c.rmsNormEps, { accumulate: true });
    }
  }
}

/** The linears of an adapter, in the order of LINEAR_NAMES. */
export function adapterTargets(lora: GpuAdapter): LinearName[] {
  return LINEAR_NAMES.filter((n) => lora.layers.some((l) => l[n]));
}
