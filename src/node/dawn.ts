/**
 * WebGPU in Node: Dawn (the `webgpu` package's prebuilt dawn.node) installed as the engine's
 * source of adapters (engine/gpu/source.ts), so the same engine, kernels, tests and benchmarks
 * run headless. Call useDawn() once before the first device request; the engine then acquires
 * devices exactly as in a browser.
 */
import { installGpuSource } from '../engine/gpu/source';
import { prepareVulkan, swiftshaderDriverFile, type VulkanSetup } from './vulkan';

export interface DawnSetup {
  /** How Vulkan was made reachable (Linux only). */
  vulkan: VulkanSetup | null;
  gpu: GPU;
}

type Create = (flags: string[]) => GPU;

let setup: Promise<DawnSetup & { create: Create }> | null = null;

async function start(): Promise<DawnSetup & { create: Create }> {
  const vulkan = process.platform === 'linux' ? prepareVulkan() : null;
  const { create, globals } = await import('webgpu');
  // GPUBufferUsage, GPUMapMode, …: the engine reads them as globals, as in a browser.
  for (const [name, value] of Object.entries(globals)) if (!(name in globalThis)) Object.assign(globalThis, { [name]: value });
  const gpu = create([]);
  installGpuSource({ gpu, noAdapter: noAdapterReason(vulkan), advice: advice() });
  return { vulkan, gpu, create };
}

/** Installs Dawn as the source of adapters (once; later calls return the same setup). */
export async function useDawn(): Promise<DawnSetup> {
  setup ??= start();
  const { vulkan, gpu } = await setup;
  return { vulkan, gpu };
}

export interface DawnAdapterName {
  backend: string;
  name: string;
}

/**
 * Every adapter Dawn sees. WebGPU has no call for this; Dawn lists them in the error it gives when
 * asked for an adapter by a name that none has.
 */
export async function listDawnAdapters(): Promise<DawnAdapterName[]> {
  const { create } = await (setup ??= start());
  const listing = await create(['adapter=\u0001none']).requestAdapter().then(
    () => '',
    (e: unknown) => String(e),
  );
  return [...listing.matchAll(/\* backend: '([^']*)', name: '([^']*)'/g)].map((m) => ({ backend: m[1], name: m[2] }));
}

function noAdapterReason(vulkan: VulkanSetup | null): string {
  if (!vulkan) return 'Dawn (the webgpu package) found no GPU adapter.';
  if (!vulkan.loader) {
    return 'Dawn found no Vulkan loader (libvulkan.so.1): install libvulkan1 (or Chromium, which ships one), or set SPAR_VULKAN_LOADER to a libvulkan.so.1 (e.g. unpacked from Debian\'s libvulkan1 .deb).';
  }
  const files = vulkan.drivers.length ? `driver files ${vulkan.drivers.join(', ')} (${vulkan.driversFrom})` : 'no driver file in the system\'s vulkan/icd.d folders';
  return `Dawn found no Vulkan adapter (loader ${vulkan.loader}; ${files}).`;
}

function advice(): string {
  const swiftshader = swiftshaderDriverFile();
  return (
    'Point VK_ICD_FILENAMES at a Vulkan driver file: a GPU\'s own (NVIDIA: nvidia_icd.json, naming libGLX_nvidia.so.0), or ' +
    (swiftshader ? `SwiftShader's, ${swiftshader} (on the CPU: slow).` : "SwiftShader's vk_swiftshader_icd.json, which Chromium ships (apt-get install chromium: /usr/lib/chromium/vk_swiftshader_icd.json; on the CPU: slow).")
  );
}
