/**
 * The three engines side by side (`npm run bench -- --page engines`): one model and one prompt
 * through each engine's ModelBackend, as the lab calls it — (1) the lab engine on WebGPU,
 * (2) transformers.js on WebGPU, (3) transformers.js on wasm (engines-contenders.ts). Greedy
 * (temperature 0), batch 1 (one request, n = 1), a fixed maxTokens, no stop strings; the model's
 * end of turn still ends a sample, so the tokens each engine generated are reported.
 *
 * After one warm-up call each (shader compilation, reported), every round runs the engines in
 * turn (A B C A B C …), one generate call each, streamed:
 *   - first token: from the call to its first streamed text (tokenize, prefill the prompt, one
 *     greedy step; a first token that is half a UTF-8 character would show with the second);
 *   - decode: tokens/s = (tokens − 1) / (the call's end − the first streamed text).
 * Both from one call: a prefill timed in a call of its own and subtracted drowns a small model's
 * decode in the noise of a busy machine.
 * Ratios against the lab engine are taken within a round (a machine busy with other work slows
 * neighbouring measurements alike), then the median over rounds, like every other figure.
 * Greedy tokens are compared by re-encoding each engine's text with the model's tokenizer.
 *
 * Query: `model=<folder URL>` holding both model.safetensors and onnx/model.onnx (default
 * SPaR-toy, the app's /models/spar-toy/), `rounds=N` (default 5, at least 3), `tokens=N`
 * (maxTokens, default 64). A larger model needs Python for its ONNX export, e.g. 18.7M parameters
 * (the tiny generator's tokenizer stops near a 576-token vocabulary):
 *   npm run cli -- tiny-model --out tmp/llama-19m --format hf --hidden 512 --layers 6 --heads 8 --kv-heads 2 --intermediate 1536 --vocab 576
 *   /usr/bin/python3 scripts/onnx/export_llama.py --model tmp/llama-19m
 *   BENCH_QUERY='model=/tmp/llama-19m/&rounds=3&tokens=24' npm run bench -- --page engines  # about 8 minutes on SwiftShader
 */
import { runtimeInfo } from '../src/backends/transformers-runtime';
import type { GenerateRequest, Generation } from '../src/backends/types';
import { loadLabContender, loadTransformersContender, type Contender } from './engines-contenders';
import { log, median, runPage } from './page';

/**
 * A toy-world instruction (title, five bullet points, a P.S.) that SPaR-toy answers at length
 * (58 greedy tokens before its end of turn), so decoding outweighs the prompt's prefill.
 */
const PROMPT =
  'Write a short text about the harbor. Your response should contain a title, wrapped in double angular brackets, such as <<poem of joy>>. ' +
  'Your answer must contain exactly 5 bullet points. Use the markdown bullet points such as:\n* This is point 1. \n* This is point 2 ' +
  'At the end of your response, please explicitly add a postscript starting with P.S.';

interface Options {
  modelUrl: string;
  rounds: number;
  maxTokens: number;
}

function options(search: string): Options {
  const q = new URLSearchParams(search);
  const int = (name: string, fallback: number, min: number) => {
    const n = Number(q.get(name) ?? fallback);
    if (!Number.isInteger(n) || n < min) throw new Error(`?${name}= must be a whole number ≥ ${min} (got ${JSON.stringify(q.get(name))})`);
    return n;
  };
  return { modelUrl: new URL(q.get('model') ?? '/models/spar-toy/', location.href).href, rounds: int('rounds', 5, 3), maxTokens: int('tokens', 64, 2) };
}

interface Call {
  firstTokenSeconds: number;
  seconds: number;
  generation: Generation;
}

async function call(c: Contender, messages: GenerateRequest['messages'], maxTokens: number): Promise<Call> {
  const t0 = performance.now();
  let first = NaN;
  const onText = () => void (first = Number.isNaN(first) ? performance.now() : first);
  const [[generation]] = await c.backend.generate([{ messages, n: 1, sampling: { temperature: 0, topP: 1, maxTokens } }], { onText });
  const end = performance.now();
  if (Number.isNaN(first)) throw new Error(`${c.name} streamed no text for the prompt: no first token to time.`);
  return { firstTokenSeconds: (first - t0) / 1000, seconds: (end - t0) / 1000, generation };
}

/** Where two token sequences part (the shorter one's length when one extends the other); null when equal. */
function firstMismatch(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : n;
}

interface EngineResult {
  name: string;
  label: string;
  loadSeconds: number;
  warmupSeconds: number;
  /** Medians over rounds. */
  firstTokenMs: number;
  decodeTokensPerS: number;
  /** Medians of the per-round ratios against the lab engine; > 1: faster than it. */
  vsLab: { firstToken: number; decode: number };
  rounds: { firstTokenMs: number[]; decodeTokensPerS: number[] };
  generated: { tokens: number; finishReason: Generation['finishReason']; text: string };
  /** The greedy tokens equal the lab engine's; else the first position where they part. */
  greedy: { matchesLab: boolean; firstMismatch: number | null };
}

