/**
 * The command line on every real model folder under ../shared/real-world/{mlc,hf,peft}, read in
 * place: inspect gives the right numbers or refuses with exit 2 and a JSON error naming what is
 * supported; render works wherever a chat template is; adapter checks the real PEFT adapters.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AdapterReport } from '../../src/cli/adapter';
import type { ModelInspection } from '../../src/engine/load/inspect';
import { cli, removeTempDirs, tempDir, type CliError } from '../helpers/cli';
import { describeRealWorld, REAL_WORLD, realPath, realText } from '../helpers/real-world';

// Qwen2's tokenizer is built from vocab.json + merges.txt (151k entries) wherever readerlm-v2 is read.
vi.setConfig({ testTimeout: 60_000 });
afterAll(removeTempDirs);

type Inspected = ModelInspection & { model: string };
interface PythonRenders {
  now: string;
  conversations: Record<string, { messages: { role: string; content: unknown }[]; tools?: unknown }>;
  templates: Record<string, { folder: string | null; selected: boolean; renders: Record<string, { text: string } | { error: string }> }>;
}
const MODEL_FILES = ['mlc-chat-config.json', 'config.json', 'tensor-cache.json', 'ndarray-cache.json'];

/** Every folder under `top` (itself included) that holds one of `markers`, relative to the real-world folder. */
function foldersWith(top: string, markers: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    const names = readdirSync(dir);
    if (names.some((n) => markers.includes(n))) out.push(relative(REAL_WORLD, dir));
    for (const n of names) if (statSync(join(dir, n)).isDirectory()) walk(join(dir, n));
  };
  if (existsSync(realPath(top))) walk(realPath(top));
  return out.sort();
}

const SMOLLM2 = 'hf/smollm2-135m-arch-tf4.47.0-v4-tokenizer';
const paramBytes = (cache: string) => (JSON.parse(realText(cache)) as { metadata: { ParamBytes: number } }).metadata.ParamBytes;

/** What inspect must say of each folder: numbers (exit 0) or the refusal (exit 2). */
type InspectExpectation = { ok: Omit<Partial<Inspected>, 'config'> & { config?: Partial<Inspected['config']> } } | { refused: { kind: string; message: RegExp } };
const EXPECTED_INSPECT: Record<string, InspectExpectation> = {
  'mlc/readerlm-v2-qwen2-q4f16_1': {
    ok: {
      format: 'mlc',
      architecture: 'qwen2',
      quantization: 'q4f16_1',
      // Qwen2.5-1.5B: 1.54B with the embedding tied
      parameters: 1_543_714_304,
      config: { numLayers: 28, hiddenSize: 1536, intermediateSize: 8960, numHeads: 12, numKvHeads: 2, headDim: 128, vocabSize: 151936, ropeTheta: 5_000_000, ropeScaling: null, tieWordEmbeddings: true, maxPositionEmbeddings: 8192 },
    },
  },
  'mlc/llama3-8b-instruct-q4f16_1': {
    ok: {
      format: 'mlc',
      architecture: 'llama',
      quantization: 'q4f16_1',
      parameters: 8_030_261_248, // Llama-3-8B
      config: { numLayers: 32, hiddenSize: 4096, intermediateSize: 14336, numHeads: 32, numKvHeads: 8, vocabSize: 128256, ropeTheta: 500_000, tieWordEmbeddings: false, maxPositionEmbeddings: 8192 },
    },
  },
  // Only an mlc-chat-config.json: nothing says what the weights are.
  'mlc/llama3-8b-instruct-q4f16_1/alt-llamaxist-meta-llama3': { refused: { kind: 'not-found', message: /tensor-cache\.json nor ndarray-cache\.json/ } },
  'mlc/legacy-redpajama-3b-q4f16_0': { refused: { kind: 'unsupported', message: /model_type.*"llama".*"qwen2"/s } },
  'mlc/NONLLM-descript-audio-codec-tvmjs-caches/dist-params': { refused: { kind: 'unsupported', message: /no mlc-chat-config\.json.*MLC LLM builds/ } },
  'mlc/NONLLM-descript-audio-codec-tvmjs-caches/weights': { refused: { kind: 'unsupported', message: /no mlc-chat-config\.json.*MLC LLM builds/ } },
  [SMOLLM2]: {
    ok: {
      format: 'hf',
      architecture: 'llama',
      quantization: null,
      parameters: 162_826_560, // SmolLM2-135M with this config's untied lm_head: 134.5M + 49152·576
      config: { numLayers: 30, hiddenSize: 576, intermediateSize: 1536, numHeads: 9, numKvHeads: 3, headDim: 64, vocabSize: 49152, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: false, maxPositionEmbeddings: 2048 },
    },
  },
  'hf/qwen2.5-0.5b-merged-transformers-v5.13.1': {
    ok: {
      format: 'hf',
      architecture: 'qwen2',
      parameters: 494_032_768, // Qwen2.5-0.5B
      // transformers v5: rope_parameters.rope_theta, no top-level rope_theta
      config: { numLayers: 24, hiddenSize: 896, intermediateSize: 4864, numHeads: 14, numKvHeads: 2, vocabSize: 151936, ropeTheta: 1_000_000, ropeScaling: null, tieWordEmbeddings: true, maxPositionEmbeddings: 32768 },
    },
  },
  'hf/tinyllama-chat-merged-bnb4bit-tf4.49.0': { refused: { kind: 'unsupported', message: /bitsandbytes/ } },
};

