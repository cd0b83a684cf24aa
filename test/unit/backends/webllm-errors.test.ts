import { describe, expect, it } from 'vitest';
import { webLlmError } from '../../../src/backends/webllm-errors';
import { LabError } from '../../../src/errors';

// web-llm's failures as its worker handler sends them (err.toString()), and as Error objects.
const cases: [string, unknown, LabError['kind'], RegExp][] = [
  ['no WebGPU', 'WebGPUNotAvailableError: WebGPU is not supported in your current environment', 'no-webgpu', /needs WebGPU.*Chrome/s],
  ['no adapter (runtime)', 'Error: Unable to find a compatible GPU. This issue might be because…', 'no-webgpu', /needs WebGPU/],
  ['shader-f16', 'ShaderF16SupportError: This model requires WebGPU extension shader-f16, which is not enabled in this browser.', 'unsupported', /q4f32_1/],
  ['our preflight', 'FeatureSupportError: Qwen2.5-0.5B-Instruct-q4f16_1-MLC: Needs shader-f16, which this GPU lacks; pick Qwen2.5-0.5B-Instruct-q4f32_1-MLC instead.', 'unsupported', /shader-f16.*q4f32_1/s],
  ['device limits', 'Error: Cannot initialize runtime because of requested maxStorageBufferBindingSize exceeds limit. requested=128MB, limit=64MB. ', 'unsupported', /limits/],
  ['device lost', 'DeviceLostError: The WebGPU device was lost while loading the model.', 'device-lost', /Load the model again.*smaller model/s],
  ['OOM', new RangeError('WebAssembly.Memory(): could not allocate memory'), 'out-of-memory', /smaller model/],
  ['GPU OOM', 'Error: Out of memory while allocating buffer', 'out-of-memory', /-1k/],
  ['quota', new DOMException('The quota has been exceeded.', 'QuotaExceededError'), 'quota', /Delete cached models.*continues/s],
  ['quota string', 'QuotaExceededError: Quota exceeded.', 'quota', /storage is full/],
  ['network', new TypeError('Failed to fetch'), 'network', /keeps every file it already stored/],
  ['cache.add', "TypeError: Failed to execute 'add' on 'Cache': Request failed", 'network', /load again/],
  ['corrupt', 'IntegrityError: Integrity verification failed for https://x/params_shard_0.bin', 'network', /Delete the cached model/],
  ['unknown model', 'ModelNotFoundError: Cannot find model record in appConfig for foo.', 'not-found', /Pick one/],
  ['not loaded', 'WorkerEngineModelNotLoadedError: WebWorkerMLCEngine is not loaded with a model.', 'not-found', /Load the model first/],
  ['bad setting', 'RangeError: Make sure 0 < top_p <= 1.', 'invalid-input', /refused the request/],
  ['aborted', new DOMException('The operation was aborted.', 'AbortError'), 'cancelled', /cancelled/i],
  ['anything else', 'Error: something odd', 'internal', /something odd/],
];

describe('web-llm errors as LabErrors', () => {
  for (const [what, raw, kind, says] of cases) {
    it(`${what} → ${kind}`, () => {
      const e = webLlmError(raw, raw === cases[5][1] ? 'load' : 'generate', 'SmolLM2-360M-Instruct-q4f16_1-MLC');
      expect(e).toBeInstanceOf(LabError);
      expect(e.kind).toBe(kind);
      expect(e.message).toMatch(says);
    });
  }

  it('passes LabErrors through unchanged', () => {
    const e = new LabError('quota', 'full');
    expect(webLlmError(e)).toBe(e);
  });
});
