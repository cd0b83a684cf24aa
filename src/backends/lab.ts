/**
 * The model interface over the lab's own WebGPU engine: one base model held once on the GPU,
 * several named LoRA adapters over it, and one ModelBackend view per role ("actor",
 * "refiner", or the base) that applies its adapters to every call.
 *
 * All requests of one call run as one batch: every sample of every request decodes together,
 * each prompt prefilled once and shared by its n samples. Stop strings, streaming and
 * cancellation behave as in the CPU reference backend (backends/cpu.ts), which the tests hold
 * this one to.
 *
 * Device loss: calls fail with LabError 'device-lost'; recover() acquires a new device and
 * uploads the weights and adapters again (from memory, or through the `reload` callback).
 *
 * Training: `new GpuTrainEngine(labEngine)` (engine/model/gpu-train-engine.ts) trains an adapter
 * held here; each optimizer step lands in the buffers the views generate with.
 */
import { LabError } from '../errors';
import { Gpu, type AcquireOptions } from '../engine/gpu/device';
import type { MemoryReport } from '../engine/gpu/memory';
import type { ChatTokenizer } from '../engine/load/tokenizer';
import { GpuModel, type GpuModelOptions } from '../engine/model/gpu-model';
import { generate, score, type GpuGenerateJob } from '../engine/model/generate';
import type { LoraAdapter, ModelWeights } from '../engine/model/weights';
import { TextStream } from './text-stream';
import type {
  BackendInfo,
  CallOptions,
  Generation,
  GenerateRequest,
  ModelBackend,
  ScoreRequest,
  ScoreResult,
  VerdictRequest,
  VerdictResult,
} from './types';

export interface LabEngineOptions extends GpuModelOptions, AcquireOptions {
  /** Shown in backend labels, e.g. "SmolLM2-135M". */
  modelName?: string;
  /**
   * Reads the weights again after a device loss. Without it the engine keeps `weights` in
   * memory for that.
   */
  reload?: () => Promise<ModelWeights>;
}

export class LabEngine {
  private lostListeners: ((message: string) => void)[] = [];
  private adapters = new Map<string, LoraAdapter>();
  private weights: ModelWeights | null;

  private constructor(
    private gpu: Gpu,
    private model: GpuModel,
    readonly tokenizer: ChatTokenizer,
    weights: ModelWeights,
    private opts: LabEngineOptions,
  ) {
    this.weights = opts.reload ? null : weights;
    this.watch(gpu);
  }

  /** Acquires the GPU and uploads the model. */
  static async create(weights: ModelWeights, tokenizer: ChatTokenizer, opts: LabEngineOptions = {}): Promise<LabEngine> {
    const gpu = await Gpu.acquire(opts);
    try {
      const model = await GpuModel.load(gpu, weights, opts);
      return new LabEngine(gpu, model, tokenizer, weights, opts);
    } catch (e) {
      gpu.destroy();
      throw e;
    }
  }

  get modelName(): string {
    return this.opts.modelName ?? 'model';
  }

  /** The GPU model (for benchmarks and tests; views are the way to use it). */
  get gpuModel(): GpuModel {
    return this.model;
  }

  get alive(): boolean {
    return this.gpu.alive;
  }

  /** Bytes held on the GPU, by category. */
  memoryReport(): MemoryReport {
    return this.gpu.memoryReport();
  }

  /** Called when the device is lost (then call recover()). */
  onDeviceLost(listener: (message: string) => void): void {
    this.lostListeners.push(listener);
  }

  private watch(gpu: Gpu): void {
    gpu.onLost((m) => {
      for (const f of this.lostListeners) f(m);
    });
  }

  /** A new device and a fresh upload of the weights and adapters, after a device loss. */
  async recover(): Promise<void> {
    this.model.destroy();
    this.gpu.destroy();
    const gpu = await Gpu.acquire(this.opts);
    try {
      const weights = this.weights ?? (await this.opts.reload!());
      const model = await GpuModel.load(gpu, weights, this.opts);
      for (const a of this.adapters.values()) await model.setAdapter(a);
      this.gpu = gpu;
      this.model = model;
      this.watch(gpu);
    } catch (e) {
      gpu.destroy();
      throw e;
    }
  }

  /** Adds or replaces a named adapter. */
  async setAdapter(adapter: LoraAdapter): Promise<void> {
    await this.model.setAdapter(adapter);
    this.adapters.set(adapter.name, adapter);
  }

