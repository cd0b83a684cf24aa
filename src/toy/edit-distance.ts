/**
 * How far apart the two answers of a preference pair are, in words: the Levenshtein distance
 * between their word sequences (insert, delete or substitute one word at a cost of 1). SPaR's
 * claim is that a refined pair differs only in what mattered, so its distance should be much
 * smaller than that of two independent samples of the same instruction.
 */

/** The words of a text: its runs of non-whitespace, so line breaks and spacing do not count. */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** Word-level Levenshtein distance between two texts. O(|a|·|b|) time, O(|b|) memory. */
export function wordEditDistance(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  // row[j]: distance between the first i words of x and the first j words of y.
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[y.length];
}
