/**
 * Which engine serves "lab engine" models. An engine holds one base model and any number of
 * named LoRA adapters, and hands out one `ModelBackend` view per role with that role's adapters
 * applied to every call. The WebGPU engine (`LabEngine` in src/backends/lab.ts) has exactly this
 * shape; until it is wired in, the CPU reference model serves, and the UI says so.
 */
import { CpuBackend } from '../backends/cpu';
import type { ModelBackend } from '../backends/types';
import { CpuModel } from '../engine/cpu/model';
import type { LoadedModel } from '../engine/load/model';
import type { LoraAdapter } from '../engine/model/weights';

export interface LabEngineLike {
  setAdapter(adapter: LoraAdapter): unknown;
  removeAdapter(name: string): void;
  adapterNames(): string[];
  /** The model interface with `adapters` applied to every call (none: the base model). */
  view(opts?: { adapters?: string[]; role?: string }): ModelBackend;
  destroy(): void;
  /** GPU engines report a lost device here. */
  onDeviceLost?(listener: (message: string) => void): void;
}

export interface EngineKind {
  /** Shown to the user ("CPU reference engine", "WebGPU engine"). */
  name: string;
  create(model: LoadedModel, modelName: string): Promise<LabEngineLike>;
}

/** The plain-TypeScript reference model: exact, slow, and it blocks the worker during a call. */
class CpuEngine implements LabEngineLike {
  private readonly model: CpuModel;

  constructor(
    private readonly loaded: LoadedModel,
    private readonly modelName: string,
  ) {
    this.model = new CpuModel(loaded.weights);
  }

  setAdapter(adapter: LoraAdapter): void {
    this.model.setAdapter(adapter);
  }

  removeAdapter(name: string): void {
    this.model.removeAdapter(name);
  }

  adapterNames(): string[] {
    return this.model.adapterNames();
  }

  view(opts: { adapters?: string[]; role?: string } = {}): ModelBackend {
    const adapters = opts.adapters ?? [];
    const what = opts.role ?? (adapters.length ? adapters.join('+') : 'base');
    return new CpuBackend(this.model, this.loaded.tokenizer, { adapters, label: `CPU reference engine · ${this.modelName} · ${what}` });
  }

  destroy(): void {}
}

export const CPU_ENGINE: EngineKind = {
  name: 'CPU reference engine',
  create: async (model, modelName) => new CpuEngine(model, modelName),
};

/**
 * The engine behind "lab engine" models. When the WebGPU backend is on main, this becomes
 *   { name: 'WebGPU engine', create: (m, modelName) => LabEngine.create(m.weights, m.tokenizer, { modelName }) }
 */
export const LAB_ENGINE: EngineKind = CPU_ENGINE;
