import { afterAll, describe, expect, it } from 'vitest';
import type { AdapterReport } from '../../../src/cli/adapter';
import { parseHfConfig } from '../../../src/engine/model/config';
import { createAdapter } from '../../../src/engine/train/lora';
import { exportPeft, PEFT_CONFIG } from '../../../src/engine/train/peft';
import { tinyConfigJson, tinyHfFiles, tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { cli, removeTempDirs, tempDir, type CliError } from '../../helpers/cli';

afterAll(removeTempDirs);

const config = parseHfConfig(tinyConfigJson());
const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
type Printed = AdapterReport & { model: string; adapter: string };

describe('adapter', () => {
  it("describes a PEFT adapter that fits the model: rank, alpha, scaling, targets, layers, parameters", async () => {
    const model = await tempDir({ 'config.json': json(tinyConfigJson()) }); // the config alone is enough
    const a = createAdapter('a', config, { rank: 4, alpha: 12, targets: ['q', 'v', 'down'] }, { seed: 1, init: 'random' });
    a.layers[0] = {}; // only layer 1: PEFT's layers_to_transform
    const dir = await tempDir(exportPeft(a));
    const run = await cli('adapter', '--model', model, '--adapter', dir);
    expect(run.code).toBe(0);
    // C=64, q 4·16=64 rows, v 2·16=32 rows, down [64, 160]; A [r, in], B [out, r]
    const parameters = 4 * 64 + 64 * 4 + (4 * 64 + 32 * 4) + (4 * 160 + 64 * 4);
    expect(run.json<Printed>()).toEqual({ model, adapter: dir, rank: 4, alpha: 12, rslora: false, scaling: 3, targets: ['q_proj', 'v_proj', 'down_proj'], layers: [1], parameters });

    const rs = createAdapter('rs', config, { rank: 4, alpha: 8, rslora: true, targets: ['o'] }, { seed: 2, init: 'random' });
    const mlc = await tempDir(tinyMlcFiles());
    const printed = (await cli('adapter', '--model', mlc, '--adapter', await tempDir(exportPeft(rs)))).json<Printed>();
    expect(printed).toMatchObject({ rank: 4, alpha: 8, rslora: true, scaling: 4, targets: ['o_proj'], layers: [0, 1] });
  });

  it('refuses an adapter for another model or with settings the lab cannot apply, exit 2 with the JSON error', async () => {
    const model = await tempDir(tinyHfFiles());
    const wider = createAdapter('w', parseHfConfig(tinyConfigJson({ hiddenSize: 96, numHeads: 6, numKvHeads: 2 })), { rank: 2 }, { seed: 3, init: 'random' });
    const other = await cli('adapter', '--model', model, '--adapter', await tempDir(exportPeft(wider)));
    expect(other.code).toBe(2);
    expect(other.json<CliError>().error).toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/q_proj\.lora_A\.weight" has shape \[2,96\], expected \[2,64\]/) });

    const files = exportPeft(createAdapter('d', config, {}, { seed: 4, init: 'random' }));
    const cfg = JSON.parse(new TextDecoder().decode(files[PEFT_CONFIG]));
    const dora = await cli('adapter', '--model', model, '--adapter', await tempDir({ ...files, [PEFT_CONFIG]: json({ ...cfg, use_dora: true }) }));
    expect(dora.code).toBe(2);
    expect(dora.json<CliError>().error).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('use_dora') });

    const missing = await cli('adapter', '--model', model, '--adapter', await tempDir({ [PEFT_CONFIG]: files[PEFT_CONFIG] }));
    expect(missing.json<CliError>().error).toMatchObject({ kind: 'not-found', message: expect.stringContaining('adapter_model.safetensors is missing') });
    expect((await cli('adapter', '--model', model)).json<CliError>().error.message).toBe('adapter: --model <dir> and --adapter <dir> are required.');
  });
});
