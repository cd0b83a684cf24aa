/**
 * What the user's WebGPU can do, in the terms the lab cares about: whether it exists at all,
 * which adapter it is, `shader-f16` (f16 weights and math), and the limits that decide which
 * models fit (largest buffer, largest storage binding, workgroup sizes).
 */
import { gpuSource, gpuAdvice, type GpuSource } from './source';

export interface GpuLimitsReport {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
}

export type GpuReport =
  | {
      available: true;
      vendor: string;
      architecture: string;
      device: string;
      description: string;
      /** True when the browser fell back to a software adapter (e.g. SwiftShader): slow. */
      isFallbackAdapter: boolean;
      shaderF16: boolean;
      features: string[];
      limits: GpuLimitsReport;
    }
  | { available: false; reason: string; advice: string };

// The browser's advice lives with the sources of adapters; importers keep finding it here.
export { WEBGPU_ADVICE } from './source';

const LIMIT_NAMES: (keyof GpuLimitsReport)[] = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

/** Probes `source` (the installed one, navigator.gpu in a browser). Never throws: a missing WebGPU is a report too. */
export async function probeWebGpu(source: GpuSource | null = gpuSource()): Promise<GpuReport> {
  if (!source) {
    return {
      available: false,
      reason: 'This browser does not expose WebGPU (navigator.gpu is missing).',
      advice: gpuAdvice(),
    };
  }
  const { advice } = source;
  let adapter: GPUAdapter | null;
  try {
    adapter = await source.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `requestAdapter() failed: ${String(e)}`, advice };
  }
  if (!adapter) return { available: false, reason: source.noAdapter, advice };
  const info = adapter.info;
  const limits = Object.fromEntries(LIMIT_NAMES.map((n) => [n, Number(adapter.limits[n])])) as unknown as GpuLimitsReport;
  const features = [...adapter.features].map(String).sort();
  return {
    available: true,
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    shaderF16: adapter.features.has('shader-f16'),
    features,
    limits,
  };
}