describeRealWorld('command line on real model folders', () => {
  const modelFolders = [...foldersWith('mlc', MODEL_FILES), ...foldersWith('hf', MODEL_FILES)];

  it('finds the model folders the expectations name', () => {
    expect(modelFolders).toEqual(expect.arrayContaining(Object.keys(EXPECTED_INSPECT)));
  });

  describe.each(modelFolders)('inspect %s', (folder) => {
    it('prints JSON and exits 0, or exits 2 with {"error": {kind, message}}; never crashes', async () => {
      const run = await cli('inspect', '--model', realPath(folder));
      expect([0, 2]).toContain(run.code);
      const printed = run.json<Inspected | CliError>();
      const expected = EXPECTED_INSPECT[folder];
      if (run.code === 2) {
        const { error } = printed as CliError;
        expect(['unsupported', 'invalid-input', 'not-found']).toContain(error.kind);
        if (expected && 'refused' in expected) expect(error).toMatchObject(expected.refused);
        else expect.fail(`inspect refused ${folder}: ${error.message}`);
        return;
      }
      const r = printed as Inspected;
      if (expected) {
        expect('ok' in expected, `expected a refusal of ${folder}`).toBe(true);
        if ('ok' in expected) expect(r).toMatchObject(expected.ok);
      }
      // The stored bytes of an MLC build are what its tensor cache's metadata says mlc_llm wrote.
      const cache = ['tensor-cache.json', 'ndarray-cache.json'].map((f) => join(folder, f)).find((f) => existsSync(realPath(f)));
      if (r.format === 'mlc' && cache) expect(r.weights).toMatchObject({ storedBytes: paramBytes(cache), estimated: false });
      expect(r.gpu.bytes).toBeGreaterThan(r.gpu.weightBytes);
      expect(r.gpu.assumptions).toMatchObject({ shaderF16: true, batch: 16 });
    });
  });

  it('readerlm-v2: q4f16_1 / qwen2, stored bytes equal the tensor cache ParamBytes (868547584), every shard listed missing', async () => {
    const r = (await cli('inspect', '--model', realPath('mlc/readerlm-v2-qwen2-q4f16_1'))).json<Inspected>();
    expect(r).toMatchObject({ quantization: 'q4f16_1', architecture: 'qwen2', weights: { storedBytes: 868_547_584, tensors: 311, dtypes: ['float16', 'uint32'] } });
    // The shards are Git LFS pointers under another name in the copy: the folder holds the metadata alone.
    expect(r.files.missing).toEqual(expect.arrayContaining(Array.from({ length: 30 }, (_, i) => `params_shard_${i}.bin`)));
    expect(r.gpu.verdict).toBe('fits');
  });

  it('llama3-8b: stored bytes equal ParamBytes (4517404672); the 1 GiB-class embedding and lm_head need splitting at the guaranteed 128 MiB binding', async () => {
    const r = (await cli('inspect', '--model', realPath('mlc/llama3-8b-instruct-q4f16_1'))).json<Inspected>();
    expect(r.weights.storedBytes).toBe(4_517_404_672);
    expect(r.gpu.verdict).toBe('fits-with-splitting');
    expect(r.gpu.split.map((s) => s.name).sort()).toEqual(['lm_head.q_weight', 'model.embed_tokens.q_weight']);
  });

  it('a Hugging Face folder without weights is estimated from config.json and says which files are missing', async () => {
    const r = (await cli('inspect', '--model', realPath(SMOLLM2))).json<Inspected>();
    expect(r.files.missing).toEqual(['model.safetensors']);
    expect(r.weights).toMatchObject({ estimated: true, storedBytes: 162_826_560 * 4, dtypes: ['F32'] }); // torch_dtype float32
    expect(r.tokenizer).toMatchObject({ loads: true, chatTemplate: true });
  });
});

