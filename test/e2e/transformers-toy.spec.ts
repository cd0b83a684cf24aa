import { expect, test } from '@playwright/test';
import { evaluateTrainEvaluate, expectPairs, expectReadableTree, loadActorAndSelfPlay, openToyRun, stopwatch } from './toy-iteration';

// Issue 17, done when: a Toy world run whose refiner is served by transformers.js on WebAssembly
// (the shipped SPaR-toy ONNX export, chosen in Setup) completes an iteration in the built app,
// while the actor stays on the lab engine and is trained. Everything comes from the app itself:
// the hub is cut off, and no request leaves the app's origin (no CDN for the wasm runtime).
test('a Toy world iteration with the refiner on transformers.js (wasm): self-play, pairs, DPO, and M0 → M1 on the chart', async ({ page, context, baseURL }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await context.route(/huggingface\.co/, (route) => route.abort());
  const elsewhere: string[] = [];
  const onnxFiles: string[] = [];
  context.on('request', (r) => {
    const url = new URL(r.url());
    if (/^https?:$/.test(url.protocol) && url.origin !== new URL(baseURL!).origin) elsewhere.push(r.url());
    if (url.pathname.startsWith('/models/spar-toy/onnx/')) onnxFiles.push(url.pathname);
  });

  await openToyRun(page, 'Toy transformers');
  const mark = stopwatch('toy iteration, refiner on transformers.js');
  const refiner = page.getByTestId('role-refiner');
  await refiner.getByLabel('transformers.js (ONNX, frozen)').check();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('transformers.js SPaR-toy (shipped with the app) · wasm fp32');
  await expect(refiner.getByTestId('refiner-onnx-threads')).toContainText(/single-threaded here: this page is not cross-origin isolated|multi-threaded here/);
  await refiner.getByRole('button', { name: 'Load now' }).click();
  await expect(refiner.getByTestId('refiner-model-status')).toContainText('Loaded in transformers.js: transformers.js · SPaR-toy · fp32 on wasm', { timeout: 120_000 });
  expect(onnxFiles).toContain('/models/spar-toy/onnx/model.onnx');
  mark('refiner loaded');

  await loadActorAndSelfPlay(page);
  mark('self-play');
  // The iteration records what served each role: the actor on the lab engine, the refiner on transformers.js.
  await page.keyboard.press('8');
  await expect(page.getByTestId('iteration-models')).toContainText(/M0: (lab|CPU reference) engine · /);
  await expect(page.getByTestId('iteration-models')).toContainText('transformers.js · SPaR-toy · fp32 on wasm');
  await expectReadableTree(page);
  await expectPairs(page);
  // One DPO epoch (the preset has three) is enough to make an M1, in a third of the steps.
  await page.keyboard.press('6');
  await page.getByLabel('actor Epochs').fill('1');
  await page.getByLabel('actor Epochs').blur(); // saves it, and leaves the view's keys free (Tab would focus the next field)
  await page.keyboard.press('5');
  await page.keyboard.press('6');
  await expect(page.getByLabel('actor Epochs')).toHaveValue('1'); // read back from the saved run
  await evaluateTrainEvaluate(page, 5, mark);

  expect(elsewhere).toEqual([]);
  expect(errors).toEqual([]);
});
