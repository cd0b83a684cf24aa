import { expect, test, type Page } from '@playwright/test';
import { createServer } from 'node:net';
import { paperRun } from './runs';

// Issue 14, items 10 and 12, in the built app. The Paper preset on the tiny model is flagged in
// Setup and refused at Start with what to change, before any model call. With both roles on an
// endpoint nobody answers, Self-play says it is retrying (attempt k of n, why, the wait) and the
// stopped iteration counts its instructions as failed, never as done.

/** A port on 127.0.0.1 that nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise((ok) => s.close(ok));
  return port;
}

async function addInstructions(page: Page, count: number) {
  await page.getByRole('tab', { name: /Data/ }).click();
  const gen = page.getByRole('form', { name: 'Built-in instructions' });
  await gen.getByLabel('How many').fill(String(count));
  await gen.getByRole('button', { name: 'Add instructions' }).click();
  await expect(page.getByTestId('prompt-row')).toHaveCount(count);
  await page.getByRole('tab', { name: /Self-play/ }).click();
}

test('the Paper preset on the tiny model: flagged in Setup, refused at Start with what to change', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await paperRun(page, `paper tiny ${Date.now()}`);
  await expect(page.getByTestId('context-warning')).toContainText("The refiner's model (tiny random model (seed 1)) holds 1,024 tokens");
  await expect(page.getByTestId('context-warning')).toContainText('use that preset, or choose a real instruction-tuned model');

  await addInstructions(page, 2);
  await expect(page.getByTestId('selfplay-context-warning')).toContainText('holds 1,024 tokens');
  await page.getByTestId('selfplay-start').click();
  await expect(page.locator('.banner.error')).toContainText("Self-play did not start: The refiner's model (tiny random model (seed 1)) holds 1,024 tokens");
  await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'new');

  // The Tiny demo preset fits the same model: the warnings go.
  await page.getByRole('button', { name: 'Dismiss error' }).click();
  await page.getByRole('tab', { name: /Setup/ }).click();
  await page.getByTestId('preset-tiny-demo').click();
  await expect(page.getByTestId('context-warning')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('an unreachable endpoint: retries are shown, and the stopped run counts its instructions as failed', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const baseUrl = `http://127.0.0.1:${await closedPort()}/v1`;
  await paperRun(page, `unreachable ${Date.now()}`);
  for (const [role, title] of [['actor', 'Actor'], ['refiner', 'Refiner']] as const) {
    const card = page.getByTestId(`role-${role}`);
    await card.getByLabel('OpenAI-compatible endpoint').check();
    const form = card.getByRole('form', { name: `${title} endpoint` });
    await form.getByLabel('Base URL').fill(baseUrl);
    await form.getByLabel('Base URL').press('Tab');
    await form.getByLabel('Model name').fill('nobody');
    await form.getByLabel('Model name').press('Tab');
    await expect(card.getByTestId(`${role}-endpoint-missing`)).toHaveCount(0);
  }
  await expect(page.getByTestId('context-warning')).toHaveCount(0);

  // Six instructions, four at a time: five failures in a row stop the run.
  await addInstructions(page, 6);
  await page.getByTestId('selfplay-start').click();
  await expect(page.getByTestId('selfplay-retry')).toContainText(/^Retrying the actor's request: attempt [2-5] of 5 in [\d.]+ m?s\. Could not reach the model server at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
  await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'failed', { timeout: 90_000 });
  await expect(page.getByTestId('selfplay-state')).toContainText(/Stopped by an error after 0 done, [56] failed of 6/);
  await expect(page.getByTestId('selfplay-count')).toHaveText('0 / 6');
  await expect(page.getByTestId('selfplay-failed-count')).toHaveText(/^[56] failed$/);
  await expect(page.getByTestId('selfplay-state')).not.toContainText('Done');
  expect(errors).toEqual([]);
});