describeRealWorld('render on real model folders with a chat template', () => {
  const hasTemplate = (folder: string) =>
    existsSync(realPath(folder, 'chat_template.jinja')) ||
    (existsSync(realPath(folder, 'tokenizer_config.json')) && 'chat_template' in (JSON.parse(realText(folder, 'tokenizer_config.json')) as object));
  const folders = ['mlc', 'hf', 'peft'].flatMap((top) => foldersWith(top, ['chat_template.jinja', 'tokenizer_config.json'])).filter(hasTemplate);
  const conversation = [
    { role: 'system', content: 'You answer in one word.' },
    { role: 'user', content: 'What colour is the sea?' },
    { role: 'assistant', content: 'Blue.' },
    { role: 'user', content: 'And the sky at night?' },
  ];

  it('finds the folders with templates', () => {
    expect(folders).toEqual(expect.arrayContaining([SMOLLM2, 'hf/qwen2.5-0.5b-merged-transformers-v5.13.1', 'peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE']));
  });

  // Python jinja2's renders of each folder's template, as transformers does them (written by test/fixtures/chat-templates/render_expected.py).
  const python = JSON.parse(readFileSync(join(__dirname, '../fixtures/chat-templates/expected.json'), 'utf8')) as PythonRenders;
  const pythonDate = python.now.slice(0, 10);
  const plainConversations = Object.entries(python.conversations).filter(([, c]) => c.tools == null && c.messages.every((m) => ['system', 'user', 'assistant'].includes(m.role) && typeof m.content === 'string'));

  describe.each(folders)('render %s', (folder) => {
    const expected = Object.values(python.templates).find((t) => t.folder === folder && t.selected);

    it.skipIf(!expected).each(plainConversations.flatMap(([name]) => [name, `${name}+gen`]))('prints %s byte for byte as Python jinja2 renders it', async (name) => {
      const [conversation, gen] = name.split('+');
      const file = join(await tempDir({ 'messages.json': new TextEncoder().encode(JSON.stringify(python.conversations[conversation].messages)) }), 'messages.json');
      const run = await cli('render', '--model', realPath(folder), '--messages', file, '--date', pythonDate, ...(gen ? [] : ['--no-generation-prompt']));
      const want = expected!.renders[name];
      if ('text' in want) expect(run.stdout).toBe(want.text);
      else expect(run.json<CliError>().error.kind).toBe('invalid-input'); // the template raised
    });

    it('writes every message in order; the text without the generation prompt begins the text with it', async () => {
      const file = join(await tempDir({ 'messages.json': new TextEncoder().encode(JSON.stringify(conversation)) }), 'messages.json');
      const withPrompt = await cli('render', '--model', realPath(folder), '--messages', file, '--date', '2024-07-26');
      expect(withPrompt.code, withPrompt.stdout).toBe(0);
      const without = await cli('render', '--model', realPath(folder), '--messages', file, '--date', '2024-07-26', '--no-generation-prompt');
      expect(without.code, without.stdout).toBe(0);
      let at = 0;
      for (const m of conversation) {
        const i = withPrompt.stdout.indexOf(m.content, at);
        expect(i, `"${m.content}" after offset ${at}`).toBeGreaterThanOrEqual(at);
        at = i + m.content.length;
      }
      // (Meta's first Llama-3 template writes the assistant header whether asked or not.)
      expect(withPrompt.stdout.startsWith(without.stdout)).toBe(true);
    });
  });
});

