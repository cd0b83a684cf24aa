/**
 * Which tree the Trees view opens on when none is chosen: one that yielded a preference pair
 * shows the whole story (a failing sample, its refinement, the pair), so the first such tree
 * wins over the first listed.
 */
import type { TreeSummary } from '../lab/browse';

/** The first listed tree that yielded a pair (broken ones aside), or null when none did. */
export function firstPairTree(items: readonly Pick<TreeSummary, 'id' | 'pairs' | 'problems'>[]): string | null {
  return items.find((t) => t.pairs > 0 && !t.problems)?.id ?? null;
}
