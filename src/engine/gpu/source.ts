/**
 * Where WebGPU adapters come from: `navigator.gpu` in a page or worker, or a source the host
 * installs before asking for a device (src/node/dawn.ts installs Dawn's `create()` in Node). The
 * engine asks here and never knows which; only the texts a user reads when no adapter comes
 * (why, and what to do) belong to the host.
 */

export interface GpuSource {
  gpu: GPU;
  /** Why requestAdapter() gave no adapter, in this host's terms. */
  noAdapter: string;
  /** How to get a working adapter here. */
  advice: string;
}

export const WEBGPU_ADVICE =
  'SPaR Lab needs WebGPU. Use a recent Chrome or Edge (113+) on Windows, macOS or ChromeOS, ' +
  'Chrome on Android 121+, or Safari 26+. On Linux, start Chrome with ' +
  '--enable-unsafe-webgpu --enable-features=Vulkan (or enable chrome://flags/#enable-unsafe-webgpu). ' +
  'Firefox 141+ has WebGPU on Windows; elsewhere enable dom.webgpu.enabled in about:config. ' +
  'Check chrome://gpu for "WebGPU: Hardware accelerated".';

let installed: GpuSource | null = null;

/** Makes `source` the one every later device request uses (null: back to navigator.gpu). */
export function installGpuSource(source: GpuSource | null): void {
  installed = source;
}

/** A browser's `gpu` object as a source. */
export function browserSource(gpu: GPU): GpuSource {
  return {
    gpu,
    noAdapter: 'WebGPU is present but offers no GPU adapter (a blocklisted driver, a disabled GPU, or WebGPU not enabled for this GPU).',
    advice: WEBGPU_ADVICE,
  };
}

/** The installed source, else navigator.gpu; null where there is neither. */
export function gpuSource(): GpuSource | null {
  if (installed) return installed;
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  return gpu ? browserSource(gpu) : null;
}

/** What to do where gpuSource() offers nothing usable. */
export function gpuAdvice(): string {
  return installed?.advice ?? WEBGPU_ADVICE;
}
