/**
 * The web-llm worker for real (web-llm's WebWorkerMLCEngineHandler in a module worker) through
 * the connection module: it starts, reports web-llm's prebuilt models, serves a second client
 * over a MessagePort (as the lab worker will), and refuses loads it cannot do with our error
 * kinds — all without downloading anything (SwiftShader has no shader-f16, so an f16 build is
 * refused before any download; an unknown id fails in web-llm itself).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LabError } from '../../src/errors';
import { buildCatalog, pickerRows } from '../../src/models/catalog';
import { probeWebGpu } from '../../src/engine/gpu/report';
import { connectWebLlm, startWebLlmWorker } from '../../workers/webllm-link';

const handle = startWebLlmWorker();
afterAll(() => handle.terminate());

describe('web-llm worker', () => {
  it('starts and reports the prebuilt models, WebGPU and that nothing is loaded', async () => {
    const hello = await handle.hello();
    expect(hello.modelVersion).toMatch(/^v0_2_\d+/);
    expect(hello.loaded).toBeNull();
    expect(hello.webgpu).toBe(true);
    const ids = hello.modelList.map((m) => m.model_id);
    expect(ids).toContain('SmolLM2-135M-Instruct-q0f32-MLC');
    expect(ids).toContain('Qwen2.5-0.5B-Instruct-q4f16_1-MLC');
    // The page builds the picker from it without loading web-llm.
    const rows = pickerRows(buildCatalog(hello.modelList), await probeWebGpu(), { hideUnusable: true, labLoadableOnly: true });
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.every((r) => !r.entry.needsShaderF16)).toBe(true); // SwiftShader: no shader-f16
  });

  it('serves the lab worker\'s client over a port and maps refusals to LabErrors without downloading', async () => {
    const conn = connectWebLlm(handle.createPort());
    expect((await conn.hello()).modelList.length).toBeGreaterThan(50);
    const progress: string[] = [];
    handle.onProgress((p) => progress.push(p.text));

    const unknown = await conn.load(['no-such-model-MLC']).catch((e) => e);
    expect(unknown).toBeInstanceOf(LabError);
    expect(unknown.kind).toBe('not-found');

    const f16 = await conn.load(['SmolLM2-135M-Instruct-q0f16-MLC']).catch((e) => e);
    expect(f16).toBeInstanceOf(LabError);
    expect(f16.kind).toBe('unsupported');
    expect(f16.message).toMatch(/shader-f16/);

    // Nothing was fetched or stored: the refusal came before web-llm's download.
    const config = await caches.open('webllm/config');
    expect(await config.keys()).toHaveLength(0);
    expect(progress).toEqual([]);
    expect((await conn.hello()).loaded).toBeNull();
    conn.close();
  });

  it('cancels a load before it starts', async () => {
    const conn = connectWebLlm(handle.createPort());
    const err = await conn.load(['SmolLM2-135M-Instruct-q0f32-MLC'], { signal: AbortSignal.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err.kind).toBe('cancelled');
    conn.close();
  });
});
