/**
 * `CausalLm` (transformers.ts) over a transformers.js causal LM (AutoModelForCausalLM): each call
 * is one run of the model's ONNX graph through transformers.js's own forward, which fills in what
 * the graph wants besides our tokens (position ids from the attention mask, with the model's own
 * offset such as Gemma's; use_cache_branch; an empty cache on the first call).
 *
 * Inputs: input_ids [B, T] and attention_mask [B, past + T], int64, no padding (every row of a
 * batch has the same length); num_logits_to_keep where the graph takes it, so a long prompt's
 * prefill computes one row of logits rather than T. Outputs: logits [B, T or keep, V] (f32, or
 * f16 converted here) and present.* tensors, renamed to the past names the next call feeds, as
 * transformers.js's generate does. On WebGPU the present tensors stay on the GPU between steps;
 * selecting rows of such a cache reads it back once.
 *
 * ONNX Runtime's wasm runs a graph without ever giving the worker's event loop a turn, so a cancel
 * message would wait for the whole generation: after each forward, one task boundary lets it in
 * before the backend checks its signal.
 */
import { DynamicCache, Tensor } from '@huggingface/transformers';
import { LabError } from '../errors';
import { f16ArrayToF32 } from '../engine/model/dtypes';
import type { CausalLm, ForwardResult } from './transformers';

/** The parts of transformers.js's PreTrainedModel used here. */
export interface TransformersModel {
  forward(inputs: Record<string, unknown>): Promise<Record<string, Tensor>>;
}

/** Past state of B sequences of `length` positions each: the tensors the next forward feeds, by input name. */
export interface OnnxCache {
  tensors: Record<string, Tensor>;
  rows: number;
  length: number;
}

/** transformers.js's present → past names (modeling_utils getPastKeyValues), hybrid caches first. */
const PAST_NAMES: readonly [string, string][] = [
  ['present_ssm', 'past_ssm'],
  ['present_conv', 'past_conv'],
  ['present_recurrent', 'past_recurrent'],
  ['present_compressor', 'past_compressor'],
  ['present_indexer', 'past_indexer'],
  ['present', 'past_key_values'],
];

function pastName(present: string): string {
  for (const [from, to] of PAST_NAMES) if (present.startsWith(from)) return to + present.slice(from.length);
  return present;
}

function int64(values: ArrayLike<number>, dims: number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims);
}

/** A tensor's values (any typed array), as far as copying rows goes. */
interface Values {
  readonly length: number;
  subarray(begin: number, end: number): Values;
  set(from: Values, offset: number): void;
}

/** A tensor's values, read back from the GPU when they live there. */
async function hostData(t: Tensor): Promise<Values> {
  return (t.location === 'gpu-buffer' ? await t.ort_tensor.getData() : t.data) as unknown as Values;
}

let turns: MessageChannel | null = null;
const waiting: (() => void)[] = [];

/** Resolves in a new task (a message to ourselves: no timer clamping), after messages already queued. */
function nextTask(): Promise<void> {
  if (!turns) {
    turns = new MessageChannel();
    turns.port1.onmessage = () => waiting.shift()?.();
  }
  return new Promise((resolve) => {
    waiting.push(resolve);
    turns!.port2.postMessage(null);
  });
}

function toF32(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return f16ArrayToF32(data); // float16 as its bits
  return Float32Array.from(data as ArrayLike<number>); // Float16Array
}

export function transformersLm(model: TransformersModel, vocabSize: number): CausalLm<OnnxCache> {
  const release = (cache: OnnxCache) => {
    for (const t of Object.values(cache.tensors)) if (t.location === 'gpu-buffer') t.dispose();
  };

  return {
    vocabSize,

    async forward(tokens, cache, keep): Promise<ForwardResult<OnnxCache>> {
      const B = tokens.length;
      const T = tokens[0].length;
      const past = cache?.length ?? 0;
      const out = await model.forward({
        input_ids: int64(tokens.flat(), [B, T]),
        attention_mask: int64(new Array<number>(B * (past + T)).fill(1), [B, past + T]),
        num_logits_to_keep: int64([keep], []),
        past_key_values: cache ? new DynamicCache(cache.tensors) : undefined,
      });
      const tensors: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(out)) if (name.startsWith('present')) tensors[pastName(name)] = t;

      // [B, T', V] with T' = T or keep: the last `keep` positions of each row.
      const { logits } = out;
      const [, Tout, V] = logits.dims;
      if (V !== vocabSize) throw new LabError('unsupported', `The model's logits have ${V} entries per token, but config.json's vocab_size is ${vocabSize}.`);
      const all = toF32(logits.data);
      const kept = new Float32Array(B * keep * V);
      for (let b = 0; b < B; b++) kept.set(all.subarray((b * Tout + Tout - keep) * V, (b + 1) * Tout * V), b * keep * V);
      await nextTask();
      return { logits: kept, cache: { tensors, rows: B, length: past + T } };
    },

    async select(cache, rows) {
      const tensors: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(cache.tensors)) {
        const data = await hostData(t);
        const row = data.length / cache.rows;
        const copy = new (data.constructor as new (n: number) => Values)(rows.length * row);
        rows.forEach((r, k) => copy.set(data.subarray(r * row, (r + 1) * row), k * row));
        tensors[name] = new Tensor(t.type, copy as never, [rows.length, ...t.dims.slice(1)]);
      }
      return { tensors, rows: rows.length, length: cache.length };
    },

    release,
  };
}
