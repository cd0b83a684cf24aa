/** Adapter creation: PEFT's init, scales, targets, seeding, and several adapters over one base. */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { LINEAR_NAMES } from '../../../../src/engine/model/weights';
import {
  adapterParamCount,
  adapterSettings,
  adapterTensors,
  cloneAdapter,
  createAdapter,
  DEFAULT_LORA,
  loraSettings,
  parsePeftKey,
  parseTargets,
} from '../../../../src/engine/train/lora';
import { tinyWeights } from '../../../../src/engine/tiny/tiny';

const w = tinyWeights({ seed: 8 });
const c = w.config;

describe('LoRA adapters', () => {
  it('default: PEFT targets for Llama/Qwen2 (q_proj, v_proj), r 8, alpha 16', () => {
    expect(DEFAULT_LORA).toEqual({ rank: 8, alpha: 16, rslora: false, targets: ['q', 'v'] });
    const a = createAdapter('actor', c, {}, { seed: 1 });
    expect(a).toMatchObject({ name: 'actor', rank: 8, alpha: 16, scale: 2, targets: ['q', 'v'] });
    expect(Object.keys(a.layers[0])).toEqual(['q', 'v']);
    expect(adapterParamCount(a)).toBe(c.numLayers * (8 * 64 + 64 * 8 + 8 * 64 + 32 * 8));
  });

  it("initialises like PEFT: A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0; 'random' draws B too", () => {
    const a = createAdapter('x', c, { targets: ['q', 'down'] }, { seed: 2 });
    const qa = a.layers[0].q!.a;
    const bound = 1 / Math.sqrt(64);
    expect(Math.max(...qa.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...qa.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const mean = qa.reduce((s, v) => s + v, 0) / qa.length;
    const variance = qa.reduce((s, v) => s + v * v, 0) / qa.length;
    expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
    expect(variance).toBeCloseTo((bound * bound) / 3, 3); // uniform variance
    expect(Math.max(...a.layers[1].down!.a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(160));
    expect(a.layers[0].q!.b.every((v) => v === 0)).toBe(true);
    const r = createAdapter('x', c, { targets: ['q'] }, { seed: 2, init: 'random' });
    expect(r.layers[0].q!.b.some((v) => v !== 0)).toBe(true);
    expect(Math.max(...r.layers[0].q!.b.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
  });

  it('is seeded: the same seed gives the same weights, another seed others', () => {
    const x = adapterTensors(createAdapter('a', c, {}, { seed: 3 }));
    const y = adapterTensors(createAdapter('b', c, {}, { seed: 3 }));
    const z = adapterTensors(createAdapter('a', c, {}, { seed: 4 }));
    expect(y.map((t) => [...t.data])).toEqual(x.map((t) => [...t.data]));
    expect(z[0].data).not.toEqual(x[0].data);
  });

  it('scale alpha/r or alpha/√r (rsLoRA), read back from the adapter', () => {
    const rs = createAdapter('x', c, { rank: 4, alpha: 8, rslora: true }, { seed: 1 });
    expect(rs.scale).toBe(4);
    expect(adapterSettings(rs)).toMatchObject({ rank: 4, alpha: 8, rslora: true });
    expect(adapterSettings({ ...rs, scale: 3 })).toMatchObject({ alpha: 12, rslora: false });
    expect(() => loraSettings({ rank: 0 })).toThrow(/rank must be a positive integer/);
    expect(() => loraSettings({ alpha: -1 })).toThrow(/alpha/);
  });

  it('parses target lists in our or PEFT names, "all", and refuses unknown ones', () => {
    expect(parseTargets('v,q')).toEqual(['q', 'v']);
    expect(parseTargets('q_proj, o_proj,down_proj')).toEqual(['q', 'o', 'down']);
    expect(parseTargets('all')).toEqual([...LINEAR_NAMES]);
    expect(parseTargets(['all-linear'])).toEqual([...LINEAR_NAMES]);
    expect(() => parseTargets('q,lm_head')).toThrow(/Unknown LoRA target "lm_head"/);
    expect(() => parseTargets('')).toThrow(/at least one/);
  });

  it('walks tensors in one PEFT-named order that parsePeftKey reads back', () => {
    const a = createAdapter('x', c, { targets: [...LINEAR_NAMES], rank: 2, alpha: 2 }, { seed: 1 });
    const refs = adapterTensors(a);
    expect(refs.slice(0, 4).map((t) => t.key)).toEqual([
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
      'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight',
      'base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight',
    ]);
    for (const t of refs) expect(parsePeftKey(t.key)).toEqual({ layer: t.layer, linear: t.linear, which: t.which });
    expect(parsePeftKey('model.layers.3.mlp.up_proj.lora_B.default.weight')).toEqual({ layer: 3, linear: 'up', which: 'b' });
    expect(parsePeftKey('base_model.model.model.layers.0.mlp.q_proj.lora_A.weight')).toBeNull();
    expect(parsePeftKey('base_model.model.lm_head.lora_A.weight')).toBeNull();
  });

  it('several named adapters sit over one base; a clone is independent', () => {
    const m = new CpuModel(w);
    const actor = createAdapter('actor', c, {}, { seed: 1, init: 'random' });
    const refiner = createAdapter('refiner', c, { targets: ['o', 'up'] }, { seed: 2, init: 'random' });
    m.setAdapter(actor);
    m.setAdapter(refiner);
    const toks = [3, 9, 27, 81];
    const base = m.forward(m.newCache(), toks).logits;
    const la = m.forward(m.newCache(), toks, { adapters: ['actor'] }).logits;
    const lr = m.forward(m.newCache(), toks, { adapters: ['refiner'] }).logits;
    expect(la).not.toEqual(base);
    expect(lr).not.toEqual(la);
    const copy = cloneAdapter(actor, 'copy');
    copy.layers[0].q!.a[0] += 1;
    expect(actor.layers[0].q!.a[0]).not.toBe(copy.layers[0].q!.a[0]);
  });
});
