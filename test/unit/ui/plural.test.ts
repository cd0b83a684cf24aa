import { describe, expect, it } from 'vitest';
import { plural } from '../../../src/format';

describe('plural', () => {
  it('puts the noun in the number the count needs', () => {
    expect(plural(1, 'pair')).toBe('1 pair');
    expect(plural(0, 'pair')).toBe('0 pairs');
    expect(plural(2, 'RFT record')).toBe('2 RFT records');
    expect(plural(1, 'dropped branch', 'dropped branches')).toBe('1 dropped branch');
    expect(plural(3, 'dropped branch', 'dropped branches')).toBe('3 dropped branches');
    expect(plural(12345, 'token')).toBe('12,345 tokens');
  });
});
