/**
 * Random weights in a real model's shapes and storage format, made fast enough for half a
 * billion parameters (tinyWeights hashes every f32 master value and would then need a second
 * pass to convert): each tensor is filled straight in its format from a xorshift stream. Values
 * are uniform with the usual 1/√fan-in scale, so activations stay finite; the bench needs the
 * shapes and bytes, not a trained model.
 *
 *   f32    as is
 *   f16    half bits drawn from a 4096-entry table of the tensor's distribution
 *   q4f16  MLC q4f16_1: 4-bit codes (0..14) packed 8 per u32, one f16 scale per 32 inputs (the
 *          embedding too, as mlc-llm quantizes it); norms and biases stay f32
 */
import { parseHfConfig, type ModelConfig } from '../src/engine/model/config';
import { f32ToF16Bits } from '../src/engine/model/dtypes';
import type { LayerWeights, ModelWeights, Tensor } from '../src/engine/model/weights';
import { MLC_GROUP_SIZE } from '../src/engine/load/mlc';
import { tinyConfigJson, type TinyModelOptions } from '../src/engine/tiny/tiny';

export type BenchFormat = 'f32' | 'f16' | 'q4f16';

/** A stream of uniform u32 values (xorshift32), fast enough to fill half a billion weights. */
export function xorshift(seed: number): () => number {
  let s = Math.imul(seed, 0x9e3779b9) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** A random [rows, cols] matrix with standard deviation `std`, stored as `format`. */
export function randomMatrix(rows: number, cols: number, std: number, format: BenchFormat, next: () => number): Tensor {
  const n = rows * cols;
  const halfWidth = std * Math.sqrt(3);
  const uniform = () => halfWidth * ((next() / 4294967296) * 2 - 1);
  if (format === 'f32') {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = uniform();
    return { dtype: 'f32', shape: [rows, cols], data };
  }
  if (format === 'f16') {
    const table = Uint16Array.from({ length: 4096 }, () => f32ToF16Bits(uniform()));
    const data = new Uint16Array(n);
    for (let i = 0; i < n; i++) data[i] = table[next() & 4095];
    return { dtype: 'f16', shape: [rows, cols], data };
  }
  // Codes uniform over 0..14 (value (code - 7) · scale), so |w| ≤ 7 · scale = halfWidth.
  const packed = new Uint32Array(n / 8);
  for (let i = 0; i < packed.length; i++) {
    let word = 0;
    for (let j = 0; j < 8; j++) word |= (next() % 15) << (4 * j);
    packed[i] = word >>> 0;
  }
  const scales = new Uint16Array(n / MLC_GROUP_SIZE).fill(f32ToF16Bits(halfWidth / 7));
  return { dtype: 'q4', shape: [rows, cols], packed, scales, scaleDtype: 'f16', groupSize: MLC_GROUP_SIZE };
}

/** Random weights of the model `opts` describes (any size), its matrices stored as `format`. */
export function benchWeights(opts: TinyModelOptions, format: BenchFormat, seed = 1): ModelWeights {
  const config: ModelConfig = parseHfConfig(tinyConfigJson(opts));
  const next = xorshift(seed);
  const matrix = (rows: number, cols: number, std: number) => randomMatrix(rows, cols, std, format, next);
  const vector = (n: number, center: number, std: number): Tensor => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = center + std * Math.sqrt(3) * ((next() / 4294967296) * 2 - 1);
    return { dtype: 'f32', shape: [n], data };
  };
  const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = config;
  const layers: LayerWeights[] = Array.from({ length: config.numLayers }, () => ({
    inputNorm: vector(C, 1, 0.1),
    q: matrix(NH * D, C, 1 / Math.sqrt(C)),
    k: matrix(NKV * D, C, 1 / Math.sqrt(C)),
    v: matrix(NKV * D, C, 1 / Math.sqrt(C)),
    qBias: config.attentionBias ? vector(NH * D, 0, 0.1) : null,
    kBias: config.attentionBias ? vector(NKV * D, 0, 0.1) : null,
    vBias: config.attentionBias ? vector(NKV * D, 0, 0.1) : null,
    o: matrix(C, NH * D, 1 / Math.sqrt(NH * D)),
    postNorm: vector(C, 1, 0.1),
    gate: matrix(I, C, 1 / Math.sqrt(C)),
    up: matrix(I, C, 1 / Math.sqrt(C)),
    down: matrix(C, I, 1 / Math.sqrt(I)),
  }));
  return {
    config,
    embed: matrix(V, C, 0.25),
    layers,
    finalNorm: vector(C, 1, 0.1),
    lmHead: config.tieWordEmbeddings ? null : matrix(V, C, 2 / Math.sqrt(C)),
  };
}

/** Bytes of weights one decode step reads (every linear and the head; norms aside). */
export function decodeWeightBytes(w: ModelWeights): number {
  const bytes = (t: Tensor) => (t.dtype === 'q4' ? t.packed.byteLength + t.scales.byteLength : t.data.byteLength);
  const head = w.lmHead ?? w.embed;
  return bytes(head) + w.layers.reduce((s, l) => s + [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce((a, t) => a + bytes(t), 0), 0);
}
