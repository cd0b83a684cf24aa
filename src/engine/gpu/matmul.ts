/**
 * out = x · Wᵀ (+ bias), the GPU twin of cpu/ops.ts matmulForward, for every weight format of
 * linear.ts (f32, f16, q4 with f32 or f16 scales; q4 is dequantized in the kernel).
 *
 * One kernel serves both prefill (tiled matmul) and decode (GEMV, T = batch): each thread owns
 * a register tile of TM rows × NO neighbouring outputs and walks the input dimension, reading
 * one word of Wᵀ per k (neighbouring threads read neighbouring words) and broadcasting x[t,k].
 * TM grows with T, so a decode batch of 16 reads the weights once for all 16 rows. No
 * workgroup memory or barriers: both are costly on software adapters, and the k-major layout
 * already gives coalesced weight reads on GPUs.
 *
 * Epilogue options make the linear layers cheap to chain: write into a column range of a wider
 * output (fused q|k|v, gate|up), accumulate into the output (residual stream, LoRA's B·scale).
 *
 * Shapes: x [T, xStride] (columns xOffset..xOffset+IC), out [T, outStride] (columns
 * outOffset..outOffset+OC), bias [OC] f32.
 */
import type { Binding, Recorder } from './program';
import type { GpuLinear, LinearSlice, WeightFormat } from './linear';
import { paramsWgsl, storageWgsl, unroll } from './wgsl';

export interface MatmulOptions {
  bias?: Binding | null;
  /** out += alpha · x·Wᵀ + bias instead of out = alpha · x·Wᵀ + bias. */
  accumulate?: boolean;
  alpha?: number;
  xStride?: number;
  xOffset?: number;
  outStride?: number;
  outOffset?: number;
  /** Rows per thread; chosen from T when absent (benchmarks try others). */
  tileRows?: number;
}

const PARAMS = {
  T: 'u32',
  IC: 'u32',
  np: 'u32',
  n: 'u32',
  o0: 'u32',
  xStride: 'u32',
  xOffset: 'u32',
  outStride: 'u32',
  outOffset: 'u32',
  groupSize: 'u32',
  alpha: 'f32',
} as const;

const WG = 64;

/** Outputs per thread: one 16-byte load of f32/f16 weights, one u32 of q4 codes. */
function outputsPerThread(f: WeightFormat): number {
  return f === 'f32' || f === 'f16' ? 4 : 8;
}

/** Rows per thread for T rows: the smallest power of two ≥ T, capped (register pressure). */
export function defaultTileRows(T: number, f: WeightFormat): number {
  const cap = f === 'f32' || f === 'f16' ? 16 : 8;
  let tm = 1;
  while (tm < T && tm < cap) tm *= 2;
  return tm;
}

export function matmulForward(rec: Recorder, out: Binding, x: Binding, w: GpuLinear, T: number, opts: MatmulOptions = {}): void {
  const TM = opts.tileRows ?? defaultTileRows(T, w.format);
  const NO = outputsPerThread(w.format);
  const bias = opts.bias ?? null;
  const acc = opts.accumulate ?? false;
  for (const s of w.slices) {
    rec.dispatch({
      key: `matmul/${w.format}/tm${TM}/${bias ? 'bias' : 'nobias'}/${acc ? 'add' : 'set'}`,
      source: () => matmulWgsl(w.format, TM, bias !== null, acc),
      params: PARAMS,
      values: {
        T,
        IC: w.IC,
        np: s.np,
        n: s.n,
        o0: s.o0,
        xStride: opts.xStride ?? w.IC,
        xOffset: opts.xOffset ?? 0,
        outStride: opts.outStride ?? w.OC,
        outOffset: opts.outOffset ?? 0,
        groupSize: w.groupSize || 1,
        alpha: opts.alpha ?? 1,
      },
      bindings: sliceBindings(x, s, bias, out),
      workgroups: [Math.ceil(s.np / NO / WG), Math.ceil(T / TM)],
    });
  }
}

function sliceBindings(x: Binding, s: LinearSlice, bias: Binding | null, out: Binding): Binding[] {
  const b: Binding[] = [x, s.data];
  if (s.scales) b.push(s.scales);
  if (bias) b.push(bias);
  b.push(out);
  return b;
}

