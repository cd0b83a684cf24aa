/**
 * Inspecting a Hugging Face repository for transformers.js before downloading it: a fake hub
 * answers the tree API and config.json the way huggingface.co does (LFS files carry lfs.size),
 * so the dtypes, sizes, refusals and messages are checked without the network.
 */
import { describe, expect, it } from 'vitest';
import { AutoModelForCausalLM } from '@huggingface/transformers';
import { LabError } from '../../../src/errors';
import {
  CAUSAL_LM_TYPES,
  SUGGESTED_ONNX_MODELS,
  TRANSFORMERS_CACHE,
  inspectOnnxRepo,
  preferredDtype,
  storageFit,
} from '../../../src/models/onnx-hub';
import { checkSource } from '../../../src/lab/run-config';
import { LAB_MODEL_CACHE } from '../../../src/engine/load/fetch';

const HUB = 'https://huggingface.co';
const MB = 1e6;

type Entry = { type: 'file' | 'directory'; path: string; size: number; lfs?: { size: number } };
const file = (path: string, size: number): Entry => (size > 10 * MB ? { type: 'file', path, size, lfs: { size } } : { type: 'file', path, size });

interface FakeRepo {
  config: Record<string, unknown>;
  root: Entry[];
  onnx?: Entry[];
}

/** A hub with one repository, answering like huggingface.co; records the URLs asked. */
function fakeHub(repo: string, r: FakeRepo, revision = 'main') {
  const asked: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    const url = String(input);
    asked.push(url);
    const rev = encodeURIComponent(revision);
    if (url === `${HUB}/api/models/${repo}/tree/${rev}`) return Response.json(r.root);
    if (url === `${HUB}/api/models/${repo}/tree/${rev}/onnx` && r.onnx) return Response.json(r.onnx);
    if (url === `${HUB}/${repo}/resolve/${rev}/config.json`) return Response.json(r.config);
    return new Response('{"error":"Repository not found"}', { status: 401 });
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

const SIDE: Entry[] = [file('config.json', 1_000), file('generation_config.json', 200), file('tokenizer.json', 7 * MB), file('tokenizer_config.json', 4_000)];
const SIDE_BYTES = 1_000 + 200 + 7 * MB + 4_000;

const QWEN: FakeRepo = {
  config: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], 'transformers.js_config': { use_external_data_format: { 'model.onnx': true } } },
  root: [file('README.md', 3_000), ...SIDE, { type: 'directory', path: 'onnx', size: 0 }],
  onnx: [
    file('onnx/model.onnx', 1 * MB),
    file('onnx/model.onnx_data', 1_990 * MB),
    file('onnx/model_fp16.onnx', 997 * MB),
    file('onnx/model_q4.onnx', 786 * MB),
    file('onnx/model_q4f16.onnx', 483 * MB),
    file('onnx/model_quantized.onnx', 512 * MB),
    file('onnx/model_int8.onnx', 512 * MB),
    file('onnx/model_bnb4.onnx', 764 * MB),
    file('onnx/embed_tokens.onnx', 100 * MB),
  ],
};

const none = { caches: null } as const;

