import { describe, expect, it } from 'vitest';
import { hash32, PyRandom, streamSeeds } from '../../../src/spar/rng';
import fixture from '../../fixtures/spar/python-random.json';

// Draws recorded from CPython's `random` (test/fixtures/spar/gen_python_random.py).
describe('PyRandom reproduces CPython random', () => {
  for (const c of fixture.cases) {
    it(`seed ${c.seed}`, () => {
      const r = new PyRandom(c.seed);
      expect([r.uint32(), r.uint32(), r.uint32()]).toEqual(c.uint32);
      expect([r.random(), r.random(), r.random()]).toEqual(c.random);
      expect([0, 1, 2].map(() => r.randint(1, 100_000_000))).toEqual(c.randint);
      expect(r.shuffle([0, 1, 2, 3, 4, 5, 6])).toEqual(c.shuffle7);
      expect([1, 2, 3, 5, 21, 22, 30].map((n) => r.sampleIndex(n))).toEqual(c.sample);
      expect([1, 3, 1000, 2 ** 31, 2 ** 32 - 1].map((n) => r.randbelow(n))).toEqual(c.randbelow);
    });
  }

  it('keeps matching past the 624-word state refill', () => {
    const r = new PyRandom(7);
    for (let i = 0; i < 1000; i++) r.random();
    expect([r.random(), r.random()]).toEqual(fixture.after1000seed7);
  });

  it('rejects seeds and bounds it cannot reproduce', () => {
    expect(() => new PyRandom(0.5)).toThrow(RangeError);
    expect(() => new PyRandom(0).randbelow(0)).toThrow(RangeError);
  });
});

describe('stream seeds', () => {
  it('depend only on run seed, iteration and prompt id', () => {
    const a = streamSeeds(1, 0, 'q1');
    expect(streamSeeds(1, 0, 'q1')).toEqual(a);
    expect(streamSeeds(2, 0, 'q1').search).not.toBe(a.search);
    expect(streamSeeds(1, 1, 'q1').search).not.toBe(a.search);
    expect(streamSeeds(1, 0, 'q2').search).not.toBe(a.search);
    expect(new Set(Object.values(a)).size).toBe(4);
    for (const s of Object.values(a)) expect(s >>> 0).toBe(s);
    expect(hash32('')).toBe(hash32(''));
  });
});
