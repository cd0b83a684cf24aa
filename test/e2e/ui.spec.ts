import { expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test';

// What a new user and a projector see: reports beside the control that caused them, the Trees
// view following its search, Esc leaving a search box, empty exports refused, the finished list
// after a resume, one colour pair for chosen/rejected, charts named after their prompt set, the
// checkers' verdict beside the refiner's (per sample, per node, per pair, the judge's accuracy per
// iteration), and every view at 800×600 with the largest text size: nothing wider than the
// window, chart ticks and tree nodes as large as the text, settings and selects in full.

test.setTimeout(300_000);

/** Opens a view of the open run by its tab (a key press could come before the workspace listens). */
async function view(page: Page, title: string): Promise<void> {
  const tab = page.getByRole('tablist', { name: 'Run views' }).getByRole('tab', { name: title, exact: true });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

async function openNewRun(page: Page, name: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('tiny-demo');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
}

async function addInstructions(page: Page, count: number, seed: number, result: string): Promise<void> {
  const gen = page.getByRole('form', { name: 'Built-in instructions' });
  await gen.getByLabel('How many').fill(String(count));
  await gen.getByLabel('Seed').fill(String(seed));
  await gen.getByLabel('Constraints, max').fill('1');
  await gen.getByRole('button', { name: 'Add instructions' }).click();
  await expect(page.getByTestId('add-result')).toContainText(result);
}

/** The page is no wider than the window (1 px of rounding allowed). */
async function expectNoSidewaysScroll(page: Page, where: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `${where}: page width at ${innerWidth} px`).toBeLessThanOrEqual(innerWidth + 1);
}

/** Every select on the page is wide enough for the option it shows (nothing like "text, else the rea"). */
async function expectSelectsInFull(page: Page, where: string): Promise<void> {
  const cut = await page.evaluate(() => {
    const ctx = document.createElement('canvas').getContext('2d')!;
    return [...document.querySelectorAll('select')]
      .filter((s) => s.offsetParent !== null && s.selectedOptions.length)
      .flatMap((s) => {
        const style = getComputedStyle(s);
        ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const text = s.selectedOptions[0].text;
        const inner = s.getBoundingClientRect().width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return inner < ctx.measureText(text).width ? [`"${text}" in ${Math.round(inner)} px`] : [];
      });
  });
  expect(cut, `${where}: selects cut short`).toEqual([]);
}

/** Rendered height of a chart's tick labels, in pixels. */
async function tickHeight(chart: Locator): Promise<number> {
  return chart.locator('text.tick').first().evaluate((t) => t.getBoundingClientRect().height);
}

async function largestText(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Text size 150%' }).click();
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('24px');
}

test('a run at 800×600 with the largest text, and the fixes a new user meets on the way', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  let downloads = 0;
  page.on('download', () => downloads++);

  await test.step('counts are worded in the singular and plural', async () => {
    await openNewRun(page, 'Projector');
    await view(page, 'Data');
    await addInstructions(page, 1, 1, 'added 1.');
    await expect(page.getByTestId('workspace').locator('.ws-head')).toContainText('1 prompt · 0 trees · 0 pairs');
    // The tiny demo's instructions with seed 1 yield pairs (as in lab.spec.ts); seed 2 adds a few more.
    await addInstructions(page, 3, 1, 'added 2, 1 already in the run');
    await addInstructions(page, 3, 2, 'added 3');
    await expect(page.getByTestId('workspace').locator('.ws-head')).toContainText('6 prompts');
  });

  await test.step('after a reload in the middle and a resume, every finished instruction is listed', async () => {
    await view(page, 'Self-play');
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-count')).toHaveText(/^[1-5] \/ 6$/, { timeout: 90_000 });
    await page.reload();
    await expect(page.getByTestId('selfplay-start')).toHaveText('Resume iteration 0');
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('6 / 6');
    await expect(page.getByTestId('finished-list').locator('li')).toHaveCount(6);
    // Every built-in instruction has a checkable constraint, and a pair needs a judged node.
    await expect(page.getByTestId('selfplay-judge')).toHaveText(/^\d+% \(\d+\/\d+\)/);
  });

  await test.step("Trees opens on a tree that yielded a pair; the checkers' verdicts show beside the votes", async () => {
    await view(page, 'Trees');
    const items = page.getByTestId('tree-list').getByRole('button');
    await expect(items).toHaveCount(6);
    await expect(items.filter({ has: page.locator('.pill.done') }).first()).toHaveAttribute('aria-current', 'true');
    const detail = page.getByTestId('tree-detail');
    const badges = detail.locator('.samples').getByRole('group', { name: /^checker: (pass|fail), [01] of 1 constraint pass/ });
    await expect(badges.first()).toBeVisible();
    expect(await badges.count()).toBe(await detail.locator('.samples > li').count());
    await expect(detail.locator('.samples [data-agreement]').first()).toBeVisible();
    await expect(detail.getByTestId('refinement-checks')).toContainText(/root → final node \d+ \(the pair: rejected → chosen\): (fixed|nothing to fix)/);
    await expect(detail.locator('[data-node]').first()).toHaveAttribute('aria-label', /checker (pass|fail)/);
    await expect(detail.getByTestId('node-panel').getByRole('group', { name: /^checker: / })).toBeVisible();
  });

  await test.step('Trees: the shown tree follows the search; Esc leaves the search box for the shortcuts', async () => {
    await view(page, 'Trees');
    const items = page.getByTestId('tree-list').getByRole('button');
    await expect(items).toHaveCount(6);
    const other = (await items.nth(3).locator('.ti-prompt').textContent())!;
    const search = page.getByRole('searchbox', { name: 'Search trees' });
    await search.fill(other);
    await expect(page.getByTestId('tree-detail').locator('.prompt-full')).toHaveText(other);
    await search.fill('no instruction says this');
    await expect(page.getByTestId('tree-none')).toBeVisible();
    await expect(page.getByTestId('tree-detail')).toHaveCount(0);
    await search.press('Escape');
    await expect(search).not.toBeFocused();
    await expect(search).toHaveValue('no instruction says this');
    await page.keyboard.press('5');
    await expect(page.getByRole('tablist', { name: 'Run views' }).getByRole('tab', { name: 'Pairs', exact: true })).toHaveAttribute('aria-selected', 'true');
  });

  await test.step('train the actor; evaluate M0: the chart names the built-in set', async () => {
    await view(page, 'Train');
    await page.getByTestId('train-actor-start').click();
    await expect(page.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
    await view(page, 'Evaluate');
    await page.getByLabel('Prompts', { exact: true }).fill('3');
    await page.getByLabel('Prompts', { exact: true }).press('Tab');
    await page.getByTestId('eval-run').click();
    await expect(page.getByTestId('accuracies')).toBeVisible({ timeout: 120_000 });
    const chart = page.getByRole('img', { name: /^Accuracy of M0, M1, … on built-in constraint prompts, 3 \(seed 1000\)/ });
    await expect(chart).toBeVisible();
    await expect(page.getByRole('img', { name: /IFEval/ })).toHaveCount(0);
  });

  await test.step('chosen and rejected have one colour each: Pairs and the reward chart', async () => {
    await view(page, 'Train');
    const reward = page.getByTestId('train-actor').getByRole('img', { name: 'Reward margin' });
    const stroke = (name: string) => reward.locator(`polyline[data-series="${name}"]`).evaluate((l) => getComputedStyle(l).stroke);
    const [chartChosen, chartRejected] = [await stroke('chosen'), await stroke('rejected')];
    await view(page, 'Pairs');
    const color = (l: Locator) => l.evaluate((h) => getComputedStyle(h).color);
    expect(await color(page.locator('.chosen-h').first())).toBe(chartChosen);
    expect(await color(page.locator('.rejected-h').first())).toBe(chartRejected);
    expect(chartChosen).not.toBe(chartRejected);
    // Each pair says what the refinement fixed, by the checkers.
    await expect(page.getByTestId('pair-fixed').first()).toContainText(/rejected → chosen: (fixed|nothing to fix)/);
    await expect(page.getByTestId('pair').first().getByRole('group', { name: /^checker: / })).toHaveCount(2);
  });

  await test.step('an export with every pair excluded is refused beside the buttons, with no file', async () => {
    const pairs = page.getByTestId('pair');
    const n = await pairs.count();
    expect(n).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) {
      await pairs.nth(i).getByLabel('exclude').check();
      await expect(pairs.nth(i)).toHaveClass(/excluded/);
    }
    const exportPanel = page.getByRole('region', { name: 'Export' });
    await exportPanel.getByTestId('export-pairs-trl').click();
    await expect(exportPanel.getByRole('alert')).toContainText(n === 1 ? 'Nothing to export: the only pair of this run is excluded' : `Nothing to export: all ${n} pairs of this run are excluded`);
    await expect(page.getByTestId('page-status')).toBeHidden();
    expect(downloads).toBe(0);
  });

  await test.step('800×600 at the largest text size: every view fits the window, in full and legibly', async () => {
    await page.setViewportSize({ width: 800, height: 600 });
    await view(page, 'Train');
    const reward = page.getByTestId('train-actor').getByRole('img', { name: 'Reward margin' });
    const before = await tickHeight(reward);
    await largestText(page);
    await expect.poll(() => tickHeight(reward)).toBeGreaterThan(before * 1.4);

    for (const title of ['Setup', 'Data', 'Self-play', 'Trees', 'Pairs', 'Train', 'Evaluate', 'Iterations']) {
      await view(page, title);
      await expectNoSidewaysScroll(page, title);
      await expectSelectsInFull(page, title);
    }
    await expect(page.getByTestId('iteration-judge').first()).toHaveText(/^\d+% \(\d+\/\d+\)/);

    // Tree nodes grow with their values: a value fits inside its circle.
    await view(page, 'Trees');
    await page.getByRole('searchbox', { name: 'Search trees' }).fill('');
    await page.getByLabel('Show').selectOption('pairs');
    await page.getByTestId('tree-list').getByRole('button').first().click();
    const nodes = page.locator('[data-node]');
    await expect(nodes.first()).toBeVisible();
    for (const node of await nodes.all()) {
      const [text, circle] = await Promise.all([node.locator('text.value').boundingBox(), node.locator('circle').boundingBox()]);
      expect(text!.width).toBeLessThan(circle!.width * 0.85);
    }

    await page.goto('/');
    await expect(page.getByTestId('gpu-report')).toBeVisible();
    await expect(page.getByTestId('run-row').first()).toBeVisible();
    await expectNoSidewaysScroll(page, 'Home');
    await expectSelectsInFull(page, 'Home');
    // The GPU card's values keep whole words on a line (none narrower than a few characters).
    for (const dd of await page.getByTestId('gpu-report').locator('dd').all()) {
      expect((await dd.boundingBox())!.width).toBeGreaterThan(24 * 6);
    }
  });

  expect(errors).toEqual([]);
});

