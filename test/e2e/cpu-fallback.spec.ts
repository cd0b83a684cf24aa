import { expect, test } from '@playwright/test';

// A browser that has navigator.gpu but no adapter (Chrome on Linux without flags, a blocklisted
// GPU): the lab engine falls back to the CPU reference, Setup and the GPU report say why, and
// self-play on the tiny model runs.

test('navigator.gpu without an adapter: the CPU reference engine serves, and Setup says why', async ({ page }) => {
  test.setTimeout(180_000);
  await page.addInitScript(() => {
    // requestAdapter() resolves null in the page and in its workers, as on a blocklisted GPU.
    const noAdapter = 'GPU.prototype.requestAdapter = async () => null;';
    new Function(noAdapter)();
    const W = window.Worker;
    window.Worker = class extends W {
      constructor(url: string | URL, opts?: WorkerOptions) {
        // The patch is its own module, imported first: the lab worker chooses its engine as it loads.
        const patch = `data:text/javascript,${encodeURIComponent(noAdapter)}`;
        const src = `import ${JSON.stringify(patch)}; import ${JSON.stringify(new URL(url, location.href).href)};`;
        super(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), opts);
      }
    };
  });
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveText('WebGPU is not available');
  await expect(page.getByTestId('gpu-report')).toContainText('no GPU adapter');

  const name = `cpu ${Date.now()}`;
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('tiny-demo');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.getByTestId('engine-name')).toHaveText('CPU reference engine');
  await expect(page.getByTestId('engine-why')).toContainText('WebGPU is present but offers no GPU adapter');
  await expect(page.getByTestId('role-actor')).toContainText('Lab engine (CPU reference engine;');

  await page.keyboard.press('2');
  const gen = page.getByRole('form', { name: 'Built-in instructions' });
  await gen.getByLabel('How many').fill('1');
  await gen.getByRole('button', { name: 'Add instructions' }).click();
  await expect(page.getByTestId('prompt-row')).toHaveCount(1);
  await page.keyboard.press('3');
  await page.getByTestId('selfplay-start').click();
  await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 150_000 });
  await expect(page.getByTestId('selfplay-count')).toHaveText('1 / 1');
  await page.keyboard.press('1');
  await expect(page.getByTestId('engine-card')).toContainText('tiny-1');
  await expect(page.getByTestId('engine-card')).toContainText('CPU reference engine');
});
