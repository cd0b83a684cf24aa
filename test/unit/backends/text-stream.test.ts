import { describe, expect, it } from 'vitest';
import { TextStream, pendingStopPrefix } from '../../../src/backends/text-stream';

describe('TextStream (stop strings and streaming of one sample)', () => {
  it('holds back a possible stop-string prefix, cuts at the first stop string, and streams the rest exactly once', () => {
    const out: string[] = [];
    const s = new TextStream(['END', '\n\n'], (d) => out.push(d));
    expect(s.update('Hello')).toBe(false);
    expect(s.update('Hello E')).toBe(false); // "E" may start "END": held back
    expect(out.join('')).toBe('Hello ');
    expect(s.update('Hello EN')).toBe(false);
    expect(s.update('Hello ENX')).toBe(false);
    expect(out.join('')).toBe('Hello ENX');
    expect(s.update('Hello ENX and END more')).toBe(true);
    expect(s.text).toBe('Hello ENX and ');
    expect(s.finish('Hello ENX and END more')).toBe('Hello ENX and ');
    expect(out.join('')).toBe('Hello ENX and ');
  });

  it('does not emit half of a multi-byte character (U+FFFD at the end) until it completes', () => {
    const out: string[] = [];
    const s = new TextStream([], (d) => out.push(d));
    s.update('caf\ufffd');
    expect(out.join('')).toBe('caf');
    s.update('café');
    expect(s.finish('café')).toBe('café');
    expect(out.join('')).toBe('café');
  });

  it('pendingStopPrefix finds the longest suffix that starts a stop string', () => {
    expect(pendingStopPrefix('abc<|im', ['<|im_end|>'])).toBe(4);
    expect(pendingStopPrefix('abc', ['x'])).toBe(0);
  });
});
