/**
 * Which engine serves "lab engine" models. An engine holds one base model and any number of
 * named LoRA adapters, and hands out one `ModelBackend` view per role with that role's adapters
 * applied to every call. The WebGPU engine (`LabEngine` in src/backends/lab.ts) has exactly this
 * shape; the CPU reference model has it too, and serves where WebGPU offers no adapter or
 * device (chooseLabEngine), and in Node.
 * Both can train their adapters (`training`): the WebGPU one with GpuTrainEngine, the CPU one with
 * CpuTrainEngine; each optimizer step lands in the adapter the views generate with.
 */
import { CpuBackend } from '../backends/cpu';
import type { ModelBackend } from '../backends/types';
import { CpuModel } from '../engine/cpu/model';
import { CpuTrainEngine } from '../engine/cpu/train-engine';
import { openDevice } from '../engine/gpu/acquire';
import type { LoadedModel } from '../engine/load/model';
import type { ChatTokenizer } from '../engine/load/tokenizer';
import type { ModelConfig } from '../engine/model/config';
import type { LoraAdapter, ModelWeights } from '../engine/model/weights';
import type { TrainEngine } from '../engine/train/engine';

/** A train engine over a lab engine's model, with what the training service reports. */
export interface LabTrainEngine extends TrainEngine {
  /** GPU bytes held now and at the most so far (null on the CPU). */
  memory(): { bytes: number; peakBytes: number } | null;
  /** Frees the training buffers. */
  release(): void;
  /** Compiles kernels on first use (the GPU): the trainer warms it up before timing steps. */
  readonly compilesKernels?: boolean;
}

/** What training needs from an engine. */
export interface Trainable {
  readonly config: ModelConfig;
  readonly tokenizer: ChatTokenizer;
  /** The base weights (for a merged export). */
  readonly weights: ModelWeights;
  /** Longest sequence the engine takes. */
  readonly contextLength: number;
  trainEngine(opts: { recompute?: boolean }): LabTrainEngine;
}

export interface LabEngineLike {
  setAdapter(adapter: LoraAdapter): unknown;
  removeAdapter(name: string): void;
  adapterNames(): string[];
  /** The model interface with `adapters` applied to every call (none: the base model). */
  view(opts?: { adapters?: string[]; role?: string }): ModelBackend;
  destroy(): void;
  /** GPU engines report a lost device here. */
  onDeviceLost?(listener: (message: string) => void): void;
  /** Absent on engines that cannot train. */
  readonly training?: Trainable;
}

export interface EngineKind {
  /** Shown to the user ("CPU reference engine", "WebGPU engine"). */
  name: string;
  create(model: LoadedModel, modelName: string): Promise<LabEngineLike>;
}

/** The plain-TypeScript reference model: exact, slow, and it blocks the worker during a call. */
class CpuEngine implements LabEngineLike {
  private readonly model: CpuModel;
  readonly training: Trainable;

  constructor(
    private readonly loaded: LoadedModel,
    private readonly modelName: string,
  ) {
    const model = (this.model = new CpuModel(loaded.weights));
    this.training = {
      config: loaded.config,
      tokenizer: loaded.tokenizer,
      weights: loaded.weights,
      contextLength: loaded.config.maxPositionEmbeddings,
      trainEngine: (opts) => Object.assign(new CpuTrainEngine(model, opts), { memory: () => null, release: () => {} }),
    };
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

/** Our WebGPU runtime: batched generation with shared prefixes, scoring, adapters, training. */
export const WEBGPU_ENGINE: EngineKind = {
  name: 'WebGPU engine',
  // Imported when first used: the GPU runtime touches WebGPU globals as it loads (not in Node).
  create: async (model, modelName) => {
    const [{ LabEngine }, { GpuTrainEngine }] = await Promise.all([import('../backends/lab'), import('../engine/model/gpu-train-engine')]);
    const engine = await LabEngine.create(model.weights, model.tokenizer, { modelName });
    const training: Trainable = {
      config: model.config,
      tokenizer: model.tokenizer,
      // LabEngine keeps the weights in memory anyway (to recover from a device loss).
      weights: model.weights,
      contextLength: engine.gpuModel.contextLength,
      trainEngine: (opts) => {
        const t = new GpuTrainEngine(engine, opts);
        return Object.assign(t, { memory: () => ({ bytes: t.memoryReport().totalBytes, peakBytes: t.peakBytes }), compilesKernels: true });
      },
    };
    return Object.assign(engine, { training });
  },
};

/** The engine that serves lab-engine models here. */
export interface EngineChoice {
  kind: EngineKind;
  /** Why the WebGPU engine cannot serve here (null where it does). */
  whyNotWebGpu: string | null;
}

/**
 * WebGPU where an adapter and a device with the engine's features and limits can be had, else the
 * CPU reference. navigator.gpu alone says little: Chrome on Linux without flags and browsers with
 * a blocklisted GPU have it and offer no adapter. The trial device is released at once.
 */
export async function chooseLabEngine(gpu?: GPU): Promise<EngineChoice> {
  const opened = await openDevice({ gpu });
  if (!opened.ok) return { kind: CPU_ENGINE, whyNotWebGpu: opened.reason };
  opened.device.destroy();
  return { kind: WEBGPU_ENGINE, whyNotWebGpu: null };
}

/**
 * The engine `choice` settles on, usable before it settles (the worker builds its model host at
 * once; the trial device takes a moment): create() waits for the choice, and the name reads as
 * still being checked until then.
 */
export function chosenEngine(choice: Promise<EngineChoice>): EngineKind {
  let chosen: EngineKind | null = null;
  void choice.then((c) => (chosen = c.kind));
  return {
    get name() {
      return chosen?.name ?? 'lab engine (checking WebGPU…)';
    },
    create: async (model, modelName) => (await choice).kind.create(model, modelName),
  };
}
