import { expect, test, type Page } from '@playwright/test';

// One broken record must not brick the lab. IndexedDB may hold records that an older version or
// a person wrote; they are put straight into the database here (src/store/schema.ts: database
// "spar-lab", stores "runs", "trees", "pairs", "evals", … keyed by [runId, id]), then the page is
// reloaded and driven like a user.

/** Collects uncaught page errors: a view that throws while rendering shows up here. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

/** Opens a view of the open run by its tab (a key press could come before the workspace listens). */
async function view(page: Page, title: string): Promise<void> {
  const tab = page.getByRole('tablist', { name: 'Run views' }).getByRole('tab', { name: title, exact: true });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

async function createRun(page: Page, name: string): Promise<string> {
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('tiny-demo');
  await page.getByLabel('New run').press('Enter');
  const row = page.getByTestId('run-row').filter({ hasText: name });
  await expect(row).toBeVisible();
  return (await row.getAttribute('data-run-id'))!;
}

/** Writes records into the lab's database as they are, in one transaction per store. */
async function putRaw(page: Page, records: Record<string, unknown[]>): Promise<void> {
  await page.evaluate(async (records) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('spar-lab');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    for (const [store, list] of Object.entries(records)) {
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction(store, 'readwrite');
        for (const r of list) tx.objectStore(store).put(r);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    }
    db.close();
  }, records);
}

async function readRun(page: Page, id: string): Promise<Record<string, any>> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('spar-lab');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const run = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = db.transaction('runs').objectStore('runs').get(id);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return run;
  }, id);
}

function goodTree(runId: string, promptId: string, prompt: string) {
  const judgment = { critiques: [{ text: 'Fine. Verdict: Yes', parsed: 'Yes', verdict: 'Yes' }], yes: 1, no: 0, value: 1, label: 'Yes', representative: 0, tiedAttempts: [] };
  return {
    runId,
    id: `0:${promptId}`,
    iteration: 0,
    promptId,
    status: 'done',
    data: {
      prompt,
      mode: 'refine',
      seeds: { sample: 1, judge: 2, select: 3, search: 4 },
      samples: [{ response: 'A fine answer.', finishReason: 'stop', judge: { ok: true, judgment } }],
      negative: null,
      positive: null,
      tree: null,
      stats: { modelCalls: 2, generatedTokens: 12, judgments: 1 },
    },
    outputs: { pairs: 0, rft: 0 },
    finishedAt: Date.now(),
  };
}

