/**
 * The ONNX exports scripts/onnx/export_llama.py writes for transformers.js (SPaR-toy as shipped,
 * and a tiny Llama with GQA, Llama-3 rope scaling and an untied head), run by onnxruntime-node,
 * against the lab's CPU reference loaded from the same folder by the ordinary HF loader: a
 * prompt on an empty past, one more token on the returned present, and a left-padded batch of
 * two (prefill and one decode step), on random token ids. Relative error <= 1e-4. Then
 * transformers.js itself loads the folder and generates greedily what the reference does.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuModel } from '../../../src/engine/cpu/model';
import { loadModel } from '../../../src/engine/load/model';
import { directorySource } from '../../../src/engine/load/node-files';
import { PyRandom } from '../../../src/py-random';

const TOLERANCE = 1e-4;
const RERUN = 'stale export? rerun /usr/bin/python3 scripts/onnx/export_llama.py --model';

const MODELS = [
  { name: 'SPaR-toy', dir: 'public/models/spar-toy' },
  { name: 'the tiny GQA Llama fixture', dir: 'test/fixtures/onnx-tiny' },
];

/** max |got - want| / max |want| over one row of logits; NaN stays NaN. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    err = Number.isNaN(d) ? NaN : Math.max(err, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}

/** Rows of ids as an int64 tensor: onnxruntime's, or transformers.js' own. */
const int64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
const tjsInt64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);

