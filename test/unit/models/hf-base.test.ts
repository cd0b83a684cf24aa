/**
 * The Hugging Face base of lab models, for PEFT's base_model_name_or_path: every web-llm build
 * the lab engine can load maps to the repository it was converted from (an independent table
 * below), and what the lab cannot know is null with a sentence that says what to do.
 */
import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../../src/engine/load/files';
import { buildCatalog } from '../../../src/models/catalog';
import { hfRepoOfMlcBuild, hubIdOfNameOrPath, nameOrPathOf, parseMlcBuildName, peftBaseModel } from '../../../src/models/hf-base';

/** The Hugging Face repositories of web-llm's Llama- and Qwen2-family builds, by converted name (checked on huggingface.co). */
const HF_REPOS: Record<string, string> = {
  'SmolLM2-135M-Instruct': 'HuggingFaceTB/SmolLM2-135M-Instruct',
  'SmolLM2-360M-Instruct': 'HuggingFaceTB/SmolLM2-360M-Instruct',
  'SmolLM2-1.7B-Instruct': 'HuggingFaceTB/SmolLM2-1.7B-Instruct',
  'TinyLlama-1.1B-Chat-v0.4': 'TinyLlama/TinyLlama-1.1B-Chat-v0.4',
  'TinyLlama-1.1B-Chat-v1.0': 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
  'Llama-2-7b-chat-hf': 'meta-llama/Llama-2-7b-chat-hf',
  'Llama-2-13b-chat-hf': 'meta-llama/Llama-2-13b-chat-hf',
  'Llama-3-8B-Instruct': 'meta-llama/Meta-Llama-3-8B-Instruct',
  'Llama-3-70B-Instruct': 'meta-llama/Meta-Llama-3-70B-Instruct',
  'Llama-3.1-8B-Instruct': 'meta-llama/Llama-3.1-8B-Instruct',
  'Llama-3.1-70B-Instruct': 'meta-llama/Llama-3.1-70B-Instruct',
  'Llama-3.2-1B-Instruct': 'meta-llama/Llama-3.2-1B-Instruct',
  'Llama-3.2-3B-Instruct': 'meta-llama/Llama-3.2-3B-Instruct',
  'Hermes-2-Pro-Llama-3-8B': 'NousResearch/Hermes-2-Pro-Llama-3-8B',
  'Hermes-2-Theta-Llama-3-8B': 'NousResearch/Hermes-2-Theta-Llama-3-8B',
  'Hermes-3-Llama-3.1-8B': 'NousResearch/Hermes-3-Llama-3.1-8B',
  'Hermes-3-Llama-3.2-3B': 'NousResearch/Hermes-3-Llama-3.2-3B',
  'DeepSeek-R1-Distill-Llama-8B': 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B',
  'DeepSeek-R1-Distill-Qwen-7B': 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B',
  'Qwen2-0.5B-Instruct': 'Qwen/Qwen2-0.5B-Instruct',
  'Qwen2-1.5B-Instruct': 'Qwen/Qwen2-1.5B-Instruct',
  'Qwen2-7B-Instruct': 'Qwen/Qwen2-7B-Instruct',
  'Qwen2-Math-1.5B-Instruct': 'Qwen/Qwen2-Math-1.5B-Instruct',
  'Qwen2-Math-7B-Instruct': 'Qwen/Qwen2-Math-7B-Instruct',
  'Qwen2.5-0.5B-Instruct': 'Qwen/Qwen2.5-0.5B-Instruct',
  'Qwen2.5-1.5B-Instruct': 'Qwen/Qwen2.5-1.5B-Instruct',
  'Qwen2.5-3B-Instruct': 'Qwen/Qwen2.5-3B-Instruct',
  'Qwen2.5-7B-Instruct': 'Qwen/Qwen2.5-7B-Instruct',
  'Qwen2.5-Coder-0.5B-Instruct': 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
  'Qwen2.5-Coder-1.5B-Instruct': 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
  'Qwen2.5-Coder-3B-Instruct': 'Qwen/Qwen2.5-Coder-3B-Instruct',
  'Qwen2.5-Coder-7B-Instruct': 'Qwen/Qwen2.5-Coder-7B-Instruct',
  'Qwen2.5-Math-1.5B-Instruct': 'Qwen/Qwen2.5-Math-1.5B-Instruct',
};

const catalog = buildCatalog(prebuiltAppConfig.model_list);