test('broken records in IndexedDB: the good runs are listed, the broken ones shown as broken, and a run with a broken tree and pair still opens', async ({ page }) => {
  const errors = pageErrors(page);
  await page.goto('/');
  const runA = await createRun(page, 'Good run A');
  await createRun(page, 'Good run B');

  const a = await readRun(page, runA);
  const now = Date.now();
  const iteration = {
    iteration: 0, status: 'done', startedAt: now - 60_000, updatedAt: now, finishedAt: now,
    spar: a.config.spar, models: a.config.models, labels: { actor: 'tiny model', refiner: 'tiny model' }, adapters: {},
    instructions: 2, finished: 2, failed: 0, pairs: 1, rft: 0,
  };
  const broken = { status: 'done', config: {}, notes: '' };
  await putRaw(page, {
    runs: [
      { ...a, config: { ...a.config, iterations: [iteration] } },
      { ...broken, id: 'from-yesterday', name: 'Dated in words', createdAt: 'yesterday', updatedAt: now },
      { ...broken, id: 'never-updated', name: 'Never updated', createdAt: now },
    ],
    trees: [goodTree(runA, 'q1', 'Write a haiku about autumn.'), { ...goodTree(runA, 'q2', 'Lost prompt'), data: null }],
    pairs: [
      { runId: runA, id: '0:q1:0', iteration: 0, promptId: 'q1', prompt: 'Write a haiku about autumn.', chosen: 'Leaves fall', rejected: 'no', excluded: false, meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenDepth: 1 } },
      { runId: runA, id: '0:q2:0', iteration: 0, promptId: 'q2', prompt: 'Lost prompt', chosen: 'x', rejected: 'y', excluded: false },
    ],
  });
  await page.reload();

  // The start page: every run listed; the broken ones as broken, with their reason.
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(4);
  for (const name of ['Good run A', 'Good run B']) {
    await expect(rows.filter({ hasText: name }).getByRole('button', { name: `Open ${name}` })).toBeVisible();
  }
  const dated = rows.filter({ hasText: 'Dated in words' });
  await expect(dated).toHaveAttribute('data-broken', 'true');
  await expect(dated).toContainText('broken');
  await expect(dated).toContainText('createdAt: expected a time in milliseconds since 1970, got the string "yesterday"');
  await expect(dated.getByRole('button', { name: 'Delete Dated in words' })).toBeVisible();
  await expect(rows.filter({ hasText: 'Never updated' })).toContainText('updatedAt: missing');

  // A broken run can be deleted like any other.
  await dated.getByRole('button', { name: 'Delete Dated in words' }).click();
  await dated.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(rows).toHaveCount(3);

  // The run with a broken tree and a broken pair: every view renders, the broken ones marked.
  await rows.filter({ hasText: 'Good run A' }).getByRole('button', { name: 'Open Good run A' }).click();
  await view(page, 'Trees');
  const items = page.getByTestId('tree-list').locator('.tree-item');
  await expect(items).toHaveCount(2);
  const brokenItem = items.and(page.locator('[data-broken="true"]'));
  await expect(brokenItem).toContainText('data: expected an object, got null');
  await brokenItem.click();
  await expect(page.getByTestId('tree-broken')).toContainText('data: expected an object, got null');
  await items.filter({ hasText: 'Write a haiku about autumn.' }).click();
  await expect(page.getByTestId('tree-detail')).toContainText('Write a haiku about autumn.');

  await view(page, 'Self-play');
  const finished = page.getByTestId('finished-list').locator('li');
  await expect(finished).toHaveCount(2);
  await expect(finished.and(page.locator('[data-broken="true"]'))).toContainText('data: expected an object, got null');
  await expect(finished.filter({ hasText: 'Write a haiku about autumn.' })).toBeVisible();

  await view(page, 'Pairs');
  await expect(page.getByTestId('pair')).toHaveCount(1);
  await expect(page.getByTestId('pair')).toContainText('Leaves fall');
  await expect(page.getByTestId('broken-record')).toContainText('meta: missing (expected an object)');

  await view(page, 'Iterations');
  await expect(page.getByTestId('iteration-row')).toHaveCount(1);
  await expect(page.getByTestId('iteration-row')).toContainText('done');

  expect(errors).toEqual([]);
});

test('Evaluate stays within the window with "Per prompt" open, however long the prompts, and leaves a broken result out', async ({ page }) => {
  const errors = pageErrors(page);
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto('/');
  const runId = await createRun(page, 'Long prompts');
  const long = `Write a report on ${'the history of computing machines and their makers, '.repeat(40)}ending with this token: ${'x'.repeat(600)}`;
  const result = (key: number, prompt: string, pass: boolean) => ({
    key, prompt, response: `${prompt} ${'y'.repeat(900)}`, instruction_id_list: ['punctuation:no_comma'], kwargs: [{}], strict: [pass], loose: [pass], finishReason: 'stop', tokens: 700,
  });
  await putRaw(page, {
    evals: [{
      runId, id: 'long', iteration: 0, createdAt: Date.now(), kind: 'ifeval',
      summary: { promptStrict: 0.5, instructionStrict: 0.5, promptLoose: 0.5, instructionLoose: 0.5, prompts: 2, instructions: 2, heldOutDropped: 0, seconds: 3 },
      meta: { model: 'tiny model', modelIndex: 0, adapter: null, mode: 'plain', set: 'uploaded, 2 prompts' },
      details: [result(1, long, false), result(2, 'Answer without commas.', true)],
    }, { runId, id: 'half-written', iteration: 0, createdAt: Date.now() - 1000, kind: 'ifeval', summary: null, details: [] }],
  });
  await page.reload();
  await page.getByTestId('run-row').filter({ hasText: 'Long prompts' }).getByRole('button', { name: 'Open Long prompts' }).click();
  await view(page, 'Evaluate');
  await expect(page.getByTestId('eval-result')).toContainText('2 prompts');
  await expect(page.getByTestId('eval-broken')).toContainText('half-written: summary: expected an object, got null');
  await page.getByText('Per prompt (2)').click();
  const prompts = page.getByTestId('eval-prompts').locator('li.record');
  await expect(prompts).toHaveCount(2);
  await prompts.first().locator('summary').click();
  await expect(prompts.first().locator('pre.text').first()).toBeVisible();
  // The open result shows its whole prompt, wrapped in its box.
  const prompt = prompts.first().locator('summary .clip');
  expect(await prompt.evaluate((el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().height > 100)).toBe(true);

  const width = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, window: window.innerWidth }));
  expect(width.doc).toBeLessThanOrEqual(width.window);
  expect(errors).toEqual([]);
});
