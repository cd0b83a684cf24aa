import { expect, test, type Page } from '@playwright/test';
import { shot } from './screenshots';
import { evaluateTrainEvaluate, expectPairs, expectReadableTree, loadActorAndSelfPlay, openToyRun, stopwatch } from './toy-iteration';

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
  await openToyRun(page, 'Toy loop');
  const mark = stopwatch('toy iteration');
  await loadActorAndSelfPlay(page);
  mark('self-play');
  await expectReadableTree(page);
  await openTreeWithFix(page);
  await shot(page, 'toy-tree');
  await expectPairs(page);
  await evaluateTrainEvaluate(page, 10, mark);
  await shot(page, 'toy-evaluate');
  expect(errors).toEqual([]);
});

/** Steps through the trees (j) to one whose refinement fixed a constraint by the checkers' verdict: the README's picture. */
async function openTreeWithFix(page: Page) {
  const title = page.locator('#tree-title');
  for (let i = 0; i < 16; i++) {
    if ((await page.getByTestId('refinement-checks').allTextContents()).some((t) => t.includes('fixed: '))) break;
    const before = (await title.textContent()) ?? '';
    await page.keyboard.press('j');
    await expect(title).not.toHaveText(before);
  }
  await expect(page.getByTestId('refinement-checks')).toContainText('fixed: ');
}
