/**
 * A small byte-level BPE tokenizer (GPT-2 / SmolLM2 / Qwen2 style), trained deterministically
 * on a built-in corpus, written as a Hugging Face tokenizer.json. Real format, real merges: the
 * tiny test models tokenize through the same library path as real models.
 */

/** GPT-2's reversible byte → printable unicode map (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = bs.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
  return map;
}

/** The GPT-2 pre-tokenization pattern (what the ByteLevel pre-tokenizer applies with use_regex). */
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Text the tiny tokenizer learns its merges from: instruction-following chat, the lab's domain. */
export const TINY_CORPUS = [
  'You are a helpful assistant. Answer the question in three sentences.',
  'Write a short poem about the sea, and do not use any commas.',
  'The answer is yes. The answer is no. Is the response following the instruction?',
  'Please refine the response so that it follows every constraint of the instruction.',
  'Judgment: the response does not mention the title in double angular brackets.',
  'Write your entire response in lowercase letters and end it with the phrase "Is there anything else?"',
  'First repeat the request word for word without change, then give your answer.',
  'The quick brown fox jumps over the lazy dog 123 times, then it rests in the sun.',
  'Highlight at least two sections with markdown, for example *highlighted section*.',
  'user: what is the capital of France? assistant: The capital of France is Paris.',
  'There should be 2 paragraphs. Paragraphs are separated by the markdown divider ***.',
  'In your response, the word "language" should appear at least 3 times.',
].join('\n');

/**
 * Trains `numMerges` merges: repeatedly merge the most frequent adjacent pair over the
 * pre-tokenized corpus (ties: the lexicographically smallest pair), so the result is the same
 * on every run and platform.
 */
export function trainBpe(corpus: string, numMerges: number): { merges: [string, string][]; tokens: string[] } {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of corpus.matchAll(PRETOKENIZE)) {
    const word = [...enc.encode(m[0])].map((b) => b2u[b]).join('\u0000');
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  let words = [...counts].map(([w, c]) => ({ symbols: w.split('\u0000'), count: c }));
  const merges: [string, string][] = [];
  const tokens: string[] = [];
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + w.count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [k, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === null) break; // corpus exhausted: every word is one symbol
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    tokens.push(a + b);
    words = words.map((w) => {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.symbols[i]);
      }
      return { symbols: out, count: w.count };
    });
  }
  if (merges.length < numMerges) throw new Error(`the corpus allows only ${merges.length} merges, ${numMerges} asked`);
  return { merges, tokens };
}

/**
 * tokenizer.json of a byte-level BPE with `vocabSize` entries: the special tokens (ids 0..2),
 * the 256 byte symbols, then the learned merges.
 */
export function tinyTokenizerJson(vocabSize: number, corpus = TINY_CORPUS): Record<string, unknown> {
  const base = SPECIAL_TOKENS.length + 256;
  if (vocabSize < base) throw new Error(`vocabulary of ${vocabSize} is too small: a byte-level BPE needs at least ${base} entries`);
  const { merges, tokens } = trainBpe(corpus, vocabSize - base);
  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
  const b2u = bytesToUnicode();
  const byteSymbols = [...b2u].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  byteSymbols.forEach((s, i) => (vocab[s] = SPECIAL_TOKENS.length + i));
  tokens.forEach((t, i) => (vocab[t] = base + i));
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * The same tokenizer as the "slow" files a GPT2Tokenizer reads (vocab.json, and merges.txt with
 * its "#version" header), for folders that ship no tokenizer.json.
 */
export function tinySlowTokenizerFiles(vocabSize: number, corpus = TINY_CORPUS): { 'vocab.json': string; 'merges.txt': string } {
  const model = tinyTokenizerJson(vocabSize, corpus).model as { vocab: Record<string, number>; merges: string[] };
  return { 'vocab.json': JSON.stringify(model.vocab), 'merges.txt': `#version: 0.2\n${model.merges.join('\n')}\n` };
}

/** ChatML, as SmolLM2-Instruct and Qwen2.5-Instruct use it. */
export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function tinyTokenizerConfig(): Record<string, unknown> {
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((content, id) => [String(id), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
    ),
    bos_token: '<|endoftext|>',
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    chat_template: TINY_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 2048,
    tokenizer_class: 'GPT2Tokenizer',
  };
}

export const TINY_EOS_ID = 2; // <|im_end|>
export const TINY_BOS_ID = 0; // <|endoftext|>
