/**
 * Vulkan for Dawn in Node on Linux, made reachable before the first adapter is asked for.
 *
 * The loader (libvulkan.so.1): the system's; else SPAR_VULKAN_LOADER (a path, e.g. unpacked from
 * Debian's libvulkan1 .deb); else the copy Chromium or Chrome ship beside their binary. Dawn
 * dlopens the loader by its soname, and LD_LIBRARY_PATH is read only as a process starts, so a
 * copy off the library path is loaded into this process first (kept loaded): Dawn's dlopen then
 * finds it by soname.
 *
 * The driver files (ICD JSON): VK_DRIVER_FILES / VK_ICD_FILENAMES as given; else the system's
 * (…/vulkan/icd.d/*.json); else, where NVIDIA's kernel driver is loaded, the driver files its
 * container mount brings (/usr/local/nvidia/share/vulkan/icd.d), or one written for its Vulkan
 * library libGLX_nvidia.so.0 when none names it; else SwiftShader's, from Chromium or Chrome (a
 * CPU implementation: slow, but the same WGSL).
 */
import { existsSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface VulkanSetup {
  /** 'libvulkan.so.1' when the system's was found, else the path loaded; null: none found. */
  loader: string | null;
  /** The driver files the loader reads ([] where it searches the system's folders and found none). */
  drivers: string[];
  driversFrom: 'environment' | 'system' | 'nvidia' | 'swiftshader' | 'none';
}

/** Where Chromium and Chrome keep their own libvulkan.so.1 and vk_swiftshader_icd.json. */
function browserDirs(env: NodeJS.ProcessEnv): string[] {
  const dirs = ['/usr/lib/chromium', '/usr/lib/chromium-browser', '/opt/google/chrome', '/opt/chromium.org/chromium'];
  if (env.CHROME_PATH && existsSync(env.CHROME_PATH)) dirs.unshift(dirname(realpathSync(env.CHROME_PATH)));
  return dirs;
}

/** The Vulkan loader's driver-file folders on Linux, in its search order. */
function icdDirs(env: NodeJS.ProcessEnv): string[] {
  const home = homedir();
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  return [
    env.XDG_CONFIG_HOME || join(home, '.config'),
    ...configDirs,
    '/usr/local/etc',
    '/etc',
    env.XDG_DATA_HOME || join(home, '.local/share'),
    ...dataDirs,
  ].map((d) => join(d, 'vulkan', 'icd.d'));
}

function jsonFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

// glibc's values; os.constants.dlopen has no RTLD_NODELETE.
const RTLD_NOW = 0x2;
const RTLD_GLOBAL = 0x100;
const RTLD_NODELETE = 0x1000;

/**
 * dlopens `file` and keeps it loaded. process.dlopen expects a Node addon: a plain library loads,
 * then fails "did not self-register", and RTLD_NODELETE keeps it in the process all the same.
 */
function loadLibrary(file: string): boolean {
  try {
    process.dlopen({ exports: {} }, file, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    return true;
  } catch (e) {
    return String(e).includes('did not self-register');
  }
}

function findLoader(env: NodeJS.ProcessEnv): string | null {
  const candidates = ['libvulkan.so.1', ...(env.SPAR_VULKAN_LOADER ? [env.SPAR_VULKAN_LOADER] : []), ...browserDirs(env).map((d) => join(d, 'libvulkan.so.1'))];
  return candidates.find((c) => (c === 'libvulkan.so.1' || existsSync(c)) && loadLibrary(c)) ?? null;
}

/** NVIDIA's driver files where its kernel driver is loaded: the container mount's, else one written for its library. */
function nvidiaDrivers(env: NodeJS.ProcessEnv): string[] {
  if (!existsSync('/proc/driver/nvidia/version')) return [];
  const mounted = jsonFilesIn('/usr/local/nvidia/share/vulkan/icd.d');
  if (mounted.length) return mounted;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/local/nvidia/lib'];
  const library = dirs.map((d) => join(d, 'libGLX_nvidia.so.0')).find((f) => existsSync(f));
  if (!library) return [];
  const file = join(tmpdir(), 'spar-lab-nvidia_icd.json');
  writeFileSync(file, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.3.0' } }) + '\n');
  return [file];
}

function setDrivers(env: NodeJS.ProcessEnv, files: string[]): void {
  // VK_DRIVER_FILES for current loaders, VK_ICD_FILENAMES for older ones (Debian 12 ships 1.3.239).
  env.VK_DRIVER_FILES = env.VK_ICD_FILENAMES = files.join(':');
}

/** Finds (and loads) the loader and settles the driver files in `env`. Never throws. */
export function prepareVulkan(env: NodeJS.ProcessEnv = process.env): VulkanSetup {
  const loader = findLoader(env);
  const given = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (given) return { loader, drivers: given.split(':'), driversFrom: 'environment' };
  const system = icdDirs(env).flatMap(jsonFilesIn);
  if (system.length) return { loader, drivers: system, driversFrom: 'system' };
  const nvidia = nvidiaDrivers(env);
  if (nvidia.length) {
    setDrivers(env, nvidia);
    return { loader, drivers: nvidia, driversFrom: 'nvidia' };
  }
  const swiftshader = swiftshaderDriverFile(env);
  if (swiftshader) {
    setDrivers(env, [swiftshader]);
    return { loader, drivers: [swiftshader], driversFrom: 'swiftshader' };
  }
  return { loader, drivers: [], driversFrom: 'none' };
}

/** SwiftShader's driver file from an installed Chromium or Chrome. */
export function swiftshaderDriverFile(env: NodeJS.ProcessEnv = process.env): string | null {
  return (
    browserDirs(env)
      .map((d) => join(d, 'vk_swiftshader_icd.json'))
      .find((f) => existsSync(f)) ?? null
  );
}
