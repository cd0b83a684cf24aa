/**
 * out = x · Wᵀ (+ bias), the GPU twin of cpu/ops.ts matmulForward, for every weight format of
 * linear.ts (f32, f16, q4 with f32 or f16 scales; q4 is dequantized in the kernel), and
 * matmulBackward (at the end of the file).
 *
 * One kernel serves both prefill (tiled matmul) and decode (GEMV, T = batch): each thread owns
 * a register tile of TM rows × 8·NB neighbouring outputs and walks the input dimension four k
 * at a time, reading the weights of its outputs (neighbouring threads read neighbouring words)
 * and broadcasting x[t, k]. TM grows with T (1 → 8, 16 for long prefill chunks), so a decode
 * batch reads each weight once per 8 rows. No workgroup memory or barriers: both are costly on
 * software adapters, and the k-major layout already gives coalesced weight reads on GPUs.
 * Tile sizes were chosen with `npm run bench` on SwiftShader.
 *
 * Epilogue options make the linear layers cheap to chain: write into a column range of a wider
 * output (fused q|k|v, gate|up), accumulate into the output (residual stream, LoRA's B·scale).
 *
 * Shapes: x [T, xStride] (columns xOffset..xOffset+IC), out [T, outStride] (columns
 * outOffset..outOffset+OC), bias [OC] f32.
 */
import type { Binding, Recorder } from './program';
import { PANEL, type GpuLinear, type LinearSlice, type WeightFormat } from './linear';
import { gridFor, paramsWgsl, storageWgsl, unroll } from './wgsl';

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
  /** Blocks of 8 outputs per thread (1 or 2); chosen from the tile rows when absent. */
  outputBlocks?: number;
  /** Threads per workgroup; chosen from the slice width when absent (benchmarks try others). */
  workgroupSize?: number;
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

/** Outputs per thread: two vec4 accumulators per row (a q4 word holds 8 outputs). */
const NO = 8;

/**
 * Rows per thread for T rows: the smallest power of two ≥ T up to 16. Measured on SwiftShader
 * (bench/matmul-tiles.ts, weights in panels): a 16 × 8 tile reads each weight once for a decode
 * batch of 9..16 rows, ~10% less CPU than two 8-row tiles (2× on lm_head-sized matrices before
 * the panel layout); 16 × 16 spills and loses.
 */
export function defaultTileRows(T: number): number {
  let tm = 1;
  while (tm < T && tm < 16) tm *= 2;
  return tm;
}

