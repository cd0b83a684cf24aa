import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import type { GpuReport } from '../../../src/engine/gpu/report';
import { buildCatalog, estimateDownloadBytes, f32Sibling, hubRepoOf, modelBaseUrl, pickerRows, webLlmFit, type CatalogEntry } from '../../../src/models/catalog';
import { tinyMlcFiles, tinyTensors } from '../../../src/engine/tiny/tiny';

const catalog = buildCatalog(prebuiltAppConfig.model_list);
const byId = (id: string): CatalogEntry => {
  const e = catalog.find((x) => x.modelId === id);
  if (!e) throw new Error(`${id} is not in web-llm's list`);
  return e;
};

const MiB = 2 ** 20;
const limits = {
  maxBufferSize: 4096 * MiB,
  maxStorageBufferBindingSize: 2048 * MiB,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
};
const gpu = (over: { shaderF16?: boolean; limits?: Partial<typeof limits>; features?: string[]; fallback?: boolean } = {}): GpuReport => ({
  available: true,
  vendor: 'test',
  architecture: 'test',
  device: '',
  description: '',
  isFallbackAdapter: over.fallback ?? false,
  shaderF16: over.shaderF16 ?? true,
  features: over.features ?? (over.shaderF16 === false ? [] : ['shader-f16']),
  limits: { ...limits, ...over.limits },
});
const desktop = gpu();
const noF16 = gpu({ shaderF16: false });
const small = gpu({ limits: { maxStorageBufferBindingSize: 128 * MiB } });
const none: GpuReport = { available: false, reason: 'navigator.gpu is missing.', advice: 'Use Chrome.' };

