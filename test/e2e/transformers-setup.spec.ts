import { expect, test, type BrowserContext } from '@playwright/test';
import { paperRun } from './runs';
import { shot } from './screenshots';

// transformers.js in Setup and the Models panel of the built app, without downloading anything:
// huggingface.co answers from fixtures here (a fake causal LM repository with several dtypes,
// external data included, and an encoder), the refiner is switched to transformers.js and to a
// checked hub model (the binding is stored with the run), a browser without a GPU adapter is
// offered transformers.js on WebAssembly (and loads the shipped model there), and an ONNX model
// stored in the browser's caches is listed with its dtypes and deleted.

const MB = 1_000_000;
const REPO = 'test-org/Tiny-ONNX';
const ENCODER = 'test-org/Encoder-ONNX';

type Entry = { type: 'file' | 'directory'; path: string; size: number; oid: string; lfs?: { oid: string; size: number; pointerSize: number } };
const lfs = (path: string, size: number): Entry => ({ type: 'file', path, size, oid: 'x', lfs: { oid: 'y', size, pointerSize: 134 } });
const small = (path: string, size: number): Entry => ({ type: 'file', path, size, oid: 'x' });
const side = [small('config.json', 700), small('generation_config.json', 111), lfs('tokenizer.json', 2 * MB), small('tokenizer_config.json', 1_300)];
const onnxDir: Entry = { type: 'directory', path: 'onnx', size: 0, oid: 'd' };

/** The hub as this test knows it: two repositories, everything else unknown (401, as huggingface.co answers). */
async function fakeHub(context: BrowserContext) {
  const json = (body: unknown) => ({ status: 200, contentType: 'application/json', body: JSON.stringify(body), headers: { 'access-control-allow-origin': '*' } });
  const answers: Record<string, unknown> = {
    [`/api/models/${REPO}/tree/main`]: [small('README.md', 500), ...side, onnxDir],
    [`/api/models/${REPO}/tree/main/onnx`]: [
      small('onnx/model.onnx', 400_000),
      lfs('onnx/model.onnx_data', 120 * MB),
      lfs('onnx/model_q4.onnx', 30 * MB),
      lfs('onnx/model_int8.onnx', 31 * MB),
    ],
    [`/${REPO}/resolve/main/config.json`]: { model_type: 'llama', architectures: ['LlamaForCausalLM'], 'transformers.js_config': { use_external_data_format: { 'model.onnx': 1 } } },
    [`/api/models/${ENCODER}/tree/main`]: [...side, onnxDir],
    [`/${ENCODER}/resolve/main/config.json`]: { model_type: 'bert', architectures: ['BertModel'] },
  };
  await context.route(/^https:\/\/huggingface\.co\//, (route) => {
    const path = new URL(route.request().url()).pathname;
    const body = answers[path];
    return body === undefined ? route.fulfill({ status: 401, body: '{"error":"Repository not found"}' }) : route.fulfill(json(body));
  });
}

test('Setup checks an ONNX repository before downloading, and stores transformers.js as the refiner', async ({ page, context }) => {
  await fakeHub(context);
  const name = `transformers ${Date.now()}`;
  await paperRun(page, name);
  const refiner = page.getByTestId('role-refiner');

  // Choosing transformers.js stores a binding at once: the shipped toy model's ONNX export, on WebAssembly.
  await refiner.getByLabel('transformers.js (ONNX, frozen)').check();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('transformers.js SPaR-toy (shipped with the app) · wasm fp32');
  await expect(refiner).toContainText('never trains');
  await expect(refiner.getByTestId('refiner-onnx-threads')).toContainText(/single-threaded here: this page is not cross-origin isolated|multi-threaded here/);

  // An encoder is refused, saying why.
  await refiner.getByLabel('Hugging Face repository (ONNX)').check();
  const repo = refiner.getByRole('combobox', { name: 'Repository' });
  await repo.fill(ENCODER);
  await repo.press('Enter');
  await expect(refiner.getByTestId('refiner-onnx-problem')).toContainText('is a bert model (BertModel), not a causal language model transformers.js can generate text with');

  // A causal LM: every dtype with its download (fp32's external data counted), the ones the lab does not offer explained.
  await repo.fill(REPO);
  await refiner.getByRole('button', { name: 'Check' }).click();
  const rows = refiner.getByTestId('refiner-onnx-variant');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toHaveAttribute('data-dtype', 'fp32');
  await expect(rows.nth(0)).toContainText('117 MiB'); // 120.4 MB of weights + 2 MB of tokenizer
  await expect(rows.nth(1)).toHaveAttribute('data-dtype', 'q4');
  await expect(rows.nth(1)).toContainText('30.5 MiB');
  await expect(rows.nth(1)).toContainText('free in this browser');
  await expect(rows.nth(2)).toContainText('only as dtype "int8"');
  await expect(rows.nth(2).getByRole('button')).toHaveCount(0);
  await shot(refiner, 'setup-transformers');

  await refiner.getByRole('button', { name: `Use ${REPO} q4` }).click();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText(`transformers.js ${REPO} · wasm q4`);
  await expect(refiner.getByLabel('Weights', { exact: true })).toHaveValue('q4');
  await expect(refiner.getByLabel('Weights', { exact: true }).locator('option')).toHaveText(['fp32', 'q4']);

  // Stored with the run: after a reload the refiner is still served by transformers.js.
  await page.reload();
  await expect(refiner.getByLabel('transformers.js (ONNX, frozen)')).toBeChecked();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText(`transformers.js ${REPO} · wasm q4`);
  await expect(refiner.getByRole('combobox', { name: 'Repository' })).toHaveValue(REPO);
});

