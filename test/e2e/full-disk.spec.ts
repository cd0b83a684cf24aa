import { expect, test, type Page } from '@playwright/test';

// A full disk must not lock the lab (issue 14, item 4), as a user meets it: storage fills up in
// the middle of self-play, the lab stops it and says what to do, and after a reload (storage
// still full) the user can list, export and delete runs, which is what the message asks for.
// Once space is freed, Resume finishes the iteration.
//
// The full quota is simulated where IndexedDB reports it, in the lab worker: a wrapper around
// the page's Worker constructor makes object stores refuse puts with a DOMException
// "QuotaExceededError" while the test says storage is full (sessionStorage, so that it lasts
// over a reload, and a BroadcastChannel to change it while the worker runs).

test.setTimeout(240_000);

/** Installs the quota switch in every worker the page starts. */
async function quotaSwitch(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const W = window.Worker;
    window.Worker = class extends W {
      constructor(url: string | URL, opts?: WorkerOptions) {
        const full = sessionStorage.getItem('test-quota') === 'full';
        const src = `import ${JSON.stringify(new URL(url, location.href).href)};
          let full = ${full};
          new BroadcastChannel('test-quota').onmessage = (m) => { full = m.data === 'full'; };
          for (const name of ['put', 'add']) {
            const write = IDBObjectStore.prototype[name];
            IDBObjectStore.prototype[name] = function (...args) {
              if (full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
              return write.apply(this, args);
            };
          }`;
        super(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), opts);
      }
    };
  });
}

async function setQuotaFull(page: Page, full: boolean): Promise<void> {
  await page.evaluate((full) => {
    if (full) sessionStorage.setItem('test-quota', 'full');
    else sessionStorage.removeItem('test-quota');
    new BroadcastChannel('test-quota').postMessage(full ? 'full' : 'room');
  }, full);
}

async function view(page: Page, title: string): Promise<void> {
  const tab = page.getByRole('tablist', { name: 'Run views' }).getByRole('tab', { name: title, exact: true });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

async function createRun(page: Page, name: string): Promise<void> {
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('tiny-demo');
  await page.getByLabel('New run').press('Enter');
  await expect(page.getByTestId('run-row').filter({ hasText: name })).toBeVisible();
}

test('storage full mid-run: self-play stops with the message; after a reload runs can be listed, exported and deleted; Resume finishes once space is freed', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await quotaSwitch(page);
  await page.goto('/');
  await createRun(page, 'Old run');
  await createRun(page, 'Full disk');
  await page.getByTestId('run-row').filter({ hasText: 'Full disk' }).getByRole('button', { name: 'Open Full disk' }).click();
  await view(page, 'Data');
  const gen = page.getByRole('form', { name: 'Built-in instructions' });
  await gen.getByLabel('How many').fill('8');
  await gen.getByLabel('Seed').fill('1');
  await gen.getByLabel('Constraints, max').fill('1');
  await gen.getByRole('button', { name: 'Add instructions' }).click();
  await expect(page.getByTestId('prompt-row')).toHaveCount(8);

  await test.step('storage fills up during self-play: it stops, says what to do, and nothing shows it running', async () => {
    await view(page, 'Self-play');
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-count')).toHaveText(/^[1-7] \/ 8$/, { timeout: 90_000 });
    await setQuotaFull(page, true);
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });
    await expect(page.getByRole('button', { name: 'Pause' })).toHaveCount(0);
    await expect(page.getByTestId('selfplay-start')).toHaveText('Resume iteration 0');
    await expect(page.getByTestId('run-status')).toHaveText('paused');
    await expect(page.getByRole('alert')).toContainText('Self-play stopped: browser storage is full');
    await expect(page.getByRole('alert')).toContainText('export and delete old runs');
  });

  const stopped = Number((await page.getByTestId('selfplay-count').textContent())!.split('/')[0]);

  await test.step('a reload with storage still full: the runs are listed, exported and deleted', async () => {
    await page.reload();
    await expect(page.getByTestId('run-status')).toHaveText('paused');
    await page.getByRole('link', { name: 'All runs', exact: true }).click();
    const rows = page.getByTestId('run-row');
    await expect(rows).toHaveCount(2);
    await expect(fullDiskRow(page)).toContainText('paused');
    const [download] = await Promise.all([page.waitForEvent('download'), fullDiskRow(page).getByRole('button', { name: 'Export Full disk' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.sparlab\.json$/);
    const old = rows.filter({ hasText: 'Old run' });
    await old.getByRole('button', { name: 'Delete Old run' }).click();
    await old.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(rows).toHaveCount(1);
    await expect(page.getByRole('alert')).toHaveCount(0);
  });

  await test.step('Resume says storage is full while it is; once space is freed it finishes the iteration', async () => {
    await fullDiskRow(page).getByRole('button', { name: 'Open Full disk' }).click();
    await view(page, 'Self-play');
    await expect(page.getByTestId('selfplay-count')).toHaveText(`${stopped} / 8`);
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByRole('alert')).toContainText('Browser storage is full', { timeout: 60_000 });
    await expect(page.getByTestId('selfplay-start')).toHaveText('Resume iteration 0');
    await page.getByRole('button', { name: 'Dismiss error' }).click();

    await setQuotaFull(page, false);
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('8 / 8');
    await expect(page.getByTestId('run-status')).toHaveText('done');
  });

  expect(errors).toEqual([]);
});

function fullDiskRow(page: Page) {
  return page.getByTestId('run-row').filter({ hasText: 'Full disk' });
}