describe('inspecting an ONNX repository', () => {
  it('lists every dtype the repository has with its download, external data included, and offers the ones the lab runs', async () => {
    const hub = fakeHub('onnx-community/Qwen2.5-0.5B-Instruct', QWEN);
    const r = await inspectOnnxRepo('onnx-community/Qwen2.5-0.5B-Instruct', { fetch: hub.fetch, ...none });
    expect(r).toMatchObject({ repo: 'onnx-community/Qwen2.5-0.5B-Instruct', revision: 'main', modelType: 'qwen2', architectures: ['Qwen2ForCausalLM'], usable: true, problem: null });
    expect(r.side.map((f) => f.path)).toEqual(['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(r.variants.map((v) => [v.dtype, v.supported])).toEqual([
      ['fp32', true],
      ['fp16', true],
      ['q8', true],
      ['q4', true],
      ['int8', false],
      ['q4f16', false],
      ['bnb4', false],
    ]);
    const byDtype = Object.fromEntries(r.variants.map((v) => [v.dtype, v]));
    expect(byDtype.fp32.files.map((f) => f.path)).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data']);
    expect(byDtype.fp32.totalBytes).toBe(SIDE_BYTES + 1 * MB + 1_990 * MB);
    expect(byDtype.q4.totalBytes).toBe(SIDE_BYTES + 786 * MB);
    expect(byDtype.q4.downloadBytes).toBe(byDtype.q4.totalBytes);
    expect(byDtype.q8.files.map((f) => f.path)).toEqual(['onnx/model_quantized.onnx']);
    // model_int8.onnx loads only as transformers.js's dtype "int8", not as q8.
    expect(byDtype.int8.why).toMatch(/only as dtype "int8"/);
    expect(r.others).toEqual(['onnx/embed_tokens.onnx']);
    // Three small requests, no weights.
    expect(hub.asked).toEqual([`${HUB}/api/models/onnx-community/Qwen2.5-0.5B-Instruct/tree/main`, `${HUB}/onnx-community/Qwen2.5-0.5B-Instruct/resolve/main/config.json`, `${HUB}/api/models/onnx-community/Qwen2.5-0.5B-Instruct/tree/main/onnx`]);
  });

  it('does not offer weights split into external data that config.json does not declare (transformers.js would not fetch them)', async () => {
    const repo: FakeRepo = { ...QWEN, config: { model_type: 'llama' } };
    const r = await inspectOnnxRepo('o/undeclared', { fetch: fakeHub('o/undeclared', repo).fetch, ...none });
    const fp32 = r.variants.find((v) => v.dtype === 'fp32')!;
    expect(fp32.supported).toBe(false);
    expect(fp32.why).toMatch(/1 external-data file\(s\).*use_external_data_format/);
    expect(r.variants.find((v) => v.dtype === 'q4')!.supported).toBe(true);
  });

  it('says clearly that an encoder cannot generate, without listing its onnx/ folder', async () => {
    const bert: FakeRepo = { config: { model_type: 'bert', architectures: ['BertModel'] }, root: [...SIDE, { type: 'directory', path: 'onnx', size: 0 }], onnx: [file('onnx/model.onnx', 90 * MB)] };
    const hub = fakeHub('Xenova/all-MiniLM-L6-v2', bert);
    const r = await inspectOnnxRepo('Xenova/all-MiniLM-L6-v2', { fetch: hub.fetch, ...none });
    expect(r.usable).toBe(false);
    expect(r.problem).toMatch(/is a bert model \(BertModel\), not a causal language model transformers\.js can generate text with/);
    expect(r.variants).toEqual([]);
    expect(hub.asked.some((u) => u.endsWith('/onnx'))).toBe(false);
  });

  it('says where a causal LM has no ONNX weights, or only in parts transformers.js does not generate with', async () => {
    const plain: FakeRepo = { config: { model_type: 'llama' }, root: [...SIDE, file('model.safetensors', 300 * MB)] };
    const r = await inspectOnnxRepo('HuggingFaceTB/SmolLM2-135M', { fetch: fakeHub('HuggingFaceTB/SmolLM2-135M', plain).fetch, ...none });
    expect(r.problem).toMatch(/no onnx\/ folder.*onnx-community/);
    const parts: FakeRepo = { config: { model_type: 'llama' }, root: [...SIDE, { type: 'directory', path: 'onnx', size: 0 }], onnx: [file('onnx/decoder_model_merged.onnx', 500 * MB)] };
    const p = await inspectOnnxRepo('Xenova/old', { fetch: fakeHub('Xenova/old', parts).fetch, ...none });
    expect(p).toMatchObject({ usable: false, variants: [], others: ['onnx/decoder_model_merged.onnx'] });
    expect(p.problem).toMatch(/no model\*\.onnx.*decoder_model_merged\.onnx/);
  });

  it('refuses a repository with weights only in dtypes the lab does not offer, or without tokenizer.json', async () => {
    const q4f16: FakeRepo = { config: { model_type: 'qwen3' }, root: [...SIDE, { type: 'directory', path: 'onnx', size: 0 }], onnx: [file('onnx/model_q4f16.onnx', 400 * MB)] };
    const r = await inspectOnnxRepo('o/q4f16-only', { fetch: fakeHub('o/q4f16-only', q4f16).fetch, ...none });
    expect(r.problem).toBe('o/q4f16-only has ONNX weights only as q4f16; SPaR Lab offers fp32, fp16, q4, q8.');
    const noTok: FakeRepo = { ...QWEN, root: QWEN.root.filter((e) => e.path !== 'tokenizer.json') };
    const t = await inspectOnnxRepo('o/no-tokenizer', { fetch: fakeHub('o/no-tokenizer', noTok).fetch, ...none });
    expect(t).toMatchObject({ usable: false, problem: expect.stringContaining('no tokenizer.json') });
  });

  it("counts files already stored in this browser (the lab's cache or transformers.js's) as downloaded", async () => {
    const stored: Record<string, string[]> = {
      [LAB_MODEL_CACHE]: [`${HUB}/o/cached/resolve/main/config.json`, `${HUB}/o/cached/resolve/main/onnx/model_q4.onnx`],
      [TRANSFORMERS_CACHE]: [`${HUB}/o/cached/resolve/main/tokenizer.json`],
    };
    const caches = {
      open: async (name: string) => ({ match: async () => undefined, put: async () => {}, delete: async () => false, keys: async () => (stored[name] ?? []).map((u) => new Request(u)) }),
    };
    const r = await inspectOnnxRepo('o/cached', { fetch: fakeHub('o/cached', QWEN).fetch, caches });
    const q4 = r.variants.find((v) => v.dtype === 'q4')!;
    expect(q4.files[0].cached).toBe(true);
    expect(q4.downloadBytes).toBe(200 + 4_000);
    expect(r.variants.find((v) => v.dtype === 'fp16')!.downloadBytes).toBe(200 + 4_000 + 997 * MB);
  });

  it('asks for a revision by name, encoded', async () => {
    const hub = fakeHub('o/rev', QWEN, 'refs/pr/1');
    const r = await inspectOnnxRepo('o/rev', { fetch: hub.fetch, revision: 'refs/pr/1', ...none });
    expect(r.revision).toBe('refs/pr/1');
    expect(hub.asked[0]).toBe(`${HUB}/api/models/o/rev/tree/refs%2Fpr%2F1`);
  });
});

