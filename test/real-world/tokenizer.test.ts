/**
 * Tokenizers agree with the Hugging Face ids for the tokenizers we have files for.
 *
 * tokenizer-vectors/llama.cpp-ggml-vocab/*.inp/.out are llama.cpp's test-tokenizer-0 vectors: the
 * texts, separated by a "__ggml_vocab_test__" line, and per text the ids Hugging Face's
 * AutoTokenizer gives (encode without special tokens), one line of ids each.
 */
import { beforeAll, expect, it } from 'vitest';
import { ChatTokenizer } from '../../src/engine/load/tokenizer';
import { tokenizerJsonFromSlowFiles } from '../../src/engine/load/slow-tokenizer';
import type { TokenizerConfig } from '../../src/engine/load/tokenizer-config';
import { describeRealWorld, realJson, realSource, realText } from '../helpers/real-world';

const VECTORS = 'tokenizer-vectors/llama.cpp-ggml-vocab';

/** [text, ids] pairs of a llama.cpp vocab test. */
function vectors(name: string): [string, number[]][] {
  const texts = realText(VECTORS, `${name}.inp`).split('\n__ggml_vocab_test__\n');
  texts.pop(); // the file ends with the separator
  const ids = realText(VECTORS, `${name}.out`).split('\n').slice(0, texts.length);
  expect(ids).toHaveLength(texts.length);
  return texts.map((t, i) => [t, ids[i].split(' ').filter(Boolean).map(Number)]);
}

describeRealWorld('Qwen2 from the slow files of an MLC build (vocab.json + merges.txt, no tokenizer.json)', () => {
  const folder = 'mlc/readerlm-v2-qwen2-q4f16_1';
  let loaded: Promise<ChatTokenizer> | undefined;
  const load = () => (loaded ??= ChatTokenizer.fromSource(realSource(folder))); // 151k tokens and merges: load once
  beforeAll(load, 120_000);

  it("gives exactly the Hugging Face ids of every Qwen2 test text", async () => {
    const tok = await load();
    const cases = vectors('ggml-vocab-qwen2.gguf');
    expect(cases.length).toBe(46);
    for (const [text, ids] of cases) expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it('decodes them back to the text', async () => {
    const tok = await load();
    for (const [text, ids] of vectors('ggml-vocab-qwen2.gguf')) expect(tok.decode(ids)).toBe(text);
  });

  it("maps the special tokens to tokenizer_config.json's added_tokens_decoder ids", async () => {
    const tok = await load();
    const decoder = (realJson(folder, 'tokenizer_config.json') as TokenizerConfig).added_tokens_decoder as Record<string, { content: string }>;
    for (const [id, t] of Object.entries(decoder)) expect(tok.tokenToId(t.content)).toBe(Number(id));
    expect(tok.encode('<|im_start|>user\nhi<|im_end|>')).toEqual([151644, 872, 198, 6023, 151645]);
    expect(tok.eosTokenIds).toEqual([151645]);
    expect(tok.bosTokenId).toBeNull();
  });
});

describeRealWorld('GPT-2 vectors', () => {
  // GPT-2's vocab.json / merges.txt / tokenizer.json are not in the real-world folder, so
  // ggml-vocab-gpt-2.gguf.{inp,out} have no tokenizer to run against.
  it.skip('need GPT-2 tokenizer files, which ../shared/real-world does not have', () => {});
});

describeRealWorld('SmolLM2 (transformers v4 tokenizer.json and tokenizer_config.json)', () => {
  const folder = 'hf/smollm2-135m-arch-tf4.47.0-v4-tokenizer';
  const texts = vectors('ggml-vocab-qwen2.gguf').map(([t]) => t);

  it('loads, and round-trips every test text', async () => {
    const tok = await ChatTokenizer.fromSource(realSource(folder));
    for (const text of texts) expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.encode('Hello world')).toEqual([19556, 905]);
  });

  it("maps its special tokens to the ids in its tokenizer_config.json", async () => {
    const tok = await ChatTokenizer.fromSource(realSource(folder));
    const config = realJson(folder, 'tokenizer_config.json') as TokenizerConfig;
    for (const [id, t] of Object.entries(config.added_tokens_decoder as Record<string, { content: string }>)) expect(tok.tokenToId(t.content)).toBe(Number(id));
    expect(tok.eosTokenIds).toEqual([0]); // eos_token <|endoftext|>
    expect(tok.bosTokenId).toBe(0);
    const chatml = tok.encode('<|im_start|>user\nhi<|im_end|>\n');
    expect(chatml[0]).toBe(1);
    expect(chatml).toContain(2);
    expect(tok.decode(chatml)).toBe('user\nhi\n');
  });

  it('its slow files (vocab.json + merges.txt), converted as a GPT2Tokenizer, give the ids of its tokenizer.json', async () => {
    const fast = await ChatTokenizer.fromSource(realSource(folder));
    const config = realJson(folder, 'tokenizer_config.json') as TokenizerConfig;
    const slow = new ChatTokenizer(tokenizerJsonFromSlowFiles({ vocab: realJson(folder, 'vocab.json'), merges: realText(folder, 'merges.txt'), config, where: folder }), config);
    // tokenizer.json splits digits one by one (a Digits pre-tokenizer) and GPT-2's regex does not,
    // but SmolLM2's merges never join a digit to anything, so the ids agree on numbers too.
    for (const text of [...texts, 'In 2024, 3.14 and 1000000.']) expect(slow.encode(text), JSON.stringify(text)).toEqual(fast.encode(text));
  });
});

describeRealWorld('tokenizer.json files of the PEFT folders', () => {
  it('SmolLM2-Instruct with a transformers v5 tokenizer_config.json: eos <|im_end|>, template from chat_template.jinja', async () => {
    const tok = await ChatTokenizer.fromSource(realSource('peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE'));
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.bosTokenId).toBe(1);
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.decode(tok.encode('<|im_start|>user\nhi<|im_end|>'))).toBe('user\nhi');
  });

  it('TinyLlama (sentencepiece-style BPE in tokenizer.json) loads and round-trips', async () => {
    const tok = await ChatTokenizer.fromSource(realSource('peft/unsloth-tinyllama-lora-r32-modules_to_save'));
    for (const text of ['Hello world', ' this is 🦙.cpp', 'нещо на Български']) expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.bosTokenId).toBe(1);
  });
});
