import { untrack } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';

/**
 * Where a control's progress and errors show. A control that reports (a size check, a download,
 * an export) has a <Feedback at="key"> beside it and passes `at: key` to the lab's verbs; what
 * they report shows there, next to what the user just clicked. Reports without a key, or whose
 * slot is not on screen (the user went elsewhere), go to the banner at the top of the page.
 */
class FeedbackSlots {
  /** Mounted slots per key (a count: a slot may remount before the old one is gone). */
  private readonly mounted = new SvelteMap<string, number>();

  /** Registers a slot for `at`; returns its removal. (Called from an effect, which must not depend on the count it changes.) */
  mount(at: string): () => void {
    const add = (by: number) =>
      untrack(() => {
        const n = (this.mounted.get(at) ?? 0) + by;
        if (n > 0) this.mounted.set(at, n);
        else this.mounted.delete(at);
      });
    add(1);
    return () => add(-1);
  }

  /** True when a slot on screen shows the reports of `at` (the banner leaves them out). */
  shows(at: string | null | undefined): boolean {
    return !!at && this.mounted.has(at);
  }
}

export const feedbackSlots = new FeedbackSlots();
