/**
 * Asking the browser for a WebGPU adapter and a device with the features and limits the engine
 * uses. Apart from the engine's Gpu (device.ts, which touches WebGPU globals as it loads), so the
 * lab can try it before choosing an engine, also where WebGPU is missing.
 */

export interface DeviceRequest {
  /** navigator.gpu by default. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Use WGSL subgroup operations when the adapter has them (default true; tests turn it off to cover the fallback). */
  subgroups?: boolean;
}

export interface OpenedDevice {
  ok: true;
  adapter: GPUAdapter;
  device: GPUDevice;
  shaderF16: boolean;
  subgroups: boolean;
}

/** Why no device could be had, in a sentence for the user (the advice on getting WebGPU is separate). */
export interface NoDevice {
  ok: false;
  reason: string;
}

/** An adapter and a device as the engine needs them, or why there is none. Never throws. */
export async function openDevice(req: DeviceRequest = {}): Promise<OpenedDevice | NoDevice> {
  const gpu = req.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { ok: false, reason: 'This browser has no WebGPU (navigator.gpu is missing).' };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: req.powerPreference ?? 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `WebGPU is present but requestAdapter() failed (${String(e)}).` };
  }
  if (!adapter) {
    return { ok: false, reason: 'WebGPU is present but offers no GPU adapter (a blocklisted driver, a disabled GPU, or WebGPU not enabled for this GPU).' };
  }
  const shaderF16 = adapter.features.has('shader-f16');
  const subgroups = (req.subgroups ?? true) && adapter.features.has('subgroups');
  const features: GPUFeatureName[] = [];
  if (shaderF16) features.push('shader-f16');
  if (subgroups) features.push('subgroups' as GPUFeatureName);
  const a = adapter.limits;
  try {
    const device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxBufferSize: a.maxBufferSize,
        maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
        maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
      },
    });
    return { ok: true, adapter, device, shaderF16, subgroups };
  } catch (e) {
    return { ok: false, reason: `WebGPU found an adapter (${adapter.info?.vendor || 'unknown vendor'}) but could not open a device on it (${String(e)}).` };
  }
}