describe('model catalog from web-llm\'s prebuilt list', () => {
  it('keeps chat models (no embeddings) with family, size, quantization, VRAM and URLs', () => {
    expect(catalog.length).toBeGreaterThan(100);
    expect(catalog.some((e) => e.modelId.startsWith('snowflake-arctic-embed'))).toBe(false);
    expect(byId('SmolLM2-135M-Instruct-q0f32-MLC')).toMatchObject({
      family: 'SmolLM2',
      arch: 'llama',
      sizeLabel: '135M',
      params: 135e6,
      quantization: 'q0f32',
      repo: 'mlc-ai/SmolLM2-135M-Instruct-q0f32-MLC',
      baseUrl: 'https://huggingface.co/mlc-ai/SmolLM2-135M-Instruct-q0f32-MLC/resolve/main/',
      vramMB: 719.38,
      contextWindow: 4096,
      needsShaderF16: false,
      lab: { loadable: true },
    });
    expect(byId('Qwen2.5-0.5B-Instruct-q4f16_1-MLC')).toMatchObject({ family: 'Qwen2.5', arch: 'qwen2', sizeLabel: '0.5B', quantization: 'q4f16_1' });
    expect(byId('Llama-3.2-1B-Instruct-q4f32_1-MLC')).toMatchObject({ family: 'Llama 3.2', arch: 'llama', params: 1e9 });
    expect(byId('TinyLlama-1.1B-Chat-v1.0-q4f32_1-MLC')).toMatchObject({ family: 'TinyLlama', lab: { loadable: true } });
    expect(byId('stablelm-2-zephyr-1_6b-q4f32_1-MLC')).toMatchObject({ sizeLabel: '1.6B', params: 1.6e9 });
    expect(byId('Phi-3.5-mini-instruct-q4f32_1-MLC').params).toBe(3.8e9);
  });

  it('says plainly which models the lab engine can load from the same files, and why not', () => {
    for (const id of ['Qwen2.5-1.5B-Instruct-q4f16_1-MLC', 'Llama-3.1-8B-Instruct-q4f32_1-MLC', 'SmolLM2-360M-Instruct-q0f16-MLC', 'DeepSeek-R1-Distill-Qwen-7B-q4f16_1-MLC', 'Hermes-3-Llama-3.2-3B-q4f32_1-MLC']) {
      expect(byId(id).lab, id).toEqual({ loadable: true, reason: expect.stringMatching(/One download, two engines/) });
    }
    expect(byId('Qwen3-0.6B-q4f32_1-MLC').lab).toEqual({ loadable: false, reason: expect.stringMatching(/Qwen3.*web-llm only/s) });
    expect(byId('Mistral-7B-Instruct-v0.3-q4f32_1-MLC').lab.reason).toMatch(/mistral/i);
    expect(byId('Hermes-2-Pro-Mistral-7B-q4f16_1-MLC').family).toBe('Mistral');
    expect(byId('gemma-2-2b-it-q4f32_1-MLC').lab.loadable).toBe(false);
    expect(byId('Llama-3.1-70B-Instruct-q3f16_1-MLC').lab).toEqual({ loadable: false, reason: expect.stringMatching(/q3f16_1/) });
    // Every entry has a reason to show.
    expect(catalog.every((e) => e.lab.reason.length > 20)).toBe(true);
  });

  it('marks every f16 build as needing shader-f16 (declared or not) and finds its f32 sibling', () => {
    const q = byId('Qwen2.5-0.5B-Instruct-q4f16_1-MLC');
    expect(q.requiredFeatures).toEqual([]); // web-llm's record does not declare it…
    expect(q.needsShaderF16).toBe(true); // …but its kernels use f16
    expect(f32Sibling(q, catalog)?.modelId).toBe('Qwen2.5-0.5B-Instruct-q4f32_1-MLC');
    expect(f32Sibling(byId('SmolLM2-135M-Instruct-q0f16-MLC'), catalog)?.modelId).toBe('SmolLM2-135M-Instruct-q0f32-MLC');
    expect(byId('Qwen2.5-0.5B-Instruct-q4f32_1-MLC').needsShaderF16).toBe(false);
  });

  it('estimates download size from parameters × bits when tensor-cache.json is not known yet', () => {
    expect(estimateDownloadBytes(0.5e9, 'q4f16_1')).toBe((0.5e9 * 4.5) / 8);
    expect(estimateDownloadBytes(null, 'q4f16_1')).toBeNull();
    // tvmjs stores float32 as bf16: a q0f32 build downloads 2 bytes a parameter, like q0f16, and
    // q4f32_1's f32 scales take 2 bytes each, like q4f16_1's.
    expect(estimateDownloadBytes(135e6, 'q0f32')).toBe(135e6 * 2);
    expect(estimateDownloadBytes(135e6, 'q0f32')).toBe(estimateDownloadBytes(135e6, 'q0f16'));
    expect(byId('SmolLM2-360M-Instruct-q4f32_1-MLC').downloadEstimateBytes).toBe((360e6 * 4.5) / 8);
  });

  it('the estimate matches what the generator (which writes as tvmjs does) stores per parameter', () => {
    for (const quantization of ['q0f32', 'q0f16', 'q4f32_1', 'q4f16_1'] as const) {
      const cache = JSON.parse(new TextDecoder().decode(tinyMlcFiles({ arch: 'llama', quantization })['tensor-cache.json']));
      const stored = cache.records.reduce((a: number, s: { nbytes: number }) => a + s.nbytes, 0);
      const params = [...tinyTensors({ arch: 'llama' }).values()].reduce((a, t) => a + t.data.length, 0);
      // Norms are not quantized, so q4 builds store a little more than the estimate; f32 builds exactly it.
      const estimate = estimateDownloadBytes(params, quantization)!;
      expect(stored / estimate, quantization).toBeGreaterThanOrEqual(1);
      expect(stored / estimate, quantization).toBeLessThan(quantization.startsWith('q4') ? 1.1 : 1.000001);
    }
  });

  it('reads model URLs the way web-llm does', () => {
    expect(modelBaseUrl('https://huggingface.co/a/b')).toBe('https://huggingface.co/a/b/resolve/main/');
    expect(modelBaseUrl('https://huggingface.co/a/b/resolve/v2/')).toBe('https://huggingface.co/a/b/resolve/v2/');
    expect(hubRepoOf('https://huggingface.co/a/b/resolve/v2')).toEqual({ repo: 'a/b', revision: 'v2' });
    expect(hubRepoOf('https://example.com/models/b')).toBeNull();
  });
});

