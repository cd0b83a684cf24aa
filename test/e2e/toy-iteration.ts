// One Toy world iteration's steps, shared by the specs that run it with the refiner on different
// engines (not a spec itself: Playwright runs *.spec.ts only).
import { expect, type Page } from '@playwright/test';
import { KEYWORD_SENTENCE, KEYWORDS, POSTSCRIPTS, SENTENCES, TASKS, TOPICS, TOY_END_PHRASES } from '../../src/toy/grammar';

/** Checks the loop stepper: each step's status (self-play, train, evaluate, next) and the next action. */
export async function expectLoop(page: Page, statuses: string[], action: string) {
  for (const [i, id] of ['selfplay', 'train', 'evaluate', 'next'].entries()) await expect(page.getByTestId(`loop-step-${id}`)).toHaveAttribute('data-status', statuses[i]);
  await expect(page.getByTestId('loop-action')).toHaveText(action);
}

/** Creates a run with the default preset (Toy world) and opens its Setup, nothing done yet. */
export async function openToyRun(page: Page, name: string) {
  await page.goto('/');
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expectLoop(page, ['next', 'later', 'later', 'later'], 'Start self-play of iteration 0');
}

/** Logs how long the iteration has taken at each step, for the CI log. */
export function stopwatch(what: string): (step: string) => void {
  const started = Date.now();
  return (step) => console.log(`${what}: ${step} after ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Loads the actor's SPaR-toy on the lab engine (as a user does in Setup), then runs self-play from its view to the end. */
export async function loadActorAndSelfPlay(page: Page) {
  await expect(page.getByTestId('engine-name')).toHaveText(/CPU reference engine|WebGPU engine/);
  await expect(async () => {
    await page.getByTestId('role-actor').getByRole('button', { name: 'Load now' }).click({ timeout: 5_000 });
    await expect(page.getByTestId('actor-model-status')).toContainText('Loaded', { timeout: 60_000 });
  }).toPass({ timeout: 300_000 });
  await page.keyboard.press('3');
  await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'new', { timeout: 120_000 });
  await page.getByTestId('selfplay-start').click();
  await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 600_000 });
  await expect(page.getByTestId('selfplay-count')).toHaveText('16 / 16');
}

/**
 * Trees opens on a tree that made a pair: its text is the toy world's English, and the checkers'
 * verdict sits beside the judge's on every sample. Leaves the Trees view open.
 */
export async function expectReadableTree(page: Page) {
  await page.keyboard.press('4');
  await expect(page.getByTestId('tree-graph')).toBeVisible();
  const text = (await page.getByTestId('node-panel').textContent()) ?? '';
  expect(text).not.toMatch(/\uFFFD/);
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  expect(words.length).toBeGreaterThan(10);
  expect(words.filter((w) => TOY_WORDS.has(w)).length / words.length).toBeGreaterThan(0.6);
  await expect(page.getByTestId('checker-badge').first()).toContainText(/checker: (pass|fail)/);
}

/** At least two preference pairs whose refined answer, by the checkers, fixed a constraint the rejected one broke. */
export async function expectPairs(page: Page) {
  await page.keyboard.press('5');
  await expect(page.getByTestId('pair-fixed').filter({ hasText: 'fixed:' }).nth(1)).toBeVisible();
}

/**
 * M0 on `prompts` held-out toy prompts, then the actor's DPO (→ M1), then M1 on the same prompts;
 * ends on the Evaluate view with both on the per-type chart.
 */
export async function evaluateTrainEvaluate(page: Page, prompts: number, mark: (step: string) => void) {
  await page.keyboard.press('7');
  await page.getByLabel('Prompts', { exact: true }).fill(String(prompts));
  await page.getByLabel('Prompts', { exact: true }).press('Tab');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('accuracies')).toContainText('prompt-level strict', { timeout: 300_000 });
  mark('M0 evaluated');
  await expectLoop(page, ['done', 'next', 'later', 'later'], 'Train the actor (DPO → M1)');
  await page.getByTestId('loop-action').press('Enter'); // starts the actor's DPO
  await expect(page.getByTestId('train-actor').getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
  mark('DPO');
  await page.keyboard.press('7');
  await expect(page.getByTestId('eval-run')).toHaveText('Evaluate M1');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('eval-model')).toContainText('M1', { timeout: 300_000 });
  const perType = page.getByRole('figure', { name: /^Instruction-level strict accuracy per instruction type, M0, M1/ });
  await expect(perType.locator('[data-series="M0"]').first()).toBeVisible();
  await expect(perType.locator('[data-series="M1"]').first()).toBeVisible();
  mark('M1 evaluated');
}

/** Every word SPaR-toy's world uses (grammar, constraint phrases, critiques), for the readability check. */
const TOY_WORDS = new Set(
  [
    ...TOPICS.flatMap((t) => [t.name, ...t.things, ...t.adjectives, ...t.activities]),
    ...KEYWORDS,
    ...TOY_END_PHRASES,
    ...TASKS,
    ...SENTENCES,
    ...POSTSCRIPTS,
    KEYWORD_SENTENCE,
    'p s yes no final judgement refined from node root value votes checker pass fail judge right fooled harsh response critique depth all lowercase capital letters title bullet points wrapped double quotes commas includes avoids ends phrase has a reflection',
  ]
    .join(' ')
    .toLowerCase()
    .match(/[a-z]+/g),
);
