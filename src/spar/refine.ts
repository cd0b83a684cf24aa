/**
 * Refinement with the reference's two nested retry loops, reproduced exactly:
 * - inner (`get_refine`): up to `callAttempts` calls while the reply has no start marker; a reply
 *   with the marker ends the inner loop, even if the text between the markers is empty;
 * - outer (the search's `while not refine_res and cnt`): up to `attempts` inner loops while the
 *   extracted output is empty. A branch that ends empty is skipped.
 * Each call draws its seed as the reference does (`random.randint(1, 100000000)`).
 */
import type { ChatMessage, ModelBackend } from '../backends/types';
import { generate, type ModelCtx } from './calls';
import type { SamplingSettings } from './config';
import { requestSeed, type PyRandom } from './rng';
import type { SparTemplates } from './templates';
import type { RefineCall } from './types';

export interface RefineSettings extends SamplingSettings {
  attempts: number;
  callAttempts: number;
}

export type BranchRefinement =
  | { ok: true; response: string; trace: string; calls: RefineCall[] }
  | { ok: false; calls: RefineCall[] };

/**
 * Reference `unwrap_refine_cot`: the text after the first start marker (up to a second one),
 * cut at the first end marker (if any), trimmed. Null when there is no start marker.
 */
export function extractRefined(reply: string, t: Pick<SparTemplates, 'outputStart' | 'outputEnd'>): string | null {
  const parts = reply.split(t.outputStart);
  if (parts.length < 2) return null;
  return parts[1].split(t.outputEnd)[0].trim();
}

/**
 * Refines `count` branches of one node, all with the same conversation. Each round is one
 * request of n = (branches still going) samples: with count 1 this is exactly the reference's
 * sequence of calls; with more it lets the backend share the prompt across branches.
 */
export async function refineBranches(
  refiner: ModelBackend,
  messages: ChatMessage[],
  count: number,
  s: RefineSettings,
  t: SparTemplates,
  seeds: PyRandom,
  ctx: ModelCtx,
): Promise<BranchRefinement[]> {
  const state = Array.from({ length: count }, () => ({ outer: 0, inner: 0, calls: [] as RefineCall[] }));
  const results: BranchRefinement[] = new Array(count);
  let pending = state.map((_, i) => i);
  while (pending.length) {
    const seed = requestSeed(seeds);
    const [samples] = await generate(
      refiner,
      [{ messages, n: pending.length, sampling: { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, stop: s.stop, seed } }],
      ctx,
      'refine',
    );
    const next: number[] = [];
    pending.forEach((b, j) => {
      const st = state[b];
      const reply = samples[j].text;
      const extracted = extractRefined(reply, t);
      st.calls.push({ reply, extracted, seed: seed + j });
      if (extracted) {
        results[b] = { ok: true, response: extracted, trace: reply, calls: st.calls };
        return;
      }
      // No start marker: the inner loop goes on until it runs out; an empty output ends it.
      if (extracted === null && ++st.inner < s.callAttempts) return void next.push(b);
      st.inner = 0;
      if (++st.outer < s.attempts) next.push(b);
      else results[b] = { ok: false, calls: st.calls };
    });
    pending = next;
  }
  return results;
}
