/**
 * tokenizer.json for a model folder that ships only the "slow" tokenizer files: vocab.json +
 * merges.txt (+ added_tokens.json), with tokenizer_config.json naming the class, as many MLC
 * builds list in tokenizer_files. Built the way transformers' convert_slow_tokenizer.py builds
 * the fast tokenizer for that class, so the ids are the ones transformers gives:
 *
 * - Qwen2Tokenizer (Qwen2Converter): byte-level BPE, NFC normalizer, Qwen2's split regex, then
 *   ByteLevel without its own regex;
 * - GPT2Tokenizer (GPT2Converter): byte-level BPE with GPT-2's regex (ByteLevel use_regex), and
 *   a BOS template when add_bos_token is set.
 *
 * Added tokens come from tokenizer_config.json's added_tokens_decoder, or from added_tokens.json
 * for configs older than it (special when the config names them as special tokens).
 */
import { LabError } from '../../errors';
import { allSpecialTokens, tokenContent, type TokenizerConfig } from './tokenizer-config';

/** Qwen2's pre-tokenization pattern (Qwen2Converter). */
const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

export const SLOW_TOKENIZER_CLASSES = ['Qwen2Tokenizer', 'Qwen2TokenizerFast', 'GPT2Tokenizer', 'GPT2TokenizerFast'] as const;

export interface SlowTokenizerFiles {
  /** vocab.json: token → id. */
  vocab: unknown;
  /** merges.txt, as text. */
  merges: string;
  config: TokenizerConfig;
  /** added_tokens.json (token → id), when the folder has one. */
  addedTokens?: unknown;
  /** Names the folder in messages. */
  where: string;
}

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** merges.txt as each slow tokenizer reads it: Qwen2 skips a "#version:" first line and blank lines; GPT-2 drops the first and the last line. */
function readMerges(text: string, qwen2: boolean, where: string): [string, string][] {
  const lines = text.split('\n');
  const kept = (qwen2 ? lines.filter((l, i) => !(i === 0 && l.startsWith('#version:'))) : lines.slice(1, -1)).filter((l) => l.trim());
  return kept.map((line) => {
    const pair = line.trim().split(/\s+/);
    if (pair.length !== 2) throw new LabError('invalid-input', `${where}: merges.txt has the line "${line}", not two tokens separated by a space.`);
    return pair as [string, string];
  });
}

function addedTokens(files: SlowTokenizerFiles): AddedToken[] {
  const decoder = files.config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    return Object.entries(decoder as Record<string, Record<string, unknown>>).map(([id, t]) => {
      const content = tokenContent(t);
      if (content === null || !/^\d+$/.test(id)) throw new LabError('invalid-input', `${files.where}: tokenizer_config.json added_tokens_decoder["${id}"] is not an id with an AddedToken {content, …}.`);
      const special = t.special === true;
      return { id: Number(id), content, single_word: !!t.single_word, lstrip: !!t.lstrip, rstrip: !!t.rstrip, normalized: typeof t.normalized === 'boolean' ? t.normalized : !special, special };
    });
  }
  if (!files.addedTokens || typeof files.addedTokens !== 'object') return [];
  const special = new Set(allSpecialTokens(files.config));
  return Object.entries(files.addedTokens as Record<string, unknown>).map(([content, id]) => {
    if (typeof id !== 'number') throw new LabError('invalid-input', `${files.where}: added_tokens.json gives "${content}" the id ${JSON.stringify(id)}, not a number.`);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special.has(content), special: special.has(content) };
  });
}

/** The tokenizer.json transformers would convert these slow files into. */
export function tokenizerJsonFromSlowFiles(files: SlowTokenizerFiles): Record<string, unknown> {
  const cls = files.config.tokenizer_class;
  if (typeof cls !== 'string' || !(SLOW_TOKENIZER_CLASSES as readonly string[]).includes(cls)) {
    throw new LabError(
      'unsupported',
      `${files.where}: there is no tokenizer.json, and tokenizer_config.json's tokenizer_class ${typeof cls === 'string' ? `"${cls}"` : 'is missing'}: SPaR Lab builds a tokenizer from vocab.json + merges.txt only for ${SLOW_TOKENIZER_CLASSES.join(', ')}. Add the model's tokenizer.json.`,
    );
  }
  if (!files.vocab || typeof files.vocab !== 'object' || Array.isArray(files.vocab)) throw new LabError('invalid-input', `${files.where}: vocab.json is not an object of token → id.`);
  const qwen2 = cls.startsWith('Qwen2');
  const merges = readMerges(files.merges, qwen2, files.where);
  const addPrefixSpace = files.config.add_prefix_space === true;
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: useRegex });
  const bos = tokenContent(files.config.bos_token);
  const added = addedTokens(files);
  const bosId = bos === null ? undefined : (added.find((t) => t.content === bos)?.id ?? (files.vocab as Record<string, number>)[bos]);
  const bosTemplate = !qwen2 && files.config.add_bos_token === true && bos !== null && bosId !== undefined;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: qwen2 ? { type: 'NFC' } : null,
    pre_tokenizer: qwen2
      ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false }, byteLevel(false)] }
      : byteLevel(true),
    post_processor: bosTemplate
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
        }
      : { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: files.vocab,
      merges,
    },
  };
}
