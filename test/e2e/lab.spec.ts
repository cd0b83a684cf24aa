import { expect, test, type Download, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { shot } from './screenshots';

// The whole SPaR experiment in the built app, as a user drives it: a run from the tiny demo
// preset, built-in instructions, self-play with tiny budgets, a tree with its word diff, pairs,
// exports checked line by line, an evaluation of M0, DPO steps for the actor and SFT steps for
// the refiner with their PEFT adapter checked, an evaluation of M1 with inference-time
// refinement, and the second iteration's self-play with the trained adapters, reloaded in the
// middle and resumed without losing or duplicating finished trees. The loop stepper at the top
// says at each stage what is done and what comes next, and its button takes the next step.
// Screenshots of the main screens are the README's (see screenshots.ts).

test.setTimeout(600_000);


async function downloaded(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [d] = (await Promise.all([page.waitForEvent('download'), click()])) as [Download, void];
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), 'utf8') };
}

/** Every download one click starts (PEFT adapters come as two files). */
async function downloadedAll(page: Page, count: number, click: () => Promise<void>): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const got: Promise<void>[] = [];
  const done = new Promise<void>((resolve) => {
    const on = (d: Download) => {
      got.push(d.path().then(async (p) => void files.set(d.suggestedFilename(), await readFile(p))));
      if (got.length === count) {
        page.off('download', on);
        resolve();
      }
    };
    page.on('download', on);
  });
  await click();
  await done;
  await Promise.all(got);
  return files;
}

/** A safetensors file's header: tensor name → dtype, shape and byte range. */
function safetensorsHeader(buf: Buffer): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(buf.readBigUInt64LE(0));
  const { __metadata__: _m, ...tensors } = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return tensors;
}

const jsonl = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));

/** The loop stepper's steps, in order, as their data-status says: done, running, next, later or skipped. */
async function expectLoop(page: Page, statuses: [selfplay: string, train: string, evaluate: string, next: string], action: string): Promise<void> {
  for (const [i, id] of ['selfplay', 'train', 'evaluate', 'next'].entries()) await expect(page.getByTestId(`loop-step-${id}`)).toHaveAttribute('data-status', statuses[i]);
  await expect(page.getByTestId('loop-action')).toHaveText(action);
}

