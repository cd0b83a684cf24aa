/**
 * out[t,:] = wte[tokens[t],:], the GPU twin of cpu/ops.ts embeddingForward. The table is a
 * GpuLinear (OC = V, IC = C, k-major panels, possibly q4 and split into slices), shared with a tied
 * lm_head; the token ids stay on the GPU (the sampler writes them, this reads them).
 *   out [T, C] f32, tokens [T] u32
 */
import { PANEL, type GpuLinear, type WeightFormat } from './linear';
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, storageWgsl } from './wgsl';

const PARAMS = { T: 'u32', C: 'u32', np: 'u32', o0: 'u32', n: 'u32', groupSize: 'u32' } as const;
const WG = 64;

export function embeddingForward(rec: Recorder, out: Binding, tokens: Binding, wte: GpuLinear, T: number): void {
  const C = wte.IC;
  for (const s of wte.slices) {
    rec.dispatch({
      key: `embedding/${wte.format}`,
      source: () => embeddingWgsl(wte.format),
      params: PARAMS,
      values: { T, C, np: s.np, o0: s.o0, n: s.n, groupSize: wte.groupSize || 1 },
      bindings: s.scales ? [tokens, s.data, s.scales, out] : [tokens, s.data, out],
      workgroups: gridFor(Math.ceil((T * C) / WG)),
    });
  }
}

function embeddingWgsl(f: WeightFormat): string {
  const decls: [string, 'read' | 'read_write', string][] = [
    ['tokens', 'read', 'u32'],
    ['w', 'read', f === 'f32' ? 'f32' : 'u32'],
  ];
  if (f === 'q4f32') decls.push(['sc', 'read', 'f32']);
  if (f === 'q4f16') decls.push(['sc', 'read', 'u32']);
  decls.push(['out', 'read_write', 'f32']);
  const half = (word: string, sel: string) => `unpack2x16float(${word})[${sel}]`;
  let value: string;
  if (f === 'f32') value = 'w[e]';
  else if (f === 'f16') value = half('w[e >> 1u]', 'e & 1u');
  else {
    const scale = f === 'q4f32' ? 'sc[se]' : half('sc[se >> 1u]', 'se & 1u');
    value = `(f32((w[e >> 3u] >> (4u * (e & 7u))) & 15u) - 7.0) * ${scale}`;
  }
  return `${paramsWgsl(PARAMS)}${storageWgsl(decls)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.C) { return; }
  let t = i / P.C;
  let c = i % P.C;
  let tok = tokens[t];
  if (tok < P.o0 || tok >= P.o0 + P.n) { return; } // another slice holds this row
  let j = tok - P.o0;
  let e = (j - j % ${PANEL}u) * P.C + c * ${PANEL}u + j % ${PANEL}u; // linear.ts weightIndex
  let se = (c / P.groupSize) * P.np + j;
  out[i] = ${value};
}
`;
}