  removeAdapter(name: string): void {
    this.model.removeAdapter(name);
    this.adapters.delete(name);
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** The model interface with `adapters` applied to every call ([] or none: the base model). */
  view(opts: { adapters?: string[]; role?: string } = {}): ModelBackend {
    const adapters = opts.adapters ?? [];
    for (const a of adapters) {
      if (!this.adapters.has(a)) throw new LabError('not-found', `No adapter "${a}" is loaded (loaded: ${this.adapterNames().join(', ') || 'none'}).`);
    }
    const label = `lab engine · ${this.modelName} · ${opts.role ?? (adapters.length ? adapters.join('+') : 'base')}`;
    return new LabBackend(this, adapters, { label, kind: 'lab' });
  }

  destroy(): void {
    this.model.destroy();
    this.gpu.destroy();
  }

  // ---- what views call ---------------------------------------------------------------------

  /** @internal */
  async generate(requests: GenerateRequest[], adapters: string[], opts: CallOptions): Promise<Generation[][]> {
    const tok = this.tokenizer;
    const eos = [...new Set([...tok.eosTokenIds, ...this.model.config.eosTokenIds])];
    const streams: TextStream[][] = [];
    const jobs: GpuGenerateJob[] = requests.map((req, r) => {
      const s = req.sampling;
      const stops = (s.stop ?? []).filter((x) => x.length > 0);
      streams[r] = Array.from({ length: req.n }, (_, i) => new TextStream(stops, (delta) => opts.onText?.(r, i, delta)));
      return {
        prompt: tok.encodeChat(req.messages, { addGenerationPrompt: true }),
        n: req.n,
        temperature: s.temperature,
        topP: s.topP,
        maxTokens: s.maxTokens,
        seed: s.seed ?? 0,
        stopTokens: eos,
        onToken: (i, _t, tokens) => streams[r][i].update(tok.decode(tokens)),
      };
    });
    const out = await generate(this.model, jobs, { adapters, signal: opts.signal });
    return out.map((seqs, r) =>
      seqs.map((seq, i) => {
        const st = streams[r][i];
        const text = st.finish(tok.decode(seq.tokens));
        return { text, finishReason: seq.finishReason, tokens: seq.tokens.length };
      }),
    );
  }

  /** @internal */
  async score(requests: ScoreRequest[], adapters: string[], opts: CallOptions): Promise<ScoreResult[]> {
    const tok = this.tokenizer;
    // The response as a whole turn, end of turn included: what DPO trains (train/losses.ts).
    const jobs = requests.map((req) => tok.encodeResponse(req.messages, req.response));
    const scores = await score(this.model, jobs, { adapters, signal: opts.signal });
    return scores.map((s, i) => ({ logprob: s.logprob, tokens: jobs[i].response.length }));
  }

  /** @internal */
  async verdict(requests: VerdictRequest[], adapters: string[], opts: CallOptions): Promise<VerdictResult[]> {
    const tok = this.tokenizer;
    const jobs = requests.flatMap((req) => {
      const prompt = tok.encode(tok.applyChatTemplate(req.messages, { addGenerationPrompt: true }) + req.prefix);
      return req.labels.map((label) => {
        const ids = tok.encode(label);
        if (ids.length === 0) throw new LabError('invalid-input', `Verdict label "${label}" encodes to no token.`);
        return { prompt, response: [ids[0]] };
      });
    });
    const scores = await score(this.model, jobs, { adapters, signal: opts.signal });
    let k = 0;
    return requests.map((req) => ({ logprobs: req.labels.map(() => scores[k++].logprob) }));
  }
}

/** One role's view of the engine: every call applies the view's adapters. */
class LabBackend implements ModelBackend {
  constructor(
    private engine: LabEngine,
    private adapters: string[],
    readonly info: BackendInfo,
  ) {}

  generate(requests: GenerateRequest[], opts: CallOptions = {}): Promise<Generation[][]> {
    return this.engine.generate(requests, this.adapters, opts);
  }

  score(requests: ScoreRequest[], opts: CallOptions = {}): Promise<ScoreResult[]> {
    return this.engine.score(requests, this.adapters, opts);
  }

  verdict(requests: VerdictRequest[], opts: CallOptions = {}): Promise<VerdictResult[]> {
    return this.engine.verdict(requests, this.adapters, opts);
  }
}
