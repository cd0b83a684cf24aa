/**
 * Stop strings and streaming for one generated sample: fed the decoded text after each token,
 * it cuts the text at the first stop string, emits new text as soon as it can no longer turn
 * into a stop string (or be half of a UTF-8 character), and says when a stop string appeared.
 * Used by the CPU and lab backends; web-llm's streams hold back with pendingStopPrefix.
 */
export class TextStream {
  /** The text so far (cut before a stop string once one appeared). */
  text = '';
  stopped = false;
  private emitted = 0;

  constructor(
    private stops: readonly string[],
    private emit: (delta: string) => void,
  ) {}

  /** Takes the whole decoded text so far; returns true when a stop string ends the sample. */
  update(decoded: string): boolean {
    let cut = -1;
    for (const stop of this.stops) {
      const at = decoded.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    this.text = cut >= 0 ? decoded.slice(0, cut) : decoded;
    let safe = cut >= 0 ? this.text.length : decoded.length - pendingStopPrefix(decoded, this.stops);
    while (cut < 0 && safe > this.emitted && decoded.charCodeAt(safe - 1) === 0xfffd) safe--;
    if (safe > this.emitted) {
      this.emit(this.text.slice(this.emitted, safe));
      this.emitted = safe;
    }
    this.stopped = cut >= 0;
    return this.stopped;
  }

  /** The final text (`decoded`: all tokens, when no stop string cut it); emits what is left. */
  finish(decoded: string): string {
    if (!this.stopped) this.text = decoded;
    if (this.text.length > this.emitted) this.emit(this.text.slice(this.emitted));
    this.emitted = this.text.length;
    return this.text;
  }
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
export function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}