export function matmulForward(rec: Recorder, out: Binding, x: Binding, w: GpuLinear, T: number, opts: MatmulOptions = {}): void {
  const TM = opts.tileRows ?? defaultTileRows(T);
  // A single row (decode GEMV) takes 16 outputs per thread: measured ~2× the bandwidth of 8 on SwiftShader.
  const NB = opts.outputBlocks ?? (TM === 1 ? 2 : 1);
  const bias = opts.bias ?? null;
  const acc = opts.accumulate ?? false;
  const quad = rec.gpu.subgroups;
  for (const s of w.slices) {
    // Small slices get small workgroups: more of them to spread over the cores, and (with
    // quads, where spare threads run on clamped indices) less wasted work. 16-row tiles too:
    // measured up to 2× faster than 64 on decode shapes (load balance over few, long threads).
    const threads = Math.ceil(s.np / (NO * NB));
    const WG = opts.workgroupSize ?? (threads >= 256 && TM < 16 ? 64 : 16);
    rec.dispatch({
      key: `matmul/${w.format}/tm${TM}/nb${NB}/wg${WG}/${bias ? 'bias' : 'nobias'}/${acc ? 'add' : 'set'}/${quad ? 'quad' : 'plain'}`,
      source: () => matmulWgsl(w.format, TM, NB, WG, bias !== null, acc, quad),
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
      // Row tiles vary fastest, so the tiles that share a block of weights run back to back (cache).
      workgroups: [Math.ceil(T / TM), Math.ceil(s.np / (NO * NB) / WG)],
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

/**
 * Thread (b, row tile) owns NB blocks of 8 outputs, blocks ob_i = NB·b + i, for rows
 * t0 .. t0+TM-1: accumulators a{m}_{i}_0, a{m}_{i}_1 (vec4). Per input k it gets the 8 weights
 * of each block, Wᵀ[k, 8·ob_i ..], as two vec4s (lo, hi) and does 2·NB·TM vec4 FMAs.
 *
 * With `quad` (the device has subgroups) the four lanes of a quad, which share their rows, each
 * read one of four consecutive x values and broadcast it to the others: a quarter of the x
 * reads (software adapters pay per value read; ~25% faster there). Control flow stays uniform
 * for that: threads past the slice compute on clamped indices and store nothing.
 */
function matmulWgsl(f: WeightFormat, TM: number, NB: number, WG: number, hasBias: boolean, accumulate: boolean, quad: boolean): string {
  const wType = f === 'f32' ? 'vec4f' : f === 'f16' ? 'vec4u' : 'u32';
  // Words (of wType) per panel row of PANEL outputs, and per block of 8 outputs.
  const WS = f === 'f32' ? PANEL / 4 : PANEL / 8;
  const WB = f === 'f32' ? 2 : 1;
  const decls: [string, 'read' | 'read_write', string][] = [
    ['x', 'read', 'f32'],
    ['w', 'read', wType],
  ];
  if (f === 'q4f32') decls.push(['sc', 'read', 'vec4f']);
  if (f === 'q4f16') decls.push(['sc', 'read', 'vec4u']);
  if (hasBias) decls.push(['bias', 'read', 'f32']);
  decls.push(['out', 'read_write', 'f32']);
  const blocks = (fn: (i: number) => string, sep = '\n  ') => unroll(NB, fn, sep);
  const accs = unroll(TM, (m) => blocks((i) => `var a${m}_${i}_0 = vec4f(0.0); var a${m}_${i}_1 = vec4f(0.0);`, ' '));
  const rows = unroll(TM, (m) => `let xr${m} = min(t0 + ${m}u, P.T - 1u) * P.xStride + P.xOffset;`);
  // Weights of input k for block i as vec4s lo{i}_{j}, hi{i}_{j}; block i starts at word wb{i}
  // of its panel and a panel row is WS words (linear.ts).
  const loadW = (k: string, i: number, j: number | string): string => {
    const n = `${i}_${j}`;
    const at = `(${k}) * ${WS}u + wb${i}`;
    if (f === 'f32') return `let lo${n} = w[${at}]; let hi${n} = w[${at} + 1u];`;
    if (f === 'f16') {
      return `let p${n} = w[${at}]; let lo${n} = vec4f(unpack2x16float(p${n}.x), unpack2x16float(p${n}.y)); let hi${n} = vec4f(unpack2x16float(p${n}.z), unpack2x16float(p${n}.w));`;
    }
    return `let q${n} = vec4u(w[${at}]); let lo${n} = (vec4f((q${n} >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 7.0) * s${i}_0; let hi${n} = (vec4f((q${n} >> vec4u(16u, 20u, 24u, 28u)) & vec4u(15u)) - 7.0) * s${i}_1;`;
  };
  // Four inputs k0..k0+3 at once: x as vec4 per row.
  const x4 = (m: number, k: string) =>
    quad
      ? `let xq = x[xr${m} + ${k} + q]; let xv = vec4f(quadBroadcast(xq, 0), quadBroadcast(xq, 1), quadBroadcast(xq, 2), quadBroadcast(xq, 3));`
      : `let xv = vec4f(x[xr${m} + ${k}], x[xr${m} + ${k} + 1u], x[xr${m} + ${k} + 2u], x[xr${m} + ${k} + 3u]);`;
  const fma4 = (acc: string, w: string, i: number) =>
    `${acc} = fma(${w}${i}_0, vec4f(xv.x), fma(${w}${i}_1, vec4f(xv.y), fma(${w}${i}_2, vec4f(xv.z), fma(${w}${i}_3, vec4f(xv.w), ${acc}))));`;
  const step4 = (k: string) => `
      ${blocks((i) => unroll(4, (j) => loadW(`${k} + ${j}u`, i, j), '\n      '), '\n      ')}
      ${unroll(TM, (m) => `{ ${x4(m, k)}\n        ${blocks((i) => `${fma4(`a${m}_${i}_0`, 'lo', i)}\n        ${fma4(`a${m}_${i}_1`, 'hi', i)}`, '\n        ')} }`, '\n      ')}`;
  const step1 = (k: string) => `
      ${blocks((i) => loadW(k, i, 't'), '\n      ')}
      ${unroll(TM, (m) => `{ let xs = vec4f(x[xr${m} + ${k}]); ${blocks((i) => `a${m}_${i}_0 = fma(lo${i}_t, xs, a${m}_${i}_0); a${m}_${i}_1 = fma(hi${i}_t, xs, a${m}_${i}_1);`, ' ')} }`, '\n      ')}`;
  // k runs over [k0, k1): blocks of 4, then the rest one by one.
  const kRange = (k0: string, k1: string) => `
    var k = ${k0};
    for (; k + 4u <= ${k1}; k += 4u) {${step4('k')}
    }
    for (; k < ${k1}; k++) {${step1('k')}
    }`;
  let loop: string;
  if (f === 'f32' || f === 'f16') loop = kRange('0u', 'P.IC');
  else {
    const scales = (i: number) =>
      f === 'q4f32'
        ? `let s${i}_0 = sc[g * (P.np / 4u) + ob${i} * 2u]; let s${i}_1 = sc[g * (P.np / 4u) + ob${i} * 2u + 1u];`
        : `let sp${i} = sc[g * (P.np / 8u) + ob${i}]; let s${i}_0 = vec4f(unpack2x16float(sp${i}.x), unpack2x16float(sp${i}.y)); let s${i}_1 = vec4f(unpack2x16float(sp${i}.z), unpack2x16float(sp${i}.w));`;
    loop = `let G = (P.IC + P.groupSize - 1u) / P.groupSize;
  for (var g = 0u; g < G; g++) {
    ${blocks(scales, '\n    ')}
    {${kRange('g * P.groupSize', 'min((g + 1u) * P.groupSize, P.IC)')}
    }
  }`;
  }
  const store = unroll(
    TM,
    (m) => `if (t0 + ${m}u < P.T) {\n    ${blocks((i) => `if (live${i}) { store(t0 + ${m}u, ob${i} * 8u, a${m}_${i}_0); store(t0 + ${m}u, ob${i} * 8u + 4u, a${m}_${i}_1); }`, '\n    ')}\n  }`,
  );
  return `${quad ? 'enable subgroups;\n' : ''}${paramsWgsl(PARAMS)}${storageWgsl(decls)}
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
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${quad ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let thread = wid.y * ${WG}u + li;
  // Blocks of 8 outputs; past the slice: clamped for loads, never stored (see above).
  ${blocks((i) => `let live${i} = (thread * ${NB}u + ${i}u) * 8u < P.np; let ob${i} = min(thread * ${NB}u + ${i}u, P.np / 8u - 1u);
  let wb${i} = (ob${i} / ${PANEL / 8}u) * P.IC * ${WS}u + (ob${i} % ${PANEL / 8}u) * ${WB}u;`)}
  let t0 = wid.x * ${TM}u;
  ${quad ? 'let q = lane & 3u;' : 'if (!live0) { return; }'}
  ${rows}
  ${accs}
  ${loop}
  ${store}
}
`;
}

// ---- backward ------------------------------------------------------------------------------

export interface MatmulBackwardOptions {
  /** dx += … instead of dx = … (dw always adds: it is a gradient accumulator). */
  accumulate?: boolean;
  /** Scales both gradients (the forward's alpha). */
  alpha?: number;
  doutStride?: number;
  doutOffset?: number;
  xStride?: number;
  xOffset?: number;
  dxStride?: number;
  dxOffset?: number;
  /** Rows and inputs per thread of the dx kernel (chosen from T and the format when absent; benchmarks try others). */
  tileRows?: number;
  tileInputs?: number;
}

const DX_PARAMS = {
  T: 'u32',
  IC: 'u32',
  np: 'u32',
  n: 'u32',
  o0: 'u32',
  doutStride: 'u32',
  doutOffset: 'u32',
  dxStride: 'u32',
  dxOffset: 'u32',
  groupSize: 'u32',
  alpha: 'f32',
  /** 1: dx += …, 0: dx = … (a parameter, not a variant: the big tiles are slow to compile). */
  accumulate: 'u32',
} as const;

const DW_PARAMS = { T: 'u32', OC: 'u32', IC: 'u32', doutStride: 'u32', doutOffset: 'u32', xStride: 'u32', xOffset: 'u32', alpha: 'f32' } as const;


/**
 * Backward of matmulForward (bias frozen):
 *   out[t,o] = α Σ_i x[t,i]·W[o,i]  ⇒  dx[t,i] (+)= α Σ_o dout[t,o]·W[o,i],  dw[o,i] += α Σ_t dout[t,o]·x[t,i]
 * dx needs only W, in any format (a frozen base's linears, q4 dequantized in the kernel: QLoRA);
 * dw (null for frozen weights; LoRA's A and B have one) is dense row-major [OC, IC] f32 and
 * needs x. Shapes: dout [T, doutStride] (columns doutOffset..+OC), x [T, xStride] (columns
 * xOffset..+IC), dx [T, dxStride] (columns dxOffset..+IC).
 */
export function matmulBackward(rec: Recorder, dx: Binding | null, dw: Binding | null, dout: Binding, x: Binding | null, w: GpuLinear, T: number, opts: MatmulBackwardOptions = {}): void {
  const doutStride = opts.doutStride ?? w.OC;
  const doutOffset = opts.doutOffset ?? 0;
  const alpha = opts.alpha ?? 1;
  if (dx) {
    // Big tiles for training-sized batches (where they pay for their compile time), small ones
    // for a few rows. A thread's NI inputs share their q4 scales: groups are multiples of 8
    // inputs (model/dtypes.ts), so NI is 4, 8 or 16 where the group allows.
    const big = T >= 64;
    const TM = opts.tileRows ?? (big ? 16 : Math.min(4, 2 ** Math.ceil(Math.log2(Math.max(1, T)))));
    const NI = opts.tileInputs ?? (!big ? 4 : w.IC >= 16 && (!w.format.startsWith('q4') || w.groupSize % 16 === 0) ? 16 : 8);
    if (w.format.startsWith('q4') && w.groupSize % NI !== 0) throw new Error(`matmulBackward: q4 groups of ${w.groupSize} inputs`);
    const aligned = doutStride % 4 === 0 && doutOffset % 4 === 0;
    const threads = Math.ceil(w.IC / NI);
    const WG = threads >= 256 ? 64 : 16;
    w.slices.forEach((s, si) => {
      const acc = si > 0 || (opts.accumulate ?? false);
      rec.dispatch({
        key: `matmul-dx/${w.format}/tm${TM}/ni${NI}/wg${WG}/${aligned ? 'vec4' : 'scalar'}`,
        source: () => matmulDxWgsl(w.format, TM, NI, WG, aligned),
        params: DX_PARAMS,
        values: {
          T,
          IC: w.IC,
          np: s.np,
          n: s.n,
          o0: s.o0,
          doutStride,
          doutOffset,
          dxStride: opts.dxStride ?? w.IC,
          dxOffset: opts.dxOffset ?? 0,
          groupSize: w.groupSize || 1,
          alpha,
          accumulate: acc ? 1 : 0,
        },
        bindings: s.scales ? [dout, s.data, s.scales, dx] : [dout, s.data, dx],
        workgroups: [Math.ceil(T / TM), Math.ceil(threads / WG)],
      });
    });
  }
  if (dw) {
    if (!x) throw new Error('matmulBackward: dw needs x');
    const threads = Math.ceil(w.OC / 4) * Math.ceil(w.IC / 4);
    rec.dispatch({
      key: 'matmul-dw',
      source: matmulDwWgsl,
      params: DW_PARAMS,
      values: { T, OC: w.OC, IC: w.IC, doutStride, doutOffset, xStride: opts.xStride ?? w.IC, xOffset: opts.xOffset ?? 0, alpha },
      bindings: [dout, x, dw],
      workgroups: gridFor(Math.ceil(threads / 64)),
    });
  }
}

/**
 * dx: thread (input block, row tile) owns inputs i0..i0+NI-1 of rows t0..t0+TM-1 and walks the
 * slice's outputs 8 at a time: within a panel (linear.ts), input i's weights are contiguous along
 * the outputs, like a row of dout, so both are read as vec4s and their dot products summed into TM·NI scalar
 * accumulators. Every thread of a workgroup reads the same dout rows (uniform loads) and its own
 * rows of Wᵀ. Measured on SwiftShader (T = 256, 512 → 1536, against the forward kernel's
 * FLOP/s): 4 × 4 rows × inputs ~45%, 16 × 8 ~60%, 16 × 16 ~80% (1.8 s to compile), 32 × 32
 * ~105% (12 s to compile); batches of 64+ rows take 16 × 16. Outputs past the last
 * multiple of 8 go one by one (dout has no padding). The thread's inputs lie in one q4 group, so
 * they share the scales of each block of outputs.
 */
function matmulDxWgsl(f: WeightFormat, TM: number, NI: number, WG: number, aligned: boolean): string {
  const wType = f === 'f32' ? 'vec4f' : f === 'f16' ? 'vec4u' : 'u32';
  const decls: [string, 'read' | 'read_write', string][] = [
    ['dout', 'read', aligned ? 'vec4f' : 'f32'],
    ['w', 'read', wType],
  ];
  if (f === 'q4f32') decls.push(['sc', 'read', 'vec4f']);
  if (f === 'q4f16') decls.push(['sc', 'read', 'vec4u']);
  decls.push(['dx', 'read_write', 'f32']);
  const ins = (fn: (k: number) => string, sep = '\n  ') => unroll(NI, fn, sep);
  const rows = (fn: (m: number) => string, sep = '\n  ') => unroll(TM, fn, sep);
  // Scales of the thread's group g for outputs o..o+7 as vec4s sl, sh.
  const scales =
    f === 'q4f32'
      ? 'let sl = sc[(g * P.np + o) / 4u]; let sh = sc[(g * P.np + o) / 4u + 1u];'
      : 'let sp = sc[(g * P.np + o) / 8u]; let sl = vec4f(unpack2x16float(sp.x), unpack2x16float(sp.y)); let sh = vec4f(unpack2x16float(sp.z), unpack2x16float(sp.w));';
  const loadW = (k: number): string => {
    const e = `(pb + wr${k})`;
    if (f === 'f32') return `let lo${k} = w[${e} / 4u]; let hi${k} = w[${e} / 4u + 1u];`;
    if (f === 'f16') return `let p${k} = w[${e} / 8u]; let lo${k} = vec4f(unpack2x16float(p${k}.x), unpack2x16float(p${k}.y)); let hi${k} = vec4f(unpack2x16float(p${k}.z), unpack2x16float(p${k}.w));`;
    return `let q${k} = vec4u(w[${e} / 8u]); let lo${k} = (vec4f((q${k} >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 7.0) * sl; let hi${k} = (vec4f((q${k} >> vec4u(16u, 20u, 24u, 28u)) & vec4u(15u)) - 7.0) * sh;`;
  };
  const loadD = (m: number): string =>
    aligned
      ? `let dl${m} = dout[(dr${m} + o) / 4u]; let dh${m} = dout[(dr${m} + o) / 4u + 1u];`
      : `let dl${m} = vec4f(dout[dr${m} + o], dout[dr${m} + o + 1u], dout[dr${m} + o + 2u], dout[dr${m} + o + 3u]); let dh${m} = vec4f(dout[dr${m} + o + 4u], dout[dr${m} + o + 5u], dout[dr${m} + o + 6u], dout[dr${m} + o + 7u]);`;
  // One weight of input k at output o (the tail).
  const scalarW = (k: number): string => {
    const e = `pb + wr${k}`;
    if (f === 'f32') return `let we${k} = ${e}; let ws${k} = w[we${k} / 4u][we${k} % 4u];`;
    if (f === 'f16') return `let we${k} = ${e}; let ws${k} = unpack2x16float(w[we${k} / 8u][(we${k} / 2u) % 4u])[we${k} % 2u];`;
    return `let we${k} = ${e}; let ws${k} = (f32((w[we${k} / 8u] >> (4u * (we${k} % 8u))) & 15u) - 7.0) * s1;`;
  };
  const scalarD = (m: number) => (aligned ? `dout[(dr${m} + o) / 4u][(dr${m} + o) % 4u]` : `dout[dr${m} + o]`);
  const q4 = f.startsWith('q4');
  const scale1 = f === 'q4f32' ? 'let se = g * P.np + o; let s1 = sc[se / 4u][se % 4u];' : 'let se = g * P.np + o; let s1 = unpack2x16float(sc[se / 8u][(se / 2u) % 4u])[se % 2u];';
  const store = rows((m) => `if (t0 + ${m}u < P.T) {\n    ${ins((k) => `if (i0 + ${k}u < P.IC) { put((t0 + ${m}u) * P.dxStride + P.dxOffset + i0 + ${k}u, a${m}_${k}); }`, '\n    ')}\n  }`);
  return `${paramsWgsl(DX_PARAMS)}${storageWgsl(decls)}
fn put(idx: u32, sum: f32) {
  let v = P.alpha * sum;
  dx[idx] = select(v, dx[idx] + v, P.accumulate == 1u);
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let thread = wid.y * ${WG}u + li;
  let i0 = thread * ${NI}u;
  if (i0 >= P.IC) { return; }
  let t0 = wid.x * ${TM}u;
  let dcol = P.doutOffset + P.o0;
  ${rows((m) => `let dr${m} = min(t0 + ${m}u, P.T - 1u) * P.doutStride + dcol;`)}
  ${ins((k) => `let wr${k} = min(i0 + ${k}u, P.IC - 1u) * ${PANEL}u;`)}
  ${q4 ? 'let g = min(i0, P.IC - 1u) / P.groupSize;' : ''}
  ${rows((m) => ins((k) => `var a${m}_${k} = 0.0;`, ' '))}
  let full = P.n / 8u * 8u;
  for (var o = 0u; o < full; o += 8u) {
    let pb = (o - o % ${PANEL}u) * P.IC + o % ${PANEL}u; // linear.ts weightIndex(IC, 0, o)
    ${q4 ? scales : ''}
    ${ins(loadW, '\n    ')}
    ${rows((m) => `{ ${loadD(m)}\n      ${ins((k) => `a${m}_${k} += dot(lo${k}, dl${m}) + dot(hi${k}, dh${m});`, ' ')} }`, '\n    ')}
  }
  for (var o = full; o < P.n; o++) {
    let pb = (o - o % ${PANEL}u) * P.IC + o % ${PANEL}u;
    ${q4 ? scale1 : ''}
    ${ins(scalarW, '\n    ')}
    ${rows((m) => `{ let d = ${scalarD(m)}; ${ins((k) => `a${m}_${k} = fma(ws${k}, d, a${m}_${k});`, ' ')} }`, '\n    ')}
  }
  ${store}
}
`;
}

/**
 * dw: thread owns outputs o0..o0+3 × inputs i0..i0+3 and walks the rows: one outer product
 * dout[t, o-block] ⊗ x[t, i-block] per row, added into dw at the end.
 */
function matmulDwWgsl(): string {
  return `${paramsWgsl(DW_PARAMS)}${storageWgsl([
    ['dout', 'read', 'f32'],
    ['x', 'read', 'f32'],
    ['dw', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let id = (wid.x + wid.y * nwg.x) * 64u + li;
  let nib = (P.IC + 3u) / 4u;
  let o0 = (id / nib) * 4u;
  let i0 = (id % nib) * 4u;
  if (o0 >= P.OC) { return; }
  ${unroll(4, (k) => `let oc${k} = min(o0 + ${k}u, P.OC - 1u); var a${k} = vec4f(0.0);`, '\n  ')}
  ${unroll(4, (j) => `let ic${j} = min(i0 + ${j}u, P.IC - 1u);`, ' ')}
  for (var t = 0u; t < P.T; t++) {
    let dr = t * P.doutStride + P.doutOffset;
    let xr = t * P.xStride + P.xOffset;
    let xv = vec4f(x[xr + ic0], x[xr + ic1], x[xr + ic2], x[xr + ic3]);
    ${unroll(4, (k) => `a${k} = fma(vec4f(dout[dr + oc${k}]), xv, a${k});`, '\n    ')}
  }
  ${unroll(4, (k) => unroll(4, (j) => `if (o0 + ${k}u < P.OC && i0 + ${j}u < P.IC) { let e = (o0 + ${k}u) * P.IC + i0 + ${j}u; dw[e] = dw[e] + P.alpha * a${k}[${j}]; }`, '\n  '), '\n  ')}
}
`;
}
