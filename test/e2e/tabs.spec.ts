import { expect, test, type Page } from '@playwright/test';

// Two tabs of the lab on one run (issue 14, item 5), as a user drives them: tab A runs the tiny
// demo's self-play; tab B, open on the same run, follows its progress, cannot delete the run
// while it runs (a clear message instead), and its Pause pauses tab A's job. B then resumes and
// A follows; A trains the actor and B's Train view follows it to the end.

test.setTimeout(240_000);

/** Opens a view of the open run by its tab. */
async function view(page: Page, title: string): Promise<void> {
  const tab = page.getByRole('tablist', { name: 'Run views' }).getByRole('tab', { name: title, exact: true });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

async function openRun(page: Page, name: string): Promise<void> {
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.getByTestId('workspace')).toBeVisible();
}

/** The instructions finished, from the Self-play view's "k / n". */
async function finished(page: Page): Promise<number> {
  return Number((await page.getByTestId('selfplay-count').textContent())!.split('/')[0]);
}

test('a second tab follows the first, cannot delete the run it is running, and its Pause reaches it', async ({ page: a, context }) => {
  const errors: string[] = [];
  a.on('pageerror', (e) => errors.push(`A: ${e}`));

  await a.goto('/');
  await a.getByLabel('New run').fill('Two tabs');
  await a.getByLabel('Preset').selectOption('tiny-demo');
  await a.getByLabel('New run').press('Enter');
  await openRun(a, 'Two tabs');
  await view(a, 'Data');
  const gen = a.getByRole('form', { name: 'Built-in instructions' });
  await gen.getByLabel('How many').fill('8');
  await gen.getByLabel('Seed').fill('1');
  await gen.getByLabel('Constraints, max').fill('1');
  await gen.getByRole('button', { name: 'Add instructions' }).click();
  await expect(a.getByTestId('prompt-row')).toHaveCount(8);

  const b = await context.newPage();
  b.on('pageerror', (e) => errors.push(`B: ${e}`));
  await b.goto('/');
  await openRun(b, 'Two tabs');
  await view(b, 'Self-play');
  await expect(b.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'new');

  await test.step('tab A runs self-play; tab B shows it running, with its progress', async () => {
    await view(a, 'Self-play');
    await a.getByTestId('selfplay-start').click();
    await expect(b.getByRole('button', { name: 'Pause' })).toBeEnabled({ timeout: 60_000 });
    await expect(b.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'running');
    await expect.poll(() => finished(b), { timeout: 90_000 }).toBeGreaterThanOrEqual(1);
  });

  await test.step('tab B cannot delete the run tab A is running: it says why, and the run stays', async () => {
    await b.getByRole('link', { name: 'All runs', exact: true }).click();
    const row = b.getByTestId('run-row').filter({ hasText: 'Two tabs' });
    await row.getByRole('button', { name: 'Delete Two tabs' }).click();
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(b.getByRole('alert')).toContainText('This run is busy in another SPaR Lab tab');
    await b.getByRole('button', { name: 'Dismiss error' }).click();
    await expect(row).toHaveCount(1);
    await expect(a.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'running');
  });

  await test.step("tab B's Pause pauses tab A's self-play; both show it paused", async () => {
    await openRun(b, 'Two tabs');
    await view(b, 'Self-play');
    await b.getByRole('button', { name: 'Pause' }).click();
    await expect(a.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });
    await expect(b.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'paused');
    await expect(b.getByTestId('selfplay-start')).toHaveText('Resume iteration 0');
    await expect(a.getByTestId('selfplay-start')).toHaveText('Resume iteration 0');
    expect(await finished(b)).toBe(await finished(a));
  });

  await test.step('tab B resumes; tab A follows it to the end', async () => {
    await b.getByTestId('selfplay-start').click();
    await expect(a.getByRole('button', { name: 'Pause' })).toBeVisible({ timeout: 60_000 });
    await expect(b.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
    await expect(a.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done');
    await expect(a.getByTestId('selfplay-count')).toHaveText('8 / 8');
    await expect(a.getByTestId('run-status')).toHaveText('done');
  });

  await test.step("tab A trains the actor; tab B's Train view follows it to the end", async () => {
    await view(a, 'Train');
    await view(b, 'Train');
    await expect(b.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'new');
    await a.getByTestId('train-actor-start').click();
    await expect(a.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
    const steps = (await a.getByTestId('train-actor-state').textContent())!.match(/step (\d+) of \1/)![1];
    await expect(b.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done');
    await expect(b.getByTestId('train-actor-state')).toContainText(`step ${steps} of ${steps}`);
  });

  expect(errors).toEqual([]);
});