describe.each(MODELS)('the ONNX export of $name', ({ dir }) => {
  let session: ort.InferenceSession;
  let model: CpuModel;
  let rng: PyRandom;
  let V: number;

  beforeAll(async () => {
    const { weights } = await loadModel(directorySource(dir));
    model = new CpuModel(weights);
    V = model.config.vocabSize;
    session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'));
    rng = new PyRandom(17);
  });
  afterAll(() => session.release());

  const tokens = (n: number) => Array.from({ length: n }, () => rng.randint(0, V - 1));

  /** The CPU reference's logits of every position of a sequence, as rows. */
  const reference = (seq: number[]) => {
    const { logits } = model.forward(model.newCache(seq.length), seq);
    return seq.map((_, i) => logits.subarray(i * V, (i + 1) * V));
  };

  const emptyPast = (batch: number) => {
    const { numLayers, numKvHeads, headDim } = model.config;
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < numLayers; i++)
      for (const t of ['key', 'value']) feeds[`past_key_values.${i}.${t}`] = new ort.Tensor('float32', new Float32Array(0), [batch, numKvHeads, 0, headDim]);
    return feeds;
  };

  /** The present.* outputs as the next call's past_key_values.* inputs. */
  const pastFrom = (out: ort.InferenceSession.OnnxValueMapType) =>
    Object.fromEntries(Object.entries(out).filter(([k]) => k.startsWith('present.')).map(([k, v]) => [k.replace('present', 'past_key_values'), v]));

  /** Row `t` of batch row `b` of the logits output. */
  const logitsAt = (out: ort.InferenceSession.OnnxValueMapType, b: number, t: number) => {
    const [, T] = out.logits.dims;
    return (out.logits.data as Float32Array).subarray((b * T + t) * V, (b * T + t + 1) * V);
  };

  it('has the inputs and outputs transformers.js feeds, with the axes it resolves by name', () => {
    const { numLayers, numKvHeads, headDim } = model.config;
    const kv = (prefix: string) => Array.from({ length: numLayers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...kv('past_key_values')]);
    expect(session.outputNames).toEqual(['logits', ...kv('present')]);
    const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m.isTensor ? { type: m.type, shape: m.shape } : null]));
    expect(meta.input_ids).toEqual({ type: 'int64', shape: ['batch_size', 'sequence_length'] });
    expect(meta.attention_mask).toEqual({ type: 'int64', shape: ['batch_size', 'total_sequence_length'] });
    expect(meta.position_ids).toEqual({ type: 'int64', shape: ['batch_size', 'sequence_length'] });
    // transformers.js builds the first call's empty cache from this shape: "batch_size" is the
    // batch, every other symbol 0, numbers as they are.
    for (const name of kv('past_key_values')) expect(meta[name]).toEqual({ type: 'float32', shape: ['batch_size', numKvHeads, 'past_sequence_length', headDim] });
  });

  it(`gives the reference's logits for a prompt on an empty past, and for one more token on the returned present`, async () => {
    const seq = tokens(13);
    const prompt = seq.slice(0, -1);
    const want = reference(seq);
    const positions = prompt.map((_, i) => i);
    const first = await session.run({ input_ids: int64([prompt]), attention_mask: int64([prompt.map(() => 1)]), position_ids: int64([positions]), ...emptyPast(1) });
    const prefillErr = Math.max(...prompt.map((_, t) => relativeError(logitsAt(first, 0, t), want[t])));
    expect(prefillErr, `${RERUN} ${dir}`).toBeLessThanOrEqual(TOLERANCE);

    const next = await session.run({ input_ids: int64([[seq.at(-1)!]]), attention_mask: int64([seq.map(() => 1)]), position_ids: int64([[prompt.length]]), ...pastFrom(first) });
    expect(next['present.0.key'].dims[2]).toBe(seq.length);
    expect(relativeError(logitsAt(next, 0, 0), want.at(-1)!)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("gives each row's logits for a left-padded batch of two, on the prompts and on one decode step", async () => {
    const seqs = [tokens(6), tokens(11)];
    const S = Math.max(...seqs.map((s) => s.length));
    const pad = seqs.map((s) => S - s.length);
    // As transformers.js pads and numbers them: position = count of real tokens before, 1 on padding.
    const ids = seqs.map((s, b) => [...Array(pad[b]).fill(0), ...s]);
    const mask = pad.map((p) => Array.from({ length: S }, (_, j) => (j < p ? 0 : 1)));
    const positions = pad.map((p) => Array.from({ length: S }, (_, j) => (j < p ? 1 : j - p)));
    const first = await session.run({ input_ids: int64(ids), attention_mask: int64(mask), position_ids: int64(positions), ...emptyPast(2) });

    const step = [tokens(1)[0], tokens(1)[0]];
    const next = await session.run({
      input_ids: int64(step.map((t) => [t])),
      attention_mask: int64(mask.map((m) => [...m, 1])),
      position_ids: int64(seqs.map((s) => [s.length])),
      ...pastFrom(first),
    });

    seqs.forEach((s, b) => {
      const want = reference([...s, step[b]]);
      const prefillErr = Math.max(...s.map((_, t) => relativeError(logitsAt(first, b, pad[b] + t), want[t])));
      expect(prefillErr).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(logitsAt(next, b, 0), want.at(-1)!)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('loads in transformers.js v4, fp32 on every device, and generates greedily what the reference does for a left-padded batch', async () => {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    // transformers.js' default on wasm is q8 (onnx/model_quantized.onnx); this makes it onnx/model.onnx.
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' });
    env.allowRemoteModels = false;
    env.localModelPath = resolve(dirname(dir));
    const tjs = await AutoModelForCausalLM.from_pretrained(basename(dir));
    const prompts = [tokens(4), tokens(9)];
    const S = prompts[1].length;
    const pad = prompts.map((p) => S - p.length);
    const newTokens = 8;
    const out = (await tjs.generate({
      input_ids: tjsInt64(prompts.map((p, b) => [...Array(pad[b]).fill(0), ...p])),
      attention_mask: tjsInt64(pad.map((p) => Array.from({ length: S }, (_, j) => (j < p ? 0 : 1)))),
      max_new_tokens: newTokens,
      do_sample: false,
    })) as Tensor;
    await tjs.dispose();
    const rows = out.tolist() as bigint[][];
    prompts.forEach((p, b) => {
      const [want] = model.generate(p, { temperature: 0, maxTokens: newTokens });
      expect(rows[b].slice(S, S + want.tokens.length).map(Number)).toEqual(want.tokens);
    });
  });
});

/** Bytes of every file under a folder. */
async function folderBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) bytes += (await stat(join(e.parentPath, e.name))).size;
  return bytes;
}

it('keeps SPaR-toy with its ONNX export within what the app ships (<= 16 MB in all)', async () => {
  expect(await folderBytes('public/models/spar-toy')).toBeLessThanOrEqual(16 * 2 ** 20);
});