describe('flags against the GPU', () => {
  it('a desktop GPU with shader-f16 runs the small models', () => {
    const fit = webLlmFit(byId('Qwen2.5-0.5B-Instruct-q4f16_1-MLC'), desktop, catalog);
    expect(fit.usable).toBe(true);
    expect(fit.notes.join(' ')).toMatch(/0\.9 GB/);
  });

  it('without shader-f16: f16 builds are flagged with the build to pick instead; the lab engine still loads them', () => {
    const fit = webLlmFit(byId('Qwen2.5-0.5B-Instruct-q4f16_1-MLC'), noF16, catalog);
    expect(fit.usable).toBe(false);
    expect(fit.problems).toEqual(['Needs shader-f16, which this GPU lacks; pick Qwen2.5-0.5B-Instruct-q4f32_1-MLC instead.']);
    expect(fit.notes.join(' ')).toMatch(/lab engine can still load this build/);
    expect(webLlmFit(byId('Qwen2.5-0.5B-Instruct-q4f32_1-MLC'), noF16, catalog).usable).toBe(true);
    // Declared required_features are honoured too.
    expect(webLlmFit(byId('SmolLM2-1.7B-Instruct-q4f16_1-MLC'), noF16, catalog).usable).toBe(false);
  });

  it('checks buffer_size_required_bytes and web-llm\'s minimum limits', () => {
    const gemma = byId('gemma-2b-it-q4f32_1-MLC');
    expect(gemma.bufferSizeRequired).toBe(262144000);
    expect(webLlmFit(gemma, desktop, catalog).usable).toBe(true);
    expect(webLlmFit(gemma, small, catalog).problems).toEqual(['Needs a storage buffer binding of 250 MiB; this GPU allows 128 MiB.']);
    expect(webLlmFit(byId('SmolLM2-135M-Instruct-q0f32-MLC'), small, catalog).usable).toBe(true);
    const tiny = gpu({ limits: { maxStorageBuffersPerShaderStage: 8, maxStorageBufferBindingSize: 64 * MiB } });
    const fit = webLlmFit(byId('SmolLM2-135M-Instruct-q0f32-MLC'), tiny, catalog);
    expect(fit.usable).toBe(false);
    expect(fit.problems).toEqual([
      'web-llm needs maxStorageBufferBindingSize ≥ 128 MiB; this GPU allows 64 MiB.',
      'web-llm needs maxStorageBuffersPerShaderStage ≥ 10; this GPU allows 8.',
    ]);
  });

  it('no WebGPU: nothing is usable, and the reason says so', () => {
    const fit = webLlmFit(byId('SmolLM2-135M-Instruct-q0f32-MLC'), none, catalog);
    expect(fit).toEqual({ usable: false, problems: ['No WebGPU: navigator.gpu is missing.'], notes: [] });
  });

  it('picker rows: usable first, filters for usable-only, lab-loadable-only, vision left out', () => {
    const rows = pickerRows(catalog, noF16);
    const firstBlocked = rows.findIndex((r) => !r.fit.usable);
    expect(firstBlocked).toBeGreaterThan(0);
    expect(rows.slice(firstBlocked).every((r) => !r.fit.usable)).toBe(true);
    expect(rows.some((r) => r.entry.vision)).toBe(false);
    const usable = pickerRows(catalog, noF16, { hideUnusable: true });
    expect(usable.every((r) => r.fit.usable && !r.entry.needsShaderF16)).toBe(true);
    const trainable = pickerRows(catalog, desktop, { labLoadableOnly: true, hideUnusable: true });
    expect(trainable.length).toBeGreaterThan(10);
    expect(trainable.every((r) => r.entry.arch !== null)).toBe(true);
    expect(trainable[0].entry.family).toBe('SmolLM2');
    expect(pickerRows(catalog, none, { hideUnusable: true })).toEqual([]);
  });
});
