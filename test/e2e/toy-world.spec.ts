import { expect, test } from '@playwright/test';
import { shot } from './screenshots';
import { KEYWORD_SENTENCE, KEYWORDS, POSTSCRIPTS, SENTENCES, TASKS, TOPICS, TOY_END_PHRASES } from '../../src/toy/grammar';

// Issue 15: the Toy world preset is the default, and the built app loads SPaR-toy through the
// normal loader from its own address (public/models/spar-toy/), never from the hub.
test('a new run gets the Toy world: SPaR-toy loads from the app itself, with its 16 toy instructions and the held-out toy set', async ({ page, context }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const hub: string[] = [];
  await context.route(/huggingface\.co/, (route) => {
    hub.push(route.request().url());
    return route.abort();
  });
  const modelFiles: string[] = [];
  context.on('request', (r) => {
    if (r.url().includes('/models/spar-toy/')) modelFiles.push(new URL(r.url()).pathname);
  });

  await page.goto('/');
  await expect(page.getByTestId('bundled-models')).toContainText('SPaR-toy');
  await page.getByLabel('New run').fill('Toy');
  await expect(page.getByLabel('Preset')).toHaveValue('toy-world');
  await page.getByLabel('New run').press('Enter');
  const row = page.getByTestId('run-row').filter({ hasText: 'Toy' });
  await expect(row.locator('td').nth(2)).toHaveText('16'); // Prompts
  await row.getByRole('button', { name: 'Open Toy' }).click();

  await expect(page.getByTestId('preset-toy-world')).toHaveText('Apply again');
  const actor = page.getByTestId('role-actor');
  await expect(actor.getByLabel('SPaR-toy (trained toy model, shipped with the app)')).toBeChecked();
  await expect(page.getByTestId('role-refiner').getByLabel('SPaR-toy (trained toy model, shipped with the app)')).toBeChecked();
  await expect(page.getByLabel('Verdict from')).toHaveValue('parsed');
  await expect(page.getByTestId('context-warning')).toHaveCount(0);

  await actor.getByRole('button', { name: 'Load now' }).click();
  await expect(page.getByTestId('actor-model-status')).toContainText('Loaded', { timeout: 60_000 });
  await expect(page.getByTestId('actor-model-status')).toContainText('llama, 4 layers, hidden 128');
  await expect(page.getByTestId('actor-model-status')).toContainText('context 1024');
  // One model serves both roles.
  await expect(page.getByTestId('refiner-model-status')).toContainText('Loaded');
  await expect(page.getByTestId('engine-card')).toContainText('SPaR-toy');
  expect(modelFiles).toContain('/models/spar-toy/model.safetensors');
  expect(modelFiles).toContain('/models/spar-toy/tokenizer.json');

  await page.keyboard.press('2');
  await expect(page.getByTestId('prompt-row')).toHaveCount(16);
  await expect(page.getByTestId('prompt-row').first()).toContainText(/Write a short note about|Describe|Tell me about|Write a short text about/);

  await page.keyboard.press('7');
  await expect(page.getByLabel('Prompt set')).toHaveValue('toy');
  await expect(page.getByLabel('Prompts', { exact: true })).toHaveValue('40');

  expect(hub).toEqual([]);
  expect(errors).toEqual([]);
});

// Issue 15, done when: the Toy world preset through one iteration in the built app, with text a
// reader can read, pairs, the checkers' verdicts beside the judge's, the loop stepper, and M0 and M1
// side by side on the Evaluate chart.
test('one Toy world iteration: readable self-play, pairs the checkers confirm, DPO, and M0 → M1 on the chart', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const loop = async (statuses: string[], action: string) => {
    for (const [i, id] of ['selfplay', 'train', 'evaluate', 'next'].entries()) await expect(page.getByTestId(`loop-step-${id}`)).toHaveAttribute('data-status', statuses[i]);
    await expect(page.getByTestId('loop-action')).toHaveText(action);
  };

  await page.goto('/');
  await page.getByLabel('New run').fill('Toy loop');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: 'Toy loop' }).getByRole('button', { name: 'Open Toy loop' }).click();
  await loop(['next', 'later', 'later', 'later'], 'Start self-play of iteration 0');

  const started = Date.now();
  const mark = (what: string) => console.log(`toy iteration: ${what} after ${Math.round((Date.now() - started) / 1000)} s`);
  // Load SPaR-toy first (as a user does in Setup), then start from the Self-play view.
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
  mark('self-play');

  // Trees opens on a tree that made a pair; its text is the toy world's English, and the
  // checkers' verdict sits beside the judge's on every sample.
  await page.keyboard.press('4');
  await expect(page.getByTestId('tree-graph')).toBeVisible();
  const panel = page.getByTestId('node-panel');
  const text = (await panel.textContent()) ?? '';
  expect(text).not.toMatch(/\uFFFD/);
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  expect(words.length).toBeGreaterThan(10);
  expect(words.filter((w) => TOY_WORDS.has(w)).length / words.length).toBeGreaterThan(0.6);
  await expect(page.getByTestId('checker-badge').first()).toContainText(/checker: (pass|fail)/);
  await shot(page, 'toy-tree');

  await page.keyboard.press('5');
  await expect(page.getByTestId('pair').first()).toBeVisible();
  expect(await page.getByTestId('pair').count()).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('pair').first()).toContainText(/fixed:/);

  // M0 first, on 10 held-out toy prompts; then DPO; then M1 on the same prompts.
  await page.keyboard.press('7');
  await page.getByLabel('Prompts', { exact: true }).fill('10');
  await page.getByLabel('Prompts', { exact: true }).press('Tab');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('accuracies')).toContainText('prompt-level strict', { timeout: 300_000 });
  mark('M0 evaluated');
  await loop(['done', 'next', 'later', 'later'], 'Train the actor (DPO → M1)');
  await page.getByTestId('loop-action').press('Enter'); // starts the actor's DPO
  const actor = page.getByTestId('train-actor');
  await expect(actor.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
  mark('DPO');
  await page.keyboard.press('7');
  await expect(page.getByTestId('eval-run')).toHaveText('Evaluate M1');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('eval-model')).toContainText('M1', { timeout: 300_000 });
  const perType = page.getByRole('figure', { name: /^Instruction-level strict accuracy per instruction type, M0, M1/ });
  await expect(perType.locator('[data-series="M0"]').first()).toBeVisible();
  await expect(perType.locator('[data-series="M1"]').first()).toBeVisible();
  await shot(page, 'toy-evaluate');
  mark('M1 evaluated');
  expect(errors).toEqual([]);
});

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