async function main(): Promise<unknown> {
  const o = options(location.search);
  const t0 = performance.now();
  const modelName = decodeURIComponent(new URL(o.modelUrl).pathname.split('/').filter(Boolean).at(-1) ?? 'model');
  const runtime = runtimeInfo();
  log(`model ${o.modelUrl}; ${o.rounds} rounds, maxTokens ${o.maxTokens}; transformers.js ${runtime.version}, wasm ${runtime.wasmThreads} thread(s), crossOriginIsolated ${runtime.crossOriginIsolated}`);

  const lab = await loadLabContender(o.modelUrl, modelName);
  const contenders: Contender[] = [lab, await loadTransformersContender(o.modelUrl, modelName, 'webgpu'), await loadTransformersContender(o.modelUrl, modelName, 'wasm')];
  log(`adapter: ${lab.adapter.vendor} ${lab.adapter.architecture} ${lab.adapter.description} (fallback: ${lab.adapter.isFallbackAdapter}); ${(lab.parameters / 1e6).toFixed(2)}M parameters`);
  for (const c of contenders) log(`loaded ${c.name} in ${c.loadSeconds.toFixed(2)} s: ${c.backend.info.label}`);

  const messages = [{ role: 'user' as const, content: PROMPT }];
  const promptTokens = lab.tokenizer.encodeChat(messages, { addGenerationPrompt: true }).length;
  const warmup: number[] = [];
  for (const c of contenders) warmup.push((await call(c, messages, o.maxTokens)).seconds);
  log(`warm-up calls: ${contenders.map((c, i) => `${c.name} ${warmup[i].toFixed(2)} s`).join(', ')}`);

  const firstMs: number[][] = contenders.map(() => []);
  const decode: number[][] = contenders.map(() => []);
  const last: Generation[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      const r = await call(c, messages, o.maxTokens);
      firstMs[i].push(r.firstTokenSeconds * 1000);
      decode[i].push((r.generation.tokens - 1) / (r.seconds - r.firstTokenSeconds));
      last[i] = r.generation;
    }
    log(`round ${round}: ${contenders.map((c, i) => `${c.name} ${firstMs[i].at(-1)!.toFixed(0)} ms + ${decode[i].at(-1)!.toFixed(1)} tok/s`).join(' | ')}`);
  }

  const tokens = last.map((g) => lab.tokenizer.encode(g.text));
  const perRound = (a: number[], b: number[], f: (x: number, y: number) => number) => median(a.map((x, r) => f(x, b[r])));
  const engines: EngineResult[] = contenders.map((c, i) => {
    const mismatch = firstMismatch(tokens[0], tokens[i]);
    return {
      name: c.name,
      label: c.backend.info.label,
      loadSeconds: c.loadSeconds,
      warmupSeconds: warmup[i],
      firstTokenMs: median(firstMs[i]),
      decodeTokensPerS: median(decode[i]),
      vsLab: { firstToken: perRound(firstMs[0], firstMs[i], (labMs, ms) => labMs / ms), decode: perRound(decode[i], decode[0], (r, labR) => r / labR) },
      rounds: { firstTokenMs: firstMs[i], decodeTokensPerS: decode[i] },
      generated: { tokens: last[i].tokens, finishReason: last[i].finishReason, text: last[i].text },
      greedy: { matchesLab: mismatch === null, firstMismatch: mismatch },
    };
  });

  log('');
  log(`${'engine'.padEnd(26)} ${'load s'.padStart(7)} ${'first token ms (vs lab)'.padStart(24)} ${'decode tok/s (vs lab)'.padStart(22)}  greedy tokens`);
  for (const e of engines) {
    const greedy = e === engines[0] ? `${e.generated.tokens} (${e.generated.finishReason})` : e.greedy.matchesLab ? 'same as lab' : `differ from token ${e.greedy.firstMismatch}`;
    const firstToken = `${e.firstTokenMs.toFixed(1)} (${e.vsLab.firstToken.toFixed(2)}×)`;
    const decodeRate = `${e.decodeTokensPerS.toFixed(1)} (${e.vsLab.decode.toFixed(2)}×)`;
    log(`${e.name.padEnd(26)} ${e.loadSeconds.toFixed(2).padStart(7)} ${firstToken.padStart(24)} ${decodeRate.padStart(22)}  ${greedy}`);
  }
  const allMatch = engines.every((e) => e.greedy.matchesLab);
  log(allMatch ? 'greedy tokens: all three engines agree' : 'greedy tokens: the engines disagree (see above)');

  for (const c of contenders) await c.dispose();
  return {
    device: { adapter: lab.adapter, userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency },
    runtime,
    model: { url: o.modelUrl, name: modelName, parameters: lab.parameters, config: lab.config },
    prompt: { text: PROMPT, tokens: promptTokens },
    sampling: { temperature: 0, batch: 1, maxTokens: o.maxTokens },
    rounds: o.rounds,
    greedyTokensMatch: allMatch,
    engines,
    seconds: (performance.now() - t0) / 1000,
  };
}

runPage(main);
