/**
 * Asking for a WebGPU adapter and a device with the features and limits the engine uses, from
 * the host's source (source.ts: navigator.gpu, or Dawn in Node). Apart from the engine's Gpu
 * (device.ts), so the lab can try it before choosing an engine, also where WebGPU is missing.
 */
import { browserSource, gpuAdvice, gpuSource } from './source';

export interface DeviceRequest {
  /** The installed source (navigator.gpu in a browser) by default. */
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

/** Why no device could be had, in a sentence for the user, and separately how to get one. */
export interface NoDevice {
  ok: false;
  reason: string;
  advice: string;
}

/** An adapter and a device as the engine needs them, or why there is none. Never throws. */
export async function openDevice(req: DeviceRequest = {}): Promise<OpenedDevice | NoDevice> {
  const source = req.gpu ? browserSource(req.gpu) : gpuSource();
  if (!source) return { ok: false, reason: 'This browser has no WebGPU (navigator.gpu is missing).', advice: gpuAdvice() };
  const { advice } = source;
  let adapter: GPUAdapter | null;
  try {
    adapter = await source.gpu.requestAdapter({ powerPreference: req.powerPreference ?? 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `WebGPU is present but requestAdapter() failed (${String(e)}).`, advice };
  }
  if (!adapter) return { ok: false, reason: source.noAdapter, advice };
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
    return { ok: false, reason: `WebGPU found an adapter (${adapter.info?.vendor || 'unknown vendor'}) but could not open a device on it (${String(e)}).`, advice };
  }
}
