/**
 * The Self-play view's "Finished instructions" of one iteration, newest first: the trees this
 * tab saw finish (events) together with those already stored, so that after a resume (or a
 * reload) the instructions finished before it are listed too, each once.
 */
import type { TreeSummary } from '../lab/browse';

/** `iteration` undefined: not known yet (a start still loading), so only the session's trees. */
export function finishedInstructions(session: TreeSummary[], stored: TreeSummary[], iteration: number | undefined): TreeSummary[] {
  const byId = new Map<string, TreeSummary>();
  if (iteration !== undefined) for (const t of stored) if (t.iteration === iteration) byId.set(t.id, t);
  // The session's summary is the newer one (a retried instruction replaces its failed tree).
  for (const t of session) if (iteration === undefined || t.iteration === iteration) byId.set(t.id, t);
  return [...byId.values()].sort((a, b) => b.finishedAt - a.finishedAt);
}
