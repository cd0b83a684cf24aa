import { expect, test, type Download, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';

// The whole SPaR experiment in the built app, as a user drives it: a run from the tiny demo
// preset, built-in instructions, self-play with tiny budgets, a tree with its word diff, pairs,
// exports checked line by line, an evaluation, and a reload in the middle of a second
// iteration that resumes without losing or duplicating finished trees. Screenshots of the main
// screens go to docs/screenshots/ for the README.

test.setTimeout(240_000);

const shot = (page: Page, name: string) => page.screenshot({ path: `docs/screenshots/${name}.png`, fullPage: true });

async function downloaded(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [d] = (await Promise.all([page.waitForEvent('download'), click()])) as [Download, void];
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), 'utf8') };
}

const jsonl = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));

test('tiny demo: self-play, trees, pairs, exports, evaluation, reload and resume', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await test.step('create a run from the tiny demo preset and open it', async () => {
    await page.goto('/');
    await page.getByLabel('New run').fill('Tiny demo');
    await expect(page.getByLabel('Preset')).toHaveValue('tiny-demo');
    await page.getByLabel('New run').press('Enter');
    const row = page.getByTestId('run-row').filter({ hasText: 'Tiny demo' });
    await row.getByRole('button', { name: 'Open Tiny demo' }).click();
    await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId('engine-name')).toHaveText(/CPU reference engine|WebGPU engine/);
    await expect(page.getByTestId('preset-tiny-demo')).toHaveText('Apply again');
    await expect(page.getByLabel('Critiques per judgment (k)')).toHaveValue('2');
    await expect(page.getByLabel('Verdict from')).toHaveValue('parsed-else-readout');
    await shot(page, 'setup');
  });

  await test.step('add built-in instructions; an upload reports its bad lines', async () => {
    await page.keyboard.press('2');
    await expect(page.getByRole('tab', { name: /Data/ })).toHaveAttribute('aria-selected', 'true');
    const gen = page.getByRole('form', { name: 'Built-in instructions' });
    await gen.getByLabel('How many').fill('3');
    await gen.getByLabel('Seed').fill('1');
    await gen.getByLabel('Constraints, max').fill('1');
    await gen.getByRole('button', { name: 'Add instructions' }).click();
    await expect(page.getByTestId('prompt-row')).toHaveCount(3);
    const first = (await page.getByTestId('prompt-row').first().locator('.prompt-text').textContent())!;
    await page.getByTestId('prompts-upload').setInputFiles({
      name: 'mine.jsonl',
      mimeType: 'application/jsonl',
      buffer: Buffer.from(`${JSON.stringify({ prompt: first })}\n{ broken\n${JSON.stringify({ prompt: 'x', instruction_id_list: ['nope:nope'] })}\n`),
    });
    await expect(page.getByTestId('add-result')).toContainText('added 0, 1 already in the run, 2 lines could not be read');
    await expect(page.getByTestId('line-errors')).toContainText('line 2:');
    await expect(page.getByTestId('line-errors')).toContainText('line 3:');
    await expect(page.getByTestId('prompt-row')).toHaveCount(3);
    await expect(page.locator('.chip').first()).toBeVisible();
    await shot(page, 'data');
  });

  await test.step('run iteration 0 of self-play with live progress', async () => {
    await page.keyboard.press('3');
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('3 / 3');
    await expect(page.getByTestId('finished-list').locator('li')).toHaveCount(3);
    await expect(page.getByTestId('run-status')).toHaveText('done');
  });

  await test.step('a refined tree with a word diff against its parent', async () => {
    await page.keyboard.press('4');
    await page.getByLabel('Show').selectOption('pairs');
    await page.getByTestId('tree-list').getByRole('button').first().click();
    await expect(page.getByTestId('tree-graph')).toBeVisible();
    const child = page.locator('[data-node]:not([data-node="0"])').first();
    await child.focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('node-panel')).toContainText('Refined from node');
    await expect(page.getByTestId('word-diff')).toBeVisible();
    await expect(page.getByTestId('word-diff').locator('ins, del').first()).toBeVisible();
    await shot(page, 'trees');
  });

  await test.step('browse pairs; export pairs, RFT records and trees, and check the files', async () => {
    await page.keyboard.press('5');
    await expect(page.getByTestId('pair').first()).toBeVisible();
    const pairs = await page.getByTestId('pair').count();
    await shot(page, 'pairs');

    const trl = await downloaded(page, () => page.getByTestId('export-pairs-trl').click());
    expect(trl.name).toBe('Tiny-demo.pairs.trl.jsonl');
    const trlRows = jsonl(trl.text);
    expect(trlRows).toHaveLength(pairs);
    for (const r of trlRows) {
      expect(r.prompt).toEqual([{ role: 'user', content: expect.any(String) }]);
      expect(r.chosen[0].role).toBe('assistant');
      expect(r.rejected[0].role).toBe('assistant');
      expect(r.chosen[0].content).not.toBe(r.rejected[0].content);
    }
    const lf = jsonl((await downloaded(page, () => page.getByTestId('export-pairs-llamafactory').click())).text);
    expect(lf.map((r) => [r.messages[0].content, r.chosen.content, r.rejected.content])).toEqual(trlRows.map((r) => [r.prompt[0].content, r.chosen[0].content, r.rejected[0].content]));
    const rft = jsonl((await downloaded(page, () => page.getByTestId('export-rft').click())).text);
    expect(rft.length).toBeGreaterThan(0);
    for (const r of rft) expect(r.messages.at(-1).role).toBe('assistant');
    const trees = JSON.parse((await downloaded(page, () => page.getByTestId('export-trees').click())).text);
    expect(trees.format).toBe('spar-lab-trees');
    expect(trees.trees).toHaveLength(3);
    expect(trees.trees.some((t: { data: { tree: { nodes: unknown[] } | null } }) => (t.data.tree?.nodes.length ?? 0) > 1)).toBe(true);
  });

  await test.step('evaluate the actor and score the judge', async () => {
    await page.keyboard.press('6');
    await page.getByLabel('Prompts', { exact: true }).fill('3');
    await page.getByLabel('Prompts', { exact: true }).press('Tab');
    await page.getByTestId('eval-run').click();
    await expect(page.getByTestId('accuracies')).toContainText('prompt-level strict', { timeout: 60_000 });
    await expect(page.getByTestId('eval-result')).toContainText('3 prompts');
    await expect(page.getByTestId('eval-breakdown').locator('tbody tr').first()).toBeVisible();
    await page.getByTestId('judge-run').click();
    await expect(page.getByTestId('judge-result')).toContainText('accuracy (iteration 0)');
    await shot(page, 'evaluate');
  });

  await test.step('reload in the middle of iteration 1, then resume: nothing lost, nothing duplicated', async () => {
    await page.keyboard.press('2');
    const gen = page.getByRole('form', { name: 'Built-in instructions' });
    await gen.getByLabel('How many').fill('4');
    await gen.getByLabel('Seed').fill('2');
    await gen.getByRole('button', { name: 'Add instructions' }).click();
    await expect(page.getByTestId('add-result')).toContainText('added 4');
    await page.keyboard.press('3');
    await expect(page.getByTestId('selfplay-start')).toHaveText('Start iteration 1');
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-count')).toHaveText(/^[1-5] \/ 7$/, { timeout: 60_000 });
    await shot(page, 'selfplay');
    await page.reload();

    await expect(page.getByTestId('run-status')).toHaveText('paused');
    await expect(page.getByTestId('selfplay-start')).toHaveText('Resume iteration 1');
    await page.keyboard.press('5');
    const before = JSON.parse((await downloaded(page, async () => {
      await page.getByLabel('Iteration', { exact: true }).first().selectOption('1');
      await page.getByTestId('export-trees').click();
    })).text).trees as { id: string; finishedAt: number }[];
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.length).toBeLessThan(7);

    await page.keyboard.press('3');
    await expect(page.getByTestId('selfplay-state')).toContainText('finished');
    await shot(page, 'resume');
    await page.keyboard.press('s');
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('7 / 7');

    await page.keyboard.press('5');
    const after = JSON.parse((await downloaded(page, async () => {
      await page.getByLabel('Iteration', { exact: true }).first().selectOption('1');
      await page.getByTestId('export-trees').click();
    })).text).trees as { id: string; finishedAt: number }[];
    expect(after).toHaveLength(7);
    expect(new Set(after.map((t) => t.id)).size).toBe(7);
    // The trees finished before the reload are the same records, not recomputed.
    for (const t of before) expect(after.find((a) => a.id === t.id)?.finishedAt).toBe(t.finishedAt);

    await page.keyboard.press('7');
    await expect(page.getByTestId('iteration-row')).toHaveCount(2);
    await shot(page, 'iterations');
  });

  expect(errors).toEqual([]);
});

test('keyboard: view shortcuts, the help dialog closes with Esc, large text', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('New run').fill('Keys');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: 'Keys' }).getByRole('link', { name: 'Keys' }).click();
  await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('7');
  await expect(page.getByRole('tab', { name: /Iterations/ })).toHaveAttribute('aria-selected', 'true');
  await page.getByRole('tab', { name: /Iterations/ }).focus();
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByRole('tab', { name: /Evaluate/ })).toBeFocused();
  await expect(page.getByRole('tab', { name: /Evaluate/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();
  await page.getByRole('button', { name: 'Text size 150%' }).click();
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('24px');
  await page.reload();
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('24px');
  // Starting self-play without instructions says what to do.
  await page.keyboard.press('3');
  await expect(page.getByText('Add instructions in')).toBeVisible();
});
