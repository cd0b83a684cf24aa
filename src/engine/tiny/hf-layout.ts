/**
 * The small files of a Hugging Face checkpoint folder as transformers writes them, in its v4
 * layout (4.47, the era of most checkpoints on the Hub) or its v5 layout, so the tiny test
 * models come in both. The same model, saved by v5 instead of v4:
 *   config.json             rope_theta + rope_scaling → rope_parameters {…, rope_theta, rope_type};
 *                           torch_dtype → dtype; pad_token_id written (null); Qwen2 gains
 *                           layer_types (one "full_attention" / "sliding_attention" per layer)
 *   tokenizer_config.json   no added_tokens_decoder, no chat_template (→ chat_template.jinja),
 *                           additional_special_tokens → extra_special_tokens (a list); adds
 *                           backend "tokenizers", is_local, local_files_only
 *   special_tokens_map.json v4 only
 *   generation_config.json  v5 adds output_attentions, output_hidden_states, use_cache
 * Every file is JSON with sorted keys, 2-space indent and a final newline (json.dumps(…,
 * indent=2, sort_keys=True) + "\n"). Checked against what transformers 4.57.6 and 5.18.0 save
 * for the tiny models, and against real v4/v5 files in test/real-world/hf-config.test.ts.
 */
import type { FileMap } from '../load/files';

export type HfLayout = 'v4' | 'v5';
export const HF_LAYOUTS: readonly HfLayout[] = ['v4', 'v5'];

/** The transformers_version each layout is written as. */
export const HF_LAYOUT_VERSION: Record<HfLayout, string> = { v4: '4.47.0', v5: '5.18.0' };

type Json = Record<string, unknown>;

const sortKeys = (_key: string, value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : value;

/** JSON as transformers writes it: keys sorted at every level, 2-space indent, a final newline. */
export function transformersJson(x: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(x, sortKeys, 2) + '\n');
}

/** A v4-layout config.json as transformers v5 saves the same config (its convert_rope_params_to_dict, then save). */
export function configToV5(v4: Json): Json {
  const { rope_theta, rope_scaling, torch_dtype, ...rest } = v4;
  const scaling = (rope_scaling ?? {}) as Json;
  const ropeType = scaling.rope_type ?? scaling.type ?? 'default';
  const ropeParameters: Json = { ...scaling, rope_theta, rope_type: ropeType };
  if (ropeType === 'llama3' || ropeType === 'yarn' || ropeType === 'longrope') ropeParameters.original_max_position_embeddings ??= v4.max_position_embeddings;
  const out: Json = {
    ...rest,
    dtype: torch_dtype,
    pad_token_id: rest.pad_token_id ?? null,
    rope_parameters: ropeParameters,
    transformers_version: HF_LAYOUT_VERSION.v5,
  };
  if (v4.model_type === 'qwen2') {
    // Qwen2Config.__post_init__: layers from max_window_layers on slide when the window is on.
    const sliding = v4.use_sliding_window === true && v4.sliding_window != null;
    out.layer_types = Array.from({ length: v4.num_hidden_layers as number }, (_, i) =>
      sliding && i >= (v4.max_window_layers as number) ? 'sliding_attention' : 'full_attention',
    );
  }
  return out;
}

/** generation_config.json of a model saved from its config (GenerationConfig.from_model_config). */
export function generationConfigJson(bosTokenId: number, eosTokenId: number, layout: HfLayout): Json {
  const v4 = { _from_model_config: true, bos_token_id: bosTokenId, eos_token_id: eosTokenId, transformers_version: HF_LAYOUT_VERSION[layout] };
  return layout === 'v4' ? v4 : { ...v4, output_attentions: false, output_hidden_states: false, use_cache: true };
}

/** Tokenizer classes transformers v5 loads by model_type whatever tokenizer_class says, and then saves under their own name. */
const V5_TOKENIZER_CLASS: Record<string, string> = { qwen2: 'Qwen2Tokenizer' };

/**
 * tokenizer_config.json and its companions in a layout, from the v4 form of the tokenizer
 * config (with added_tokens_decoder, additional_special_tokens and chat_template inside) of a
 * model of `modelType`.
 */
export function tokenizerConfigFiles(v4: Json, layout: HfLayout, modelType: string): FileMap {
  if (layout === 'v4') return { 'tokenizer_config.json': transformersJson(v4), 'special_tokens_map.json': transformersJson(specialTokensMap(v4)) };
  const { added_tokens_decoder, additional_special_tokens, chat_template, add_bos_token, ...rest } = v4;
  const tokenizerClass = V5_TOKENIZER_CLASS[modelType] ?? v4.tokenizer_class;
  const v5: Json = {
    ...rest,
    tokenizer_class: tokenizerClass,
    backend: 'tokenizers',
    extra_special_tokens: additional_special_tokens ?? [],
    is_local: false,
    local_files_only: false,
    // v5's GPT2Tokenizer saves its byte-decoding `errors` argument.
    ...(tokenizerClass === 'GPT2Tokenizer' ? { errors: 'replace' } : {}),
  };
  const files: FileMap = { 'tokenizer_config.json': transformersJson(v5) };
  if (typeof chat_template === 'string') files['chat_template.jinja'] = new TextEncoder().encode(chat_template);
  return files;
}

/** special_tokens_map.json (v4): the named special tokens with their added-token flags, and the additional ones. */
function specialTokensMap(v4: Json): Json {
  const added = Object.values((v4.added_tokens_decoder ?? {}) as Record<string, Json>);
  const entry = (content: unknown) => {
    const t = added.find((a) => a.content === content);
    if (!t) return content;
    const { special, ...flags } = t;
    return flags;
  };
  const out: Json = {};
  if (v4.additional_special_tokens) out.additional_special_tokens = v4.additional_special_tokens;
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) if (v4[key] != null) out[key] = entry(v4[key]);
  return out;
}
