import { describe, expect, it } from 'vitest';
import { finishedInstructions } from '../../../src/ui/finished-list';
import type { TreeSummary } from '../../../src/lab/browse';

const tree = (iteration: number, promptId: string, finishedAt: number, status: 'done' | 'failed' = 'done') =>
  ({ id: `${iteration}:${promptId}`, iteration, promptId, finishedAt, status, prompt: promptId }) as TreeSummary;

describe('finishedInstructions', () => {
  it('after a resume lists the trees finished before it too: 6 of 6, newest first, each once', () => {
    const before = [tree(1, 'a', 10), tree(1, 'b', 20)];
    // The resumed session's events, newest first; the store by now holds all six.
    const session = [tree(1, 'f', 60), tree(1, 'e', 50), tree(1, 'd', 40), tree(1, 'c', 30)];
    expect(finishedInstructions(session, before, 1).map((t) => t.promptId)).toEqual(['f', 'e', 'd', 'c', 'b', 'a']);
    expect(finishedInstructions(session, [...before, ...session], 1)).toHaveLength(6);
  });

  it('keeps to the iteration shown, and takes the session’s newer summary of a retried instruction', () => {
    const stored = [tree(0, 'a', 5), tree(1, 'a', 10, 'failed'), tree(1, 'b', 20)];
    const retried = tree(1, 'a', 30);
    expect(finishedInstructions([retried], stored, 1)).toEqual([retried, stored[2]]);
  });

  it('while a start is loading (iteration not known yet) shows only the session’s trees', () => {
    expect(finishedInstructions([], [tree(0, 'a', 5)], undefined)).toEqual([]);
  });
});