describeRealWorld('tokenize on a real tokenizer', () => {
  it("gives the Hugging Face ids of llama.cpp's Qwen2 test vector, from readerlm-v2's vocab.json and merges.txt", async () => {
    const dir = 'tokenizer-vectors/llama.cpp-ggml-vocab';
    const text = realText(dir, 'ggml-vocab-qwen2.gguf.inp').split('\n__ggml_vocab_test__\n')[0];
    const ids = realText(dir, 'ggml-vocab-qwen2.gguf.out').split('\n')[0].trim().split(/\s+/).map(Number);
    const run = await cli('tokenize', '--model', realPath('mlc/readerlm-v2-qwen2-q4f16_1'), '--text', text, '--no-special');
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(ids);
  });
});

describeRealWorld('adapter on real PEFT adapters', () => {
  const adapters = foldersWith('peft', ['adapter_config.json']);

  it('describes the complete SmolLM2-135M LoRA against the SmolLM2 config: r8, alpha 16, q/v on all 30 layers', async () => {
    const run = await cli('adapter', '--model', realPath(SMOLLM2), '--adapter', realPath('peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE'));
    expect(run.code, run.stdout).toBe(0);
    expect(run.json<AdapterReport>()).toMatchObject({
      rank: 8,
      alpha: 16,
      rslora: false,
      scaling: 2,
      targets: ['q_proj', 'v_proj'],
      layers: Array.from({ length: 30 }, (_, i) => i),
      parameters: 460_800, // what PEFT prints as trainable params: 30 · (8·576 + 576·8 + 8·576 + 192·8)
    });
  });

  const refusals: Record<string, { kind: string; message: RegExp }> = {
    'peft/NEGATIVE-gpt2-lora-r8-c_attn-peft0.18.1': { kind: 'unsupported', message: /fan_in_fan_out/ },
    'peft/unsloth-tinyllama-lora-r32-modules_to_save': { kind: 'unsupported', message: /modules_to_save/ },
    // Its config alone is in the copy.
    'peft/tinyllama-chat-lora-r16-peft0.19.1': { kind: 'not-found', message: /adapter_model\.safetensors/ },
  };

  it.each(adapters.filter((a) => a in refusals))('refuses %s with exit 2, naming why', async (folder) => {
    const run = await cli('adapter', '--model', realPath(SMOLLM2), '--adapter', realPath(folder));
    expect(run.code, run.stdout).toBe(2);
    expect(run.json<CliError>().error).toMatchObject(refusals[folder]);
  });

  it('every adapter folder is either described or refused with exit 2, never a crash', async () => {
    for (const folder of adapters) {
      const run = await cli('adapter', '--model', realPath(SMOLLM2), '--adapter', realPath(folder));
      expect([0, 2], folder).toContain(run.code);
    }
  });
});
