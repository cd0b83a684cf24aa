import { expect, test, type BrowserContext } from '@playwright/test';
import { shot } from './screenshots';
import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { tinyMlcFiles } from '../../src/engine/tiny/tiny';
import { storeLikeWebLlm } from '../helpers/webllm-cache';

// web-llm in the built app, without downloading anything: the Setup view's web-llm picker
// (flags for this GPU — SwiftShader has no shader-f16 — search and keyboard), and the Models
// panel on a tiny MLC model stored the way web-llm stores a download (a broken-off download
// reported, then the model deleted from every cache).

const F32 = 'SmolLM2-135M-Instruct-q0f32-MLC';
const F16 = 'SmolLM2-135M-Instruct-q0f16-MLC';

/** Model hosts are out of bounds: a request there fails as it would offline. */
async function offline(context: BrowserContext) {
  await context.route(/^https:\/\/(huggingface\.co|raw\.githubusercontent\.com|cdn-lfs[^/]*\.huggingface\.co)\//, (route) => route.abort('internetdisconnected'));
}

test('Setup offers web-llm models flagged for this GPU, in a picker that works from the keyboard', async ({ page, context }) => {
  await offline(context);
  await page.goto('/');
  const name = `web-llm ${Date.now()}`;
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('tiny-demo');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.getByTestId('webllm-card')).toContainText('Not started');

  const actor = page.getByTestId('role-actor');
  await actor.getByLabel('web-llm (prebuilt, frozen)').check();
  const search = actor.getByRole('combobox', { name: 'Search web-llm models' });
  await expect(search).toBeVisible();
  await expect(page.getByTestId('webllm-ready')).toContainText('prebuilt models');

  await search.fill('smollm2 135m');
  const options = actor.getByRole('option');
  // Usable first: the f32 build, then the f16 build flagged for this GPU.
  await expect(options.first()).toHaveAttribute('data-model', F32);
  await expect(options.first().locator('[data-flag="f16"]')).toHaveCount(0);
  await expect(options.first().locator('[data-flag="lab"]')).toBeVisible();
  const f16 = actor.locator(`[role="option"][data-model="${F16}"]`);
  await expect(f16.locator('[data-flag="f16"]')).toHaveText('needs shader-f16');

  // ↓ moves to the f16 build: its detail suggests the f32 build; ↑ back, Enter picks.
  await search.press('ArrowDown');
  await expect(f16).toHaveClass(/active/);
  await expect(page.getByTestId('actor-webllm-detail')).toContainText(`pick ${F32} instead`);
  await search.press('ArrowUp');
  await search.press('Enter');
  await expect(options.first()).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('actor-model-status')).toContainText(`${F32}: not loaded yet`);
  await shot(actor, 'setup-webllm');

  // A model the lab engine cannot load says so.
  await search.fill('phi-3.5-mini');
  await expect(options.first().locator('[data-flag="web-llm-only"]')).toBeVisible();

  // The refiner on the lab engine, with the weights of a web-llm model: lab-loadable models only.
  const refiner = page.getByTestId('role-refiner');
  await refiner.getByLabel('Weights of a web-llm model').check();
  const weights = refiner.getByRole('combobox', { name: 'Search web-llm models' });
  await weights.fill('smollm2 135m q0f16');
  await expect(refiner.getByRole('option').first()).toHaveAttribute('data-model', F16);
  await expect(refiner.getByRole('option').first()).toContainText('f16 widened to f32');
  await weights.press('Enter');
  // The pick is saved with the run and comes back as the role's binding: the radio follows it, so
  // click and wait for it rather than check() (which fails if the saved binding arrives a moment later).
  await expect(refiner.locator(`[role="option"][data-model="${F16}"]`)).toHaveAttribute('aria-selected', 'true');
  await refiner.getByLabel('Hugging Face repository').click();
  await expect(refiner.getByLabel('Hugging Face repository')).toBeChecked();
  await expect(refiner.getByRole('textbox', { name: 'Repository' })).toHaveValue(`mlc-ai/${F16}`);

  // The choice is saved with the run.
  await page.reload();
  await expect(actor.getByLabel('web-llm (prebuilt, frozen)')).toBeChecked();
  await expect(actor.locator(`[role="option"][data-model="${F32}"]`)).toHaveAttribute('aria-selected', 'true');
});

test('the Models panel lists a model web-llm stored, reports a broken download, and deletes the model', async ({ page, context }) => {
  await offline(context);
  await page.goto('/');
  const record = prebuiltAppConfig.model_list.find((r) => r.model_id === F32)!;
  const files = Object.fromEntries(
    Object.entries(tinyMlcFiles({ arch: 'llama', quantization: 'q0f32', maxShardBytes: 8 * 1024 })).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  const shards = Object.keys(files).filter((f) => f.startsWith('params_shard_')).length;
  // A download that broke off: one shard and the model library missing.
  await page.evaluate(storeLikeWebLlm, { model: record.model, modelLib: record.model_lib, files, skipShards: [1] });
  await page.evaluate(() => caches.open('webllm/wasm').then((c) => c.keys()).then((keys) => Promise.all(keys.map((k) => caches.open('webllm/wasm').then((c) => c.delete(k))))));

  const panel = page.getByTestId('models-panel');
  await panel.getByRole('button', { name: 'Refresh' }).click();
  const row = panel.getByTestId('stored-model').filter({ hasText: `mlc-ai/${F32}` });
  await expect(row).toBeVisible();
  await expect(panel.getByTestId('models-usage')).toContainText('Models:');

  await expect(row).toContainText(`partly downloaded (${shards - 1} of ${shards} weight files)`);

  // Continuing the download starts web-llm (the row gets its model id); offline, it says so and that it continues later.
  await row.getByRole('button', { name: 'Continue download' }).click();
  await expect(row).toContainText(`web-llm: ${F32}`);
  await expect(page.getByRole('alert')).toContainText('offline', { timeout: 60_000 });
  await expect(page.getByRole('alert')).toContainText('downloads only the missing ones');
  await expect(row).toContainText(`${shards - 1} of ${shards}`);
  await shot(page, 'models');

  // Delete, after confirming: gone from every cache.
  await row.getByRole('button', { name: `Delete mlc-ai/${F32}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(row).toHaveCount(0);
  const left = await page.evaluate(async () => {
    const out: string[] = [];
    for (const name of ['webllm/config', 'webllm/model', 'webllm/wasm', 'spar-lab/models']) out.push(...(await (await caches.open(name)).keys()).map((r) => r.url));
    return out;
  });
  expect(left.filter((u) => u.includes(F32))).toEqual([]);
});
