/**
 * What the user's WebGPU can do, in the terms the lab cares about: whether it exists at all,
 * which adapter it is, `shader-f16` (f16 weights and math), and the limits that decide which
 * models fit (largest buffer, largest storage binding, workgroup sizes).
 */

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

export const WEBGPU_ADVICE =
  'SPaR Lab needs WebGPU. Use a recent Chrome or Edge (113+) on Windows, macOS or ChromeOS, ' +
  'Chrome on Android 121+, or Safari 26+. On Linux, start Chrome with ' +
  '--enable-unsafe-webgpu --enable-features=Vulkan (or enable chrome://flags/#enable-unsafe-webgpu). ' +
  'Firefox 141+ has WebGPU on Windows; elsewhere enable dom.webgpu.enabled in about:config. ' +
  'Check chrome://gpu for "WebGPU: Hardware accelerated".';

const LIMIT_NAMES: (keyof GpuLimitsReport)[] = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

/** Probes `gpu` (navigator.gpu by default). Never throws: a missing WebGPU is a report too. */
export async function probeWebGpu(
  gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu,
): Promise<GpuReport> {
  if (!gpu) {
    return {
      available: false,
      reason: 'This browser does not expose WebGPU (navigator.gpu is missing).',
      advice: WEBGPU_ADVICE,
    };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `requestAdapter() failed: ${String(e)}`, advice: WEBGPU_ADVICE };
  }
  if (!adapter) {
    return {
      available: false,
      reason: 'WebGPU is present but no GPU adapter is available (blocklisted driver or disabled GPU).',
      advice: WEBGPU_ADVICE,
    };
  }
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