function matmulWgsl(f: WeightFormat, TM: number, hasBias: boolean, accumulate: boolean): string {
  const NO = outputsPerThread(f);
  const wType = f === 'f32' ? 'vec4f' : f === 'f16' ? 'vec2u' : 'u32';
  const decls: [string, 'read' | 'read_write', string][] = [
    ['x', 'read', 'f32'],
    ['w', 'read', wType],
  ];
  if (f === 'q4f32') decls.push(['sc', 'read', 'vec4f']);
  if (f === 'q4f16') decls.push(['sc', 'read', 'vec4u']);
  if (hasBias) decls.push(['bias', 'read', 'f32']);
  decls.push(['out', 'read_write', 'f32']);
  const nv = NO / 4; // vec4 accumulators per row
  const accs = unroll(TM, (m) => unroll(nv, (v) => `var a${m}_${v} = vec4f(0.0);`, ' '));
  const rows = unroll(TM, (m) => `let xr${m} = min(t0 + ${m}u, P.T - 1u) * P.xStride + P.xOffset;`);
  // One k step: weights of NO outputs as vec4s w0 (w1), then TM FMAs each.
  const fmas = (kExpr: string) =>
    unroll(TM, (m) => `{ let xv = vec4f(x[xr${m} + ${kExpr}]); ${unroll(nv, (v) => `a${m}_${v} = fma(xv, w${v}, a${m}_${v});`, ' ')} }`);
  let loop: string;
  if (f === 'f32' || f === 'f16') {
    const load = f === 'f32' ? 'let w0 = w[k * wRow + ob];' : 'let p = w[k * wRow + ob]; let w0 = vec4f(unpack2x16float(p.x), unpack2x16float(p.y));';
    loop = `
  let wRow = P.np / 4u;
  for (var k = 0u; k < P.IC; k++) {
    ${load}
    ${fmas('k')}
  }`;
  } else {
    const scales =
      f === 'q4f32'
        ? 'let s0 = sc[g * (P.np / 4u) + ob * 2u]; let s1 = sc[g * (P.np / 4u) + ob * 2u + 1u];'
        : 'let sp = sc[g * (P.np / 8u) + ob]; let s0 = vec4f(unpack2x16float(sp.x), unpack2x16float(sp.y)); let s1 = vec4f(unpack2x16float(sp.z), unpack2x16float(sp.w));';
    loop = `
  let wRow = P.np / 8u;
  let G = (P.IC + P.groupSize - 1u) / P.groupSize;
  for (var g = 0u; g < G; g++) {
    ${scales}
    let kEnd = min((g + 1u) * P.groupSize, P.IC);
    for (var k = g * P.groupSize; k < kEnd; k++) {
      let q = w[k * wRow + ob];
      let w0 = (vec4f((vec4u(q) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 7.0) * s0;
      let w1 = (vec4f((vec4u(q) >> vec4u(16u, 20u, 24u, 28u)) & vec4u(15u)) - 7.0) * s1;
      ${fmas('k')}
    }
  }`;
  }
  const store = unroll(
    TM,
    (m) => `
  if (t0 + ${m}u < P.T) {
    ${unroll(nv, (v) => `store(t0 + ${m}u, ob * ${NO}u + ${v * 4}u, a${m}_${v});`, '\n    ')}
  }`,
  );
  return `${paramsWgsl(PARAMS)}${storageWgsl(decls)}
fn store(t: u32, j0: u32, acc: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    let j = j0 + i;
    if (j < P.n) {
      let o = P.o0 + j;
      let idx = t * P.outStride + P.outOffset + o;
      let v = P.alpha * acc[i]${hasBias ? ' + bias[o]' : ''};
      out[idx] = ${accumulate ? 'out[idx] + v' : 'v'};
    }
  }
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ob = gid.x; // block of ${NO} outputs
  let t0 = gid.y * ${TM}u;
  if (ob * ${NO}u >= P.np) { return; }
  ${rows}
  ${accs}
  ${loop}
  ${store}
}
`;
}
