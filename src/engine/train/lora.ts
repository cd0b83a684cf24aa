/**
 * LoRA adapters over a frozen base: creation with PEFT's initialisation, their settings, and the
 * one fixed walk over their tensors that the optimizer, checkpoints and PEFT files share.
 *
 * For each targeted linear W [out, in]: y = x·Wᵀ + scale · (x·Aᵀ)·Bᵀ, A [r, in], B [out, r],
 * scale = alpha / r, or alpha / √r with rsLoRA (PEFT `use_rslora`). Several named adapters
 * (actor, refiner) can sit over one base; each is a plain LoraAdapter (model/weights.ts).
 */
import { LabError } from '../../errors';
import { PyRandom } from '../../py-random';
import type { ModelConfig } from '../model/config';
import { LINEAR_NAMES, type LinearName, type LoraAdapter } from '../model/weights';

export interface LoraSettings {
  /** r */
  rank: number;
  /** lora_alpha */
  alpha: number;
  /** scale alpha/√r instead of alpha/r (rank-stabilised LoRA). */
  rslora: boolean;
  targets: LinearName[];
}

/**
 * PEFT's default targets for Llama and Qwen2 when none are given (q_proj, v_proj: the LoRA
 * paper's choice, the best quality per trained parameter in its ablation), rank 8 (PEFT's
 * default r) and alpha 16 (LLaMA-Factory's default, 2·r, as the SPaR reference trained with
 * LLaMA-Factory): scale 2.
 */
export const DEFAULT_LORA: Readonly<LoraSettings> = { rank: 8, alpha: 16, rslora: false, targets: ['q', 'v'] };

export function loraScale(rank: number, alpha: number, rslora: boolean): number {
  return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

/** PEFT / transformers module name of each linear. */
export const PROJ_NAMES: Record<LinearName, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

/**
 * Target modules from a list such as "q,v", "q_proj,v_proj,o_proj" or "all" (every linear, like
 * PEFT's "all-linear" on these models), in the canonical order q,k,v,o,gate,up,down.
 */
export function parseTargets(spec: string | readonly string[]): LinearName[] {
  const parts = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 1 && (parts[0] === 'all' || parts[0] === 'all-linear')) return [...LINEAR_NAMES];
  const set = new Set<LinearName>();
  for (const p of parts) {
    const short = p.replace(/_proj$/, '') as LinearName;
    if (!LINEAR_NAMES.includes(short)) {
      throw new LabError('invalid-input', `Unknown LoRA target "${p}"; choose from ${LINEAR_NAMES.join(', ')} (or their *_proj names, or "all").`);
    }
    set.add(short);
  }
  if (set.size === 0) throw new LabError('invalid-input', 'LoRA needs at least one target module (e.g. "q,v").');
  return LINEAR_NAMES.filter((n) => set.has(n));
}

/** Checks rank, alpha and targets; returns complete settings. */
export function loraSettings(s: Partial<LoraSettings> = {}): LoraSettings {
  const out: LoraSettings = { ...DEFAULT_LORA, ...s, targets: parseTargets(s.targets ?? DEFAULT_LORA.targets) };
  if (!Number.isInteger(out.rank) || out.rank < 1) throw new LabError('invalid-input', `LoRA rank must be a positive integer (got ${out.rank}).`);
  if (!(out.alpha > 0) || !Number.isFinite(out.alpha)) throw new LabError('invalid-input', `LoRA alpha must be a positive number (got ${out.alpha}).`);
  return out;
}

/** [out, in] of each linear of a config. */
export function linearDims(c: ModelConfig): Record<LinearName, [number, number]> {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const C = c.hiddenSize;
  const I = c.intermediateSize;
  return { q: [q, C], k: [kv, C], v: [kv, C], o: [C, q], gate: [I, C], up: [I, C], down: [C, I] };
}

/** Throws unless `adapter` fits a model of config `c`: its layer count and every A [r, in], B [out, r]. */
export function checkAdapterShapes(adapter: LoraAdapter, c: ModelConfig): void {
  const dims = linearDims(c);
  if (adapter.layers.length !== c.numLayers) {
    throw new LabError('invalid-input', `Adapter "${adapter.name}" has ${adapter.layers.length} layers; the model has ${c.numLayers}.`);
  }
  adapter.layers.forEach((layer, i) => {
    for (const name of LINEAR_NAMES) {
      const ab = layer[name];
      if (!ab) continue;
      const [OC, IC] = dims[name];
      if (ab.a.length !== adapter.rank * IC || ab.b.length !== OC * adapter.rank) {
        throw new LabError('invalid-input', `Adapter "${adapter.name}" layer ${i} ${name}: A must be [${adapter.rank},${IC}] and B [${OC},${adapter.rank}].`);
      }
    }
  });
}

export interface CreateAdapterOptions {
  seed: number;
  /**
   * 'peft' (default): A as nn.Linear's default init, kaiming_uniform(a=√5), i.e.
   * U(-1/√in, 1/√in), and B = 0, so the adapter starts as the base (PEFT init_lora_weights=True).
   * 'random': B drawn the same way as A with fan-in r (U(-1/√r, 1/√r)), so that every gradient
   * is non-zero: for checking gradients against other implementations.
   */
  init?: 'peft' | 'random';
}