/** Model hosts are out of bounds; a request there waits for `release`, then fails as it would offline. */
async function heldOffline(context: BrowserContext): Promise<() => void> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await context.route(/^https:\/\/(huggingface\.co|raw\.githubusercontent\.com|cdn-lfs[^/]*\.huggingface\.co)\//, async (route) => {
    await gate;
    await route.abort('internetdisconnected');
  });
  return release;
}

test('progress and errors of "Check size and fit" and of a Models-panel download show beside the control, in view', async ({ page, context }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const release = await heldOffline(context);
  await page.setViewportSize({ width: 800, height: 600 });
  await openNewRun(page, 'Beside the control');
  await largestText(page);

  const actor = page.getByTestId('role-actor');
  await actor.getByLabel('Hugging Face repository').check();
  await actor.getByRole('button', { name: 'Check size and fit' }).click();
  const beside = actor.locator('[data-feedback="actor-hub"]');
  await expect(beside.getByTestId('task-progress')).toContainText('Reading mlc-ai/SmolLM2-135M-Instruct-q0f32-MLC');
  await expect(beside).toBeInViewport();
  await expect(page.getByTestId('page-status')).toBeHidden();
  release();
  await expect(beside.getByRole('alert')).toBeVisible({ timeout: 60_000 });
  await expect(beside.getByRole('alert')).toBeInViewport();
  await expect(page.getByTestId('page-status')).toBeHidden();
  await beside.getByRole('button', { name: 'Dismiss error' }).click();
  await expect(beside.getByRole('alert')).toHaveCount(0);

  await page.goto('/');
  const panel = page.getByTestId('models-panel');
  await panel.getByText('Download a web-llm model').click();
  const search = panel.getByRole('combobox', { name: 'Search web-llm models' });
  await search.fill('smollm2 135m q0f32');
  await search.press('Enter');
  await panel.getByRole('button', { name: /^Download SmolLM2-135M-Instruct-q0f32-MLC/ }).click();
  const downloadReport = panel.locator('[data-feedback="models-download"]').getByRole('alert');
  await expect(downloadReport).toContainText('offline', { timeout: 60_000 });
  await expect(downloadReport).toBeInViewport();
  await expect(page.getByTestId('page-status')).toBeHidden();
  expect(errors).toEqual([]);
});
