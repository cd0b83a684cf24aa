/**
 * Which Vulkan driver files Dawn gets (src/node/vulkan.ts): the ones the environment names, else
 * the system's icd.d folders, else SwiftShader's beside Chromium (CHROME_PATH's folder first).
 */
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareVulkan } from '../../../src/node/vulkan';

const root = mkdtempSync(join(tmpdir(), 'spar-vulkan-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fixedDirs = ['/usr/local/etc', '/etc', '/usr/local/share', '/usr/share', '/etc/xdg'].map((d) => join(d, 'vulkan', 'icd.d'));
// Where the system has driver files, or NVIDIA's kernel driver is loaded, those come first.
const systemHasDrivers = existsSync('/proc/driver/nvidia/version') || fixedDirs.some((d) => {
  try {
    return readdirSync(d).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
});
const isolated = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  HOME: join(root, 'home'),
  XDG_CONFIG_DIRS: join(root, 'none'),
  XDG_DATA_DIRS: join(root, 'none'),
  ...extra,
});

describe('prepareVulkan', () => {
  it('keeps the driver files the environment names', () => {
    const env = isolated({ VK_DRIVER_FILES: '/a/x_icd.json:/b/y_icd.json' });
    expect(prepareVulkan(env)).toMatchObject({ drivers: ['/a/x_icd.json', '/b/y_icd.json'], driversFrom: 'environment' });
    expect(env.VK_DRIVER_FILES).toBe('/a/x_icd.json:/b/y_icd.json');
  });

  it("finds the system's driver files in the loader's icd.d folders, and leaves the environment alone", () => {
    const icd = join(root, 'data', 'vulkan', 'icd.d');
    mkdirSync(icd, { recursive: true });
    writeFileSync(join(icd, 'gpu_icd.json'), '{}');
    const env = isolated({ XDG_DATA_DIRS: join(root, 'data') });
    const setup = prepareVulkan(env);
    expect(setup.driversFrom).toBe('system');
    expect(setup.drivers).toContain(join(icd, 'gpu_icd.json'));
    expect(env.VK_ICD_FILENAMES).toBeUndefined();
  });

  it.skipIf(systemHasDrivers)("falls back to SwiftShader's driver file beside Chromium, and names it for the loader", () => {
    const chrome = join(root, 'chrome');
    mkdirSync(chrome, { recursive: true });
    writeFileSync(join(chrome, 'chromium'), '');
    writeFileSync(join(chrome, 'vk_swiftshader_icd.json'), '{}');
    const env = isolated({ CHROME_PATH: join(chrome, 'chromium') });
    const setup = prepareVulkan(env);
    expect(setup).toMatchObject({ drivers: [join(chrome, 'vk_swiftshader_icd.json')], driversFrom: 'swiftshader' });
    expect(env.VK_ICD_FILENAMES).toBe(join(chrome, 'vk_swiftshader_icd.json'));
  });
});