describe('what goes wrong, said so', () => {
  const answering = (status: number) => (async () => new Response('{}', { status })) as typeof fetch;
  const failure = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as LabError);

  it('a name that is not owner/name, before any request', async () => {
    let asked = 0;
    const e = await failure(inspectOnnxRepo('just-a-name', { fetch: (async () => (asked++, Response.json([]))) as typeof fetch, ...none }));
    expect(e).toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('owner/name') });
    expect(asked).toBe(0);
  });

  it('a repository the hub does not know (404, or 401 as it answers for missing and private ones)', async () => {
    for (const status of [401, 404]) {
      const e = await failure(inspectOnnxRepo('o/missing', { fetch: answering(status), ...none }));
      expect(e).toMatchObject({ kind: 'not-found', message: expect.stringMatching(/huggingface\.co has no public repository o\/missing .*Check the name/) });
    }
  });

  it('a gated repository, and a server error', async () => {
    expect(await failure(inspectOnnxRepo('meta-llama/x', { fetch: answering(403), ...none }))).toMatchObject({ kind: 'network', message: expect.stringContaining('gated') });
    expect(await failure(inspectOnnxRepo('o/x', { fetch: answering(503), ...none }))).toMatchObject({ kind: 'network', message: expect.stringContaining('HTTP 503') });
  });

  it('offline: nothing downloaded, and cached models still load', async () => {
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const e = await failure(inspectOnnxRepo('o/x', { fetch: offline, ...none }));
    expect(e).toBeInstanceOf(LabError);
    expect(e).toMatchObject({ kind: 'network', message: expect.stringMatching(/offline or huggingface\.co cannot be reached \(Failed to fetch\).*still load offline/) });
  });
});

describe('dtypes and the free space', () => {
  it('preselects what runs best on the device', async () => {
    const r = await inspectOnnxRepo('o/q', { fetch: fakeHub('o/q', QWEN).fetch, ...none });
    expect(preferredDtype(r, 'wasm', false)).toBe('q8');
    expect(preferredDtype(r, 'webgpu', true)).toBe('q4');
    const fp = { ...r, variants: r.variants.filter((v) => v.dtype === 'fp16' || v.dtype === 'fp32') };
    expect(preferredDtype(fp, 'webgpu', true)).toBe('fp16');
    expect(preferredDtype(fp, 'webgpu', false)).toBe('fp32');
    expect(preferredDtype({ ...r, variants: [] }, 'wasm', false)).toBeNull();
  });

  it('checks a download against the free space navigator.storage.estimate() reports', () => {
    const GB = 2 ** 30;
    expect(storageFit(460 * MB, { usage: 1 * GB, quota: 10 * GB })).toEqual({ verdict: 'fits', message: expect.stringMatching(/^Downloads 439 MiB; 9\.0 GiB free/) });
    expect(storageFit(3 * GB, { usage: 6 * GB, quota: 9.5 * GB }).verdict).toBe('tight');
    expect(storageFit(3 * GB, { usage: 8 * GB, quota: 10 * GB })).toEqual({ verdict: 'too-large', message: expect.stringMatching(/only 2\.0 GiB more.*smaller dtype/) });
    expect(storageFit(1, { usage: null, quota: null }).verdict).toBe('unknown');
    expect(storageFit(0, null).verdict).toBe('fits');
  });
});

describe('the lists kept beside transformers.js', () => {
  it('knows the same causal LM model types as the installed transformers.js', () => {
    const installed = new Set(AutoModelForCausalLM.MODEL_CLASS_MAPPINGS.flatMap((m: Map<string, unknown>) => [...m.keys()]));
    expect([...CAUSAL_LM_TYPES].sort()).toEqual([...installed].sort());
  });

  it('suggests hub repositories a binding accepts', () => {
    for (const s of SUGGESTED_ONNX_MODELS) expect(checkSource({ type: 'hub', repo: s.repo })).toEqual({ type: 'hub', repo: s.repo });
  });
});
