import { expect, test } from '@playwright/test';
import { shot } from './screenshots';
import { readFile } from 'node:fs/promises';

test('the start page reports the GPU and storage', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'SPaR Lab' })).toBeVisible();
  await expect(page.getByTestId('gpu-status')).toHaveText('WebGPU is available');
  await expect(page.getByTestId('gpu-adapter')).not.toBeEmpty();
  await expect(page.getByTestId('gpu-f16')).toContainText(/yes|no/);
  await expect(page.getByTestId('storage-report')).toContainText('Persistent');
  await shot(page, 'home');
});

test('a page without WebGPU explains what to do instead of going blank', async ({ page }) => {
  await page.addInitScript(() => {
    // Hide WebGPU from the page and its workers (as in a browser without it).
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    const W = window.Worker;
    window.Worker = class extends W {
      constructor(url: string | URL, opts?: WorkerOptions) {
        // A static import, so the worker's message listener exists before the page's first message.
        const src = `import ${JSON.stringify(new URL(url, location.href).href)}; Object.defineProperty(WorkerNavigator.prototype, 'gpu', { get: () => undefined });`;
        super(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), opts);
      }
    };
  });
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveText('WebGPU is not available');
  await expect(page.getByTestId('gpu-report')).toContainText('enable-unsafe-webgpu');
});

test('a run created in the UI survives a reload, exports and imports back', async ({ page }) => {
  await page.goto('/');
  const name = `e2e run ${Date.now()}`;
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('New run').press('Enter'); // keyboard works
  const row = page.getByTestId('run-row').filter({ hasText: name });
  await expect(row).toBeVisible();

  await page.reload();
  await expect(row).toBeVisible();
  await expect(row).toContainText('new');

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Export ${name}` }).click()]);
  expect(download.suggestedFilename()).toMatch(/\.sparlab\.json$/);
  const file = await download.path();
  const archive = JSON.parse(await readFile(file, 'utf8'));
  expect(archive.format).toBe('spar-lab-run');
  expect(archive.run.name).toBe(name);

  await page.getByTestId('import-input').setInputFiles(file);
  const copy = page.getByTestId('run-row').filter({ hasText: `${name} (copy)` });
  await expect(copy).toBeVisible();

  await copy.getByRole('button', { name: `Delete ${name} (copy)` }).click();
  await copy.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(copy).toHaveCount(0);
  await page.reload();
  await expect(row).toBeVisible();
  await expect(page.getByTestId('run-row').filter({ hasText: `${name} (copy)` })).toHaveCount(0);
});

test('a broken archive is reported and nothing is imported', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toBeVisible();
  const before = await page.getByTestId('run-row').count();
  await page.getByTestId('import-input').setInputFiles({ name: 'broken.sparlab.json', mimeType: 'application/json', buffer: Buffer.from('{"format":"nope"}') });
  await expect(page.getByRole('alert')).toContainText('Not a usable SPaR Lab run archive');
  await expect(page.getByTestId('run-row')).toHaveCount(before);
});
