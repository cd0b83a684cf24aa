import { describe, expect, it } from 'vitest';
import { PyRandom } from '../../../src/py-random';
import { wordEditDistance, words } from '../../../src/toy/edit-distance';

/** The textbook recursion, memo-free: the reference for short inputs. */
function reference(x: readonly string[], y: readonly string[]): number {
  if (x.length === 0) return y.length;
  if (y.length === 0) return x.length;
  const [a, ...xs] = x;
  const [b, ...ys] = y;
  return Math.min(reference(xs, y) + 1, reference(x, ys) + 1, reference(xs, ys) + (a === b ? 0 : 1));
}

describe('word edit distance', () => {
  it('splits on any whitespace and ignores its amount', () => {
    expect(words('  Title\n\nthe  sea is\tblue. ')).toEqual(['Title', 'the', 'sea', 'is', 'blue.']);
    expect(words('')).toEqual([]);
    expect(wordEditDistance('a b\nc', 'a  b c')).toBe(0);
  });

  it('counts inserted, deleted and replaced words', () => {
    expect(wordEditDistance('', '')).toBe(0);
    expect(wordEditDistance('', 'one two three')).toBe(3);
    expect(wordEditDistance('one two three', '')).toBe(3);
    // A P.S. appended: four words inserted.
    expect(wordEditDistance('The sea is blue.', 'The sea is blue. P.S. I love it.')).toBe(4);
    // One comma dropped: one word replaced.
    expect(wordEditDistance('Rain, then sun.', 'Rain then sun.')).toBe(1);
    // Words are compared exactly (case matters).
    expect(wordEditDistance('the sea', 'THE SEA')).toBe(2);
    // kitten → sitting, with words for letters.
    expect(wordEditDistance('k i t t e n', 's i t t i n g')).toBe(3);
  });

  it('matches the textbook recursion on random short texts, and is symmetric', () => {
    const rng = new PyRandom(7);
    const vocab = ['a', 'b', 'c', 'd'];
    const text = () => Array.from({ length: rng.randint(0, 5) }, () => vocab[rng.randint(0, vocab.length - 1)]).join(' ');
    for (let t = 0; t < 300; t++) {
      const [a, b] = [text(), text()];
      expect(wordEditDistance(a, b)).toBe(reference(words(a), words(b)));
      expect(wordEditDistance(b, a)).toBe(wordEditDistance(a, b));
    }
  });
});
