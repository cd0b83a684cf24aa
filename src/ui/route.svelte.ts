/**
 * Where the user is: the runs list (#/) or a run's workspace on one view (#/run/<id>/<view>).
 * The hash keeps the place across reloads and makes views linkable.
 */
export const VIEWS = [
  { id: 'setup', title: 'Setup' },
  { id: 'data', title: 'Data' },
  { id: 'selfplay', title: 'Self-play' },
  { id: 'trees', title: 'Trees' },
  { id: 'pairs', title: 'Pairs' },
  { id: 'train', title: 'Train' },
  { id: 'evaluate', title: 'Evaluate' },
  { id: 'iterations', title: 'Iterations' },
] as const;

export type ViewId = (typeof VIEWS)[number]['id'];

class Route {
  runId = $state<string | null>(null);
  view = $state<ViewId>('setup');
  /** An item to show in the view (e.g. a tree id). */
  item = $state<string | null>(null);

  constructor() {
    if (typeof window === 'undefined') return;
    this.read();
    window.addEventListener('hashchange', () => this.read());
  }

  go(runId: string | null, view: ViewId = 'setup', item: string | null = null): void {
    const hash = runId ? `#/run/${encodeURIComponent(runId)}/${view}${item ? `/${encodeURIComponent(item)}` : ''}` : '#/';
    if (location.hash !== hash) location.hash = hash;
    else this.read();
  }

  private read(): void {
    const m = /^#\/run\/([^/]+)(?:\/([a-z]+))?(?:\/(.+))?$/.exec(location.hash);
    this.runId = m ? decodeURIComponent(m[1]) : null;
    const view = m?.[2];
    this.view = VIEWS.some((v) => v.id === view) ? (view as ViewId) : 'setup';
    this.item = m?.[3] ? decodeURIComponent(m[3]) : null;
  }
}

export const route = new Route();

/** Text size for laptops and projectors: 100%, 125%, 150% of the base, kept across visits. */
class TextSize {
  steps = [1, 1.25, 1.5];
  step = $state(0);

  constructor() {
    if (typeof localStorage === 'undefined') return;
    const saved = Number(localStorage.getItem('spar-lab:text-size'));
    if (saved >= 0 && saved < this.steps.length) this.step = saved;
    this.apply();
  }

  set(step: number): void {
    this.step = Math.max(0, Math.min(this.steps.length - 1, step));
    localStorage.setItem('spar-lab:text-size', String(this.step));
    this.apply();
  }

  private apply(): void {
    document.documentElement.style.fontSize = `${16 * this.steps[this.step]}px`;
  }
}

export const textSize = new TextSize();
