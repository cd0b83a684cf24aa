/**
 * Which engine serves "lab engine" models. An engine holds one base model and any number of
 * named LoRA adapters, and hands out one `ModelBackend` view per role with that role's adapters
 * applied to every call. The WebGPU engine (`LabEngine` in src/backends/lab.ts) has exactly this
 * shape; the CPU reference model has it too, and serves where there is no WebGPU (and in Node).
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

/** Our WebGPU runtime: batched generation with shared prefixes, scoring, adapters. */
export const WEBGPU_ENGINE: EngineKind = {
  name: 'WebGPU engine',
  // Imported when first used: the GPU runtime touches WebGPU globals as it loads (not in Node).
  create: async (model, modelName) => (await import('../backends/lab')).LabEngine.create(model.weights, model.tokenizer, { modelName }),
};

/** The engine for this environment: WebGPU where the browser has it, else the CPU reference. */
export function labEngine(hasWebGpu: boolean): EngineKind {
  return hasWebGpu ? WEBGPU_ENGINE : CPU_ENGINE;
}