test('tiny demo: self-play, trees, pairs, exports, training, evaluation, the next iteration with the adapters, reload and resume', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await test.step('create a run from the tiny demo preset and open it', async () => {
    await page.goto('/');
    await page.getByLabel('New run').fill('Tiny demo');
    await page.getByLabel('Preset').selectOption('tiny-demo');
    await page.getByLabel('New run').press('Enter');
    const row = page.getByTestId('run-row').filter({ hasText: 'Tiny demo' });
    await row.getByRole('button', { name: 'Open Tiny demo' }).click();
    await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId('engine-name')).toHaveText(/CPU reference engine|WebGPU engine/);
    await expect(page.getByTestId('preset-tiny-demo')).toHaveText('Apply again');
    await expectLoop(page, ['next', 'later', 'later', 'later'], 'Add instructions');
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

  await test.step('run iteration 0 of self-play from the loop stepper, with live progress; then it asks for M0 first', async () => {
    await expectLoop(page, ['next', 'later', 'later', 'later'], 'Start self-play of iteration 0');
    await expect(page.getByTestId('loop-baseline')).toContainText('M0 (the base) is not evaluated on built-in constraint prompts, 5 (seed 1000)');
    await page.getByTestId('loop-action').press('Enter');
    await expect(page.getByRole('tab', { name: /Self-play/ })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('3 / 3');
    await expect(page.getByTestId('finished-list').locator('li')).toHaveCount(3);
    await expect(page.getByTestId('run-status')).toHaveText('done');
    await expectLoop(page, ['done', 'next', 'later', 'later'], 'Evaluate M0 first so you can compare');
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

  await test.step('evaluate the actor M0 and score the judge', async () => {
    await page.keyboard.press('7');
    await page.getByLabel('Prompts', { exact: true }).fill('3');
    await page.getByLabel('Prompts', { exact: true }).press('Tab');
    await expect(page.getByTestId('eval-run')).toHaveText('Evaluate M0');
    await page.getByTestId('eval-run').click();
    await expect(page.getByTestId('accuracies')).toContainText('prompt-level strict', { timeout: 60_000 });
    await expect(page.getByTestId('eval-result')).toContainText('3 prompts');
    await expect(page.getByTestId('loop-baseline')).toContainText(/^Baseline: M0 \(the base\) scored \d+\.\d% prompt-level strict on built-in constraint prompts, 3 \(seed 1000\)/);
    await expectLoop(page, ['done', 'next', 'later', 'later'], 'Train the actor (DPO → M1)');
    await expect(page.getByTestId('eval-breakdown').locator('tbody tr').first()).toBeVisible();
    await page.getByTestId('judge-run').click();
    await expect(page.getByTestId('judge-result')).toContainText('accuracy (iteration 0)');
  });

  await test.step('train the actor (DPO) and the refiner (SFT) on iteration 0; export the PEFT adapter', async () => {
    await page.keyboard.press('6');
    await expect(page.getByRole('tab', { name: /Train/ })).toHaveAttribute('aria-selected', 'true');
    const actor = page.getByTestId('train-actor');
    await expect(actor).toContainText('→ actor-it0 (M1)');
    await expect(actor).toContainText('Starts from: a fresh adapter');
    await expect(actor).toContainText('DPO reference: the base with the adapter switched off');
    await actor.getByTestId('train-actor-start').click();
    await expect(actor.getByTestId('train-actor-state')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(actor.getByTestId('train-actor-state')).toContainText(/step (\d+) of \1/);
    await expect(actor.getByRole('img', { name: 'Reward margin' })).toBeVisible();
    await expect(actor.getByTestId('train-actor-metrics')).toContainText(/Reward accuracy\s*\d+%/);
    await expect(actor.getByTestId('train-actor-memory')).toContainText(/peak \d/);
    const refiner = page.getByTestId('train-refiner');
    await refiner.getByTestId('train-refiner-start').click();
    await expect(refiner.getByTestId('train-refiner-state')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(refiner.getByRole('img', { name: 'Loss' })).toBeVisible();
    await expect(page.getByTestId('checkpoint-row')).toHaveCount(2);
    await expect(page.getByTestId('loop-step-train')).toContainText('actor DPO → M1: done; refiner SFT → R1: done');
    await expectLoop(page, ['done', 'done', 'next', 'later'], 'Evaluate M1');
    await shot(page, 'train');

    const peft = await downloadedAll(page, 2, () => actor.getByTestId('export-peft-actor').click());
    const config = JSON.parse(peft.get('adapter_config.json')!.toString('utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, use_rslora: false, bias: 'none', target_modules: ['q_proj', 'v_proj'] });
    const weights = peft.get('adapter_model.safetensors')!;
    const tensors = safetensorsHeader(weights);
    // The tiny model: 2 layers, hidden 64, 4 heads of 16, 2 KV heads (v_proj out 32).
    const want: Record<string, number[]> = {};
    for (const l of [0, 1]) {
      want[`base_model.model.model.layers.${l}.self_attn.q_proj.lora_A.weight`] = [8, 64];
      want[`base_model.model.model.layers.${l}.self_attn.q_proj.lora_B.weight`] = [64, 8];
      want[`base_model.model.model.layers.${l}.self_attn.v_proj.lora_A.weight`] = [8, 64];
      want[`base_model.model.model.layers.${l}.self_attn.v_proj.lora_B.weight`] = [32, 8];
    }
    expect(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]))).toEqual(want);
    const header = 8 + Number(weights.readBigUInt64LE(0));
    for (const t of Object.values(tensors)) {
      expect(t.dtype).toBe('F32');
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(4 * t.shape[0] * t.shape[1]);
    }
    // Trained: lora_B moved away from PEFT's zero init.
    const b = tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'].data_offsets;
    const values = new Float32Array(weights.buffer.slice(weights.byteOffset + header + b[0], weights.byteOffset + header + b[1]));
    expect(values.some((x) => x !== 0)).toBe(true);

    // The whole run archive carries both adapters and every step's log.
    await page.keyboard.press('5');
    const archive = JSON.parse((await downloaded(page, () => page.getByRole('button', { name: 'Whole run archive' }).click())).text);
    expect(archive.records.adapters.map((a: { id: string; config: { status: string } }) => [a.id, a.config.status])).toEqual([
      ['0:actor', 'done'],
      ['0:refiner', 'done'],
    ]);
    const steps = archive.records.adapters.reduce((n: number, a: { step: number }) => n + a.step, 0);
    expect(archive.records.trainLogs).toHaveLength(steps);
  });

  await test.step('evaluate M1 (the trained actor) from the loop stepper, then with inference-time refinement; the charts compare M0 and M1', async () => {
    await page.getByTestId('loop-action').press('Enter');
    await expect(page.getByRole('tab', { name: /Evaluate/ })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId('eval-model')).toContainText('M1 = the base + actor-it0', { timeout: 60_000 });
    await expectLoop(page, ['done', 'done', 'done', 'next'], 'Start iteration 1');
    await expect(page.getByTestId('loop-step-evaluate')).toContainText(/M1: \d+\.\d% prompt-level strict/);
    await expect(page.getByRole('img', { name: /^Accuracy of M0, M1, … on built-in constraint prompts/ }).locator('polyline').first()).toHaveAttribute('points', /^\S+ \S+$/); // M0 and M1
    await expect(page.getByTestId('compare-set')).toContainText('On the same held-out set only: built-in constraint prompts, 3 (seed 1000)');
    // Per instruction type, a bar for each of M0 and M1.
    const perType = page.getByRole('figure', { name: /^Instruction-level strict accuracy per instruction type, M0, M1, … on built-in constraint prompts, 3/ });
    const types = perType.getByRole('group');
    await expect(types.first()).toBeVisible();
    const groups = await types.count();
    await expect(perType.locator('[data-series="M0"]')).toHaveCount(groups);
    await expect(perType.locator('[data-series="M1"]')).toHaveCount(groups);
    await expect(types.first().locator('[data-series="M1"]')).toContainText(/^M1\s*\d+% \(\d+\/\d+\)$/);
    // M0 stays selectable after training.
    await expect(page.getByTestId('eval-model-select').locator('option')).toHaveText(['M0 (the base model)', 'M1 (+ actor-it0)']);
    await expect(page.getByTestId('eval-run')).toHaveText('Evaluate M1');
    await page.getByTestId('eval-refine').check();
    await expect(page.getByLabel('Node budget')).toBeEnabled(); // saved in the run's settings
    await page.getByTestId('eval-run').click();
    await expect(page.getByTestId('eval-refined')).toContainText('With inference-time refinement by R1 (refiner-it0)', { timeout: 60_000 });
    await expect(page.getByTestId('eval-model')).toContainText('M1 = the base + actor-it0');
    await expect(page.getByRole('img', { name: /^Accuracy of M0, M1, … on built-in constraint prompts/ })).toBeVisible();
    await shot(page, 'evaluate');

    // The stepper and the comparison fit a small window at the largest text size.
    await page.setViewportSize({ width: 800, height: 600 });
    await page.getByRole('button', { name: 'Text size 150%' }).click();
    await expect(perType.locator('.bar-label').first()).toHaveCSS('font-size', '21.6px'); // 0.9rem of 24 px
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth + 1);
    await page.getByRole('button', { name: 'Text size 100%' }).click();
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test.step('the next iteration with the trained adapters: reload in the middle, then resume; nothing lost, nothing duplicated', async () => {
    await page.keyboard.press('2');
    const gen = page.getByRole('form', { name: 'Built-in instructions' });
    await gen.getByLabel('How many').fill('4');
    await gen.getByLabel('Seed').fill('2');
    await gen.getByRole('button', { name: 'Add instructions' }).click();
    await expect(page.getByTestId('add-result')).toContainText('added 4');
    await page.keyboard.press('8');
    await expect(page.getByTestId('next-adapters')).toHaveText('Iteration 1 will use the actor actor-it0 (M1) and the refiner refiner-it0 (R1).');
    await page.getByTestId('next-iteration').click();
    await expect(page.getByRole('tab', { name: /Self-play/ })).toHaveAttribute('aria-selected', 'true');
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

    await expectLoop(page, ['next', 'later', 'later', 'later'], 'Resume self-play of iteration 1');
    await page.keyboard.press('3');
    await expect(page.getByTestId('selfplay-state')).toContainText('finished');
    await shot(page, 'resume');
    await page.keyboard.press('s');
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
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

    await page.keyboard.press('8');
    await expect(page.getByTestId('iteration-row')).toHaveCount(2);
    await expect(page.getByTestId('iteration-models').nth(1)).toContainText('M1: lab engine · tiny-1 · actor (actor-it0)');
    await expect(page.getByTestId('iteration-models').nth(1)).toContainText('R1: lab engine · tiny-1 · refiner (refiner-it0)');
    await expect(page.getByTestId('iteration-training').first()).toContainText('M1 = actor-it0');
    await shot(page, 'iterations');
  });

  expect(errors).toEqual([]);
});

test('keyboard: view shortcuts, the help dialog closes with Esc, large text', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('New run').fill('Keys');
  await page.getByLabel('Preset').selectOption('custom'); // a run without instructions
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: 'Keys' }).getByRole('link', { name: 'Keys' }).click();
  await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('8');
  await expect(page.getByRole('tab', { name: /Iterations/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('6');
  await expect(page.getByRole('tab', { name: /Train/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('8');
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