/**
 * A new adapter over a model of `config`, seeded: the same seed, settings and shapes always give
 * the same weights (Python's Mersenne Twister, src/py-random.ts, drawn in the order of
 * adapterTensors). Torch's generator is not reproduced; PEFT's distribution is.
 */
export function createAdapter(name: string, config: ModelConfig, settings: Partial<LoraSettings>, opts: CreateAdapterOptions): LoraAdapter {
  const s = loraSettings(settings);
  const dims = linearDims(config);
  const rng = new PyRandom(opts.seed);
  const uniform = (n: number, bound: number) => Float32Array.from({ length: n }, () => (rng.random() * 2 - 1) * bound);
  const layers = Array.from({ length: config.numLayers }, () => {
    const layer: LoraAdapter['layers'][number] = {};
    for (const t of s.targets) {
      const [OC, IC] = dims[t];
      const a = uniform(s.rank * IC, 1 / Math.sqrt(IC));
      const b = opts.init === 'random' ? uniform(OC * s.rank, 1 / Math.sqrt(s.rank)) : new Float32Array(OC * s.rank);
      layer[t] = { a, b };
    }
    return layer;
  });
  return { name, rank: s.rank, alpha: s.alpha, scale: loraScale(s.rank, s.alpha, s.rslora), targets: s.targets, layers };
}

/**
 * The settings that give an adapter's scale: rsLoRA is read back from it (the scale is the truth;
 * one that is neither alpha/r nor alpha/√r is expressed as alpha = scale·r).
 */
export function adapterSettings(a: LoraAdapter): LoraSettings {
  const targets = [...a.targets];
  if (a.scale === loraScale(a.rank, a.alpha, false)) return { rank: a.rank, alpha: a.alpha, rslora: false, targets };
  if (a.scale === loraScale(a.rank, a.alpha, true)) return { rank: a.rank, alpha: a.alpha, rslora: true, targets };
  return { rank: a.rank, alpha: a.scale * a.rank, rslora: false, targets };
}

/** One LoRA tensor in the fixed order every consumer walks: layer, then linear (q…down), A then B. */
export interface LoraTensorRef {
  /** PEFT's key, e.g. base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight */
  key: string;
  layer: number;
  linear: LinearName;
  which: 'a' | 'b';
  /** [r, in] for A, [out, r] for B */
  shape: [number, number];
  data: Float32Array;
}

export function peftKey(layer: number, linear: LinearName, which: 'a' | 'b'): string {
  return `base_model.model.model.layers.${layer}.${PROJ_NAMES[linear]}.lora_${which === 'a' ? 'A' : 'B'}.weight`;
}

export function adapterTensors(a: Pick<LoraAdapter, 'rank' | 'layers'>): LoraTensorRef[] {
  const out: LoraTensorRef[] = [];
  a.layers.forEach((layer, l) => {
    for (const linear of LINEAR_NAMES) {
      const ab = layer[linear];
      if (!ab) continue;
      const IC = ab.a.length / a.rank;
      const OC = ab.b.length / a.rank;
      out.push({ key: peftKey(l, linear, 'a'), layer: l, linear, which: 'a', shape: [a.rank, IC], data: ab.a });
      out.push({ key: peftKey(l, linear, 'b'), layer: l, linear, which: 'b', shape: [OC, a.rank], data: ab.b });
    }
  });
  return out;
}

/** A deep copy (optionally under another name). */
export function cloneAdapter(a: LoraAdapter, name = a.name): LoraAdapter {
  return {
    ...a,
    name,
    targets: [...a.targets],
    layers: a.layers.map((layer) => Object.fromEntries(Object.entries(layer).map(([k, ab]) => [k, { a: Float32Array.from(ab.a), b: Float32Array.from(ab.b) }]))),
  };
}

/** Zero gradient buffers shaped like the adapter's tensors (what backward adds into). */
export function zeroGrads(a: Pick<LoraAdapter, 'layers'>): LoraAdapter['layers'] {
  return a.layers.map((layer) => Object.fromEntries(Object.entries(layer).map(([k, ab]) => [k, { a: new Float32Array(ab.a.length), b: new Float32Array(ab.b.length) }])));
}

/** Number of trained parameters. */
export function adapterParamCount(a: Pick<LoraAdapter, 'layers'>): number {
  let n = 0;
  for (const layer of a.layers) for (const ab of Object.values(layer)) n += ab.a.length + ab.b.length;
  return n;
}

const PEFT_KEY = /^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.lora_([AB])(?:\.default)?\.weight$/;

/** Layer, linear and A/B of a PEFT LoRA key (with or without the base_model.model. prefix); null if it is not one. */
export function parsePeftKey(key: string): { layer: number; linear: LinearName; which: 'a' | 'b' } | null {
  const m = PEFT_KEY.exec(key);
  if (!m) return null;
  const linear = m[3] as LinearName;
  if (PROJ_NAMES[linear].split('.')[0] !== m[2]) return null;
  return { layer: Number(m[1]), linear, which: m[4] === 'A' ? 'a' : 'b' };
}
