/**
 * One cache of compute pipelines per device: each WGSL source is compiled once, under a key
 * that names the kernel and its variant. Pipelines are created synchronously (so launchers can
 * record without awaiting); compile and validation errors are collected and thrown at the next
 * `check()`, formatted with line numbers and the numbered source.
 */
import { LabError } from '../../errors';

export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  private pending: Promise<LabError | null>[] = [];

  constructor(private device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** The pipeline for `key`, compiling `source()` the first time. Entry point: `main`. */
  get(key: string, source: () => string): GPUComputePipeline {
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const code = source();
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    this.pending.push(
      this.device.popErrorScope().then(async (err) => {
        if (!err) return null;
        this.pipelines.delete(key);
        const info = await module.getCompilationInfo();
        return new LabError('internal', formatShaderError(key, code, info.messages, err.message));
      }),
    );
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Throws the first compile/validation error of the pipelines created since the last check. */
  async check(): Promise<void> {
    if (this.pending.length === 0) return;
    const results = await Promise.all(this.pending.splice(0));
    const first = results.find((e) => e !== null);
    if (first) throw first;
  }
}

/** "kernel K failed to compile" + each message as line:col + the source with line numbers. */
export function formatShaderError(
  key: string,
  code: string,
  messages: readonly Pick<GPUCompilationMessage, 'type' | 'lineNum' | 'linePos' | 'message'>[],
  fallback: string,
): string {
  const lines = code.split('\n');
  const errors = messages.filter((m) => m.type === 'error');
  const listed = errors.length
    ? errors.map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}\n    > ${lines[m.lineNum - 1]?.trim() ?? ''}`).join('\n')
    : `  ${fallback}`;
  const width = String(lines.length).length;
  const numbered = lines.map((l, i) => `${String(i + 1).padStart(width)} | ${l}`).join('\n');
  return `WGSL kernel "${key}" failed to compile (a bug in SPaR Lab; please report it):\n${listed}\n--- source ---\n${numbered}`;
}