test('without a GPU adapter, Setup proposes transformers.js on WebAssembly for a frozen role and says why', async ({ page }) => {
  await page.addInitScript(() => {
    // requestAdapter() resolves null in the page and in the lab worker, as on a blocklisted GPU (see
    // cpu-fallback.spec.ts). The transformers.js worker runs as it is: on wasm it asks for no adapter.
    const noAdapter = 'GPU.prototype.requestAdapter = async () => null;';
    new Function(noAdapter)();
    const W = window.Worker;
    window.Worker = class extends W {
      constructor(url: string | URL, opts?: WorkerOptions) {
        if (opts?.name === 'lab') {
          const patch = `data:text/javascript,${encodeURIComponent(noAdapter)}`;
          const src = `import ${JSON.stringify(patch)}; import ${JSON.stringify(new URL(url, location.href).href)};`;
          super(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), opts);
        } else super(url, opts);
      }
    };
  });
  await paperRun(page, `no gpu ${Date.now()}`);
  const refiner = page.getByTestId('role-refiner');
  const proposal = refiner.getByTestId('refiner-wasm-proposal');
  await expect(proposal).toContainText('No usable GPU adapter here (WebGPU is present but offers no GPU adapter');
  await proposal.getByRole('button', { name: 'Use transformers.js on WebAssembly' }).click();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('transformers.js SPaR-toy (shipped with the app) · wasm fp32');
  await expect(refiner.getByLabel('Device').locator('option[value="webgpu"]')).toBeDisabled();
  await expect(refiner.getByLabel('Device').locator('option[value="webgpu"]')).toHaveText('WebGPU (no GPU adapter here)');
  await expect(page.getByTestId('actor-wasm-proposal')).toContainText('it stays M0');

  // "Load now" starts transformers.js and loads the shipped model's ONNX export on WebAssembly.
  await refiner.getByRole('button', { name: 'Load now' }).click();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('Loaded in transformers.js: transformers.js · SPaR-toy · fp32 on wasm', { timeout: 90_000 });

  // A local ONNX folder loads as it is picked, and the role uses it.
  await refiner.getByTestId('refiner-onnx-folder-input').setInputFiles('test/fixtures/onnx-tiny');
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('Loaded in transformers.js: transformers.js · onnx-tiny · fp32 on wasm', { timeout: 90_000 });
  await expect(refiner.getByLabel('Local folder…')).toBeChecked();
  await expect(refiner).toContainText('Folder “onnx-tiny”');
});

test('the Models panel lists an ONNX model stored in the browser with its dtypes, and deletes it', async ({ page, context }) => {
  await context.route(/^https:\/\/huggingface\.co\//, (route) => route.abort('internetdisconnected'));
  await page.goto('/');
  const base = `https://huggingface.co/${REPO}/resolve/main/`;
  // As the transformers.js worker stores a hub model (through the lab's cache), and as transformers.js itself would.
  await page.evaluate(async (base) => {
    const put = async (cache: string, file: string, n: number) =>
      (await caches.open(cache)).put(base + file, new Response(new Uint8Array(n), { headers: { 'content-length': String(n) } }));
    await put('spar-lab/models', 'config.json', 700);
    await put('spar-lab/models', 'tokenizer.json', 2_000_000);
    await put('spar-lab/models', 'onnx/model_q4.onnx', 3_000_000);
    await put('transformers-cache', 'onnx/model.onnx', 1_000_000);
  }, base);

  const panel = page.getByTestId('models-panel');
  await panel.getByRole('button', { name: 'Refresh' }).click();
  const row = panel.getByTestId('stored-model').filter({ hasText: REPO });
  await expect(row.getByTestId('stored-model-onnx')).toHaveText('transformers.js: ONNX q4, fp32');
  await expect(row).toContainText('5.7 MiB');

  await row.getByRole('button', { name: `Delete ${REPO}` }).click();
  await expect(page.getByRole('dialog')).toContainText('transformers.js');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(row).toHaveCount(0);
  const left = await page.evaluate(async () => {
    const out: string[] = [];
    for (const name of ['spar-lab/models', 'transformers-cache']) out.push(...(await (await caches.open(name)).keys()).map((r) => r.url));
    return out;
  });
  expect(left.filter((u) => u.includes('Tiny-ONNX'))).toEqual([]);
});