describe('MLC build → Hugging Face repository', () => {
  it("maps every Llama / Qwen2-family build in web-llm's list, by id and by repository", () => {
    const family = catalog.filter((e) => e.arch !== null);
    expect(family.length).toBeGreaterThan(60);
    const seen = new Set<string>();
    for (const e of family) {
      const name = parseMlcBuildName(e.modelId)!.name;
      seen.add(name);
      expect(HF_REPOS[name], e.modelId).toBeDefined();
      expect(hfRepoOfMlcBuild(e.modelId), e.modelId).toBe(HF_REPOS[name]);
      expect(hfRepoOfMlcBuild(e.repo!), e.repo!).toBe(HF_REPOS[name]);
    }
    expect([...seen].sort()).toEqual(Object.keys(HF_REPOS).sort());
  });

  it('names no repository for the families the lab engine does not run', () => {
    const others = catalog.filter((e) => e.arch === null);
    expect(others.map((e) => e.modelId)).toContain('Hermes-2-Pro-Mistral-7B-q4f16_1-MLC');
    for (const e of others) expect(hfRepoOfMlcBuild(e.modelId), e.modelId).toBeNull();
  });

  it('reads the converted name and quantization from ids, repositories and local folders', () => {
    expect(parseMlcBuildName('SmolLM2-135M-Instruct-q0f16-MLC')).toEqual({ name: 'SmolLM2-135M-Instruct', quantization: 'q0f16' });
    expect(parseMlcBuildName('mlc-ai/Qwen2.5-0.5B-Instruct-q4f16_1-MLC')).toEqual({ name: 'Qwen2.5-0.5B-Instruct', quantization: 'q4f16_1' });
    expect(parseMlcBuildName('TinyLlama-1.1B-Chat-v1.0-q4f32_1-MLC-1k')).toEqual({ name: 'TinyLlama-1.1B-Chat-v1.0', quantization: 'q4f32_1' });
    expect(parseMlcBuildName('Llama-3.2-1B-Instruct-q4f16_1')).toEqual({ name: 'Llama-3.2-1B-Instruct', quantization: 'q4f16_1' });
    expect(parseMlcBuildName('HuggingFaceTB/SmolLM2-135M-Instruct')).toBeNull();
    expect(hfRepoOfMlcBuild('mlc-ai/Llama-3.2-1B-Instruct-q4f16_1-MLC')).toBe('meta-llama/Llama-3.2-1B-Instruct');
    expect(hfRepoOfMlcBuild('someone/MyFinetune-q4f16_1-MLC')).toBeNull();
  });

  it("takes config.json's _name_or_path only when it is a hub id", async () => {
    expect(hubIdOfNameOrPath('TinyLlama/TinyLlama-1.1B-Chat-v1.0')).toBe('TinyLlama/TinyLlama-1.1B-Chat-v1.0');
    for (const local of ['/content/drive/out', './merged', 'merged', 'out/checkpoint-500', '', null, 3]) expect(hubIdOfNameOrPath(local), String(local)).toBeNull();
    const folder = (c: object) => memorySource({ 'config.json': new TextEncoder().encode(JSON.stringify(c)) });
    expect(await nameOrPathOf(folder({ _name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct', model_type: 'qwen2' }))).toBe('Qwen/Qwen2.5-0.5B-Instruct');
    expect(await nameOrPathOf(folder({ model_type: 'qwen2' }))).toBeNull();
  });
});

describe('the base a PEFT export names', () => {
  it('an MLC build from the hub: the model it was converted from, not the MLC repository', () => {
    const b = peftBaseModel({ type: 'hub', repo: 'mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC' });
    expect(b).toEqual({ repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: null, note: expect.stringContaining('was converted from') });
    expect(peftBaseModel({ type: 'hub', repo: 'mlc-ai/Qwen2.5-0.5B-Instruct-q4f16_1-MLC' }, { format: 'mlc', nameOrPath: null }).repo).toBe('Qwen/Qwen2.5-0.5B-Instruct');
  });

  it('an unknown MLC build: null, and the note says what to do', () => {
    const b = peftBaseModel({ type: 'hub', repo: 'someone/MyFinetune-q4f16_1-MLC' });
    expect(b.repo).toBeNull();
    expect(b.note).toMatch(/does not know which Hugging Face model someone\/MyFinetune-q4f16_1-MLC was converted from/);
    expect(b.note).toMatch(/base_model_name_or_path empty \(null\).*PeftModel\.from_pretrained\(model, adapter_folder\)/);
    // Loaded as an MLC build although its name does not say so.
    expect(peftBaseModel({ type: 'hub', repo: 'someone/my-build' }, { format: 'mlc', nameOrPath: null }).repo).toBeNull();
  });

  it('a Hugging Face checkpoint from the hub keeps its own id (and revision)', () => {
    expect(peftBaseModel({ type: 'hub', repo: 'HuggingFaceTB/SmolLM2-135M-Instruct' })).toMatchObject({ repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: null });
    expect(peftBaseModel({ type: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'a8b602d' }, { format: 'hf', nameOrPath: null })).toMatchObject({ repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'a8b602d' });
    // A checkpoint whose name looks like an MLC build's, loaded as safetensors.
    expect(peftBaseModel({ type: 'hub', repo: 'someone/tiny-q4f16_1' }, { format: 'hf', nameOrPath: null }).repo).toBe('someone/tiny-q4f16_1');
  });

  it("a local folder: its config.json's _name_or_path, or its MLC build name, else null", () => {
    const files = { type: 'files', label: 'my-model' } as const;
    expect(peftBaseModel(files, { format: 'hf', nameOrPath: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' })).toMatchObject({ repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', note: expect.stringContaining('_name_or_path') });
    expect(peftBaseModel(files, { format: 'hf', nameOrPath: '/content/out' })).toMatchObject({ repo: null, note: expect.stringMatching(/config\.json of the folder “my-model” does not name/) });
    expect(peftBaseModel({ type: 'files', label: 'SmolLM2-360M-Instruct-q4f16_1-MLC' }, { format: 'mlc', nameOrPath: null }).repo).toBe('HuggingFaceTB/SmolLM2-360M-Instruct');
    expect(peftBaseModel(files, { format: 'mlc', nameOrPath: null })).toMatchObject({ repo: null, note: expect.stringMatching(/MLC build whose name does not say/) });
    expect(peftBaseModel(files, null)).toMatchObject({ repo: null, note: expect.stringMatching(/is not open/) });
  });

  it('the tiny demo model: null', () => {
    expect(peftBaseModel({ type: 'tiny', seed: 1 })).toMatchObject({ repo: null, note: expect.stringMatching(/exists on no hub/) });
  });

  it('SPaR-toy, shipped with the app: null, and the note says where its files are', () => {
    expect(peftBaseModel({ type: 'bundled', name: 'spar-toy' })).toEqual({
      repo: null,
      revision: null,
      note: expect.stringMatching(/^SPaR-toy \(shipped with the app\) is the model in SPaR Lab's public\/models\/spar-toy\/ folder and exists on no hub, so adapter_config.json leaves base_model_name_or_path empty/),
    });
  });
});
