/**
 * `npm run cli -- toy-data --model <dir> --data <dir> [--count N] [--seed S] [--mix A,J,R[,C]]` writes
 * SPaR-toy's folder less its weights (src/toy/model-files.ts) and its training set: `count` × A
 * actor, J judge, R refine and C copy-drill conversations (default 1,1,1,0), tokenized through the folder's own tokenizer and chat template, as
 * tokens.u16 (little-endian uint16), mask.u8 (1 on assistant tokens: the loss) and
 * examples.json ([offset, length, role] per conversation). scripts/toy/train.py reads them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { writeFileMap } from '../engine/load/node-files';
import { ChatTokenizer } from '../engine/load/tokenizer';
import { toyTrainingExamples, type ToyRole } from '../toy/roles';
import { toyModelFiles } from '../toy/model-files';
import { TOY_MODEL_CARD } from '../toy/card';
import { loadLanguageProfiles } from '../eval/langdetect';

const ROLES: readonly ToyRole[] = ['actor', 'judge', 'refine', 'copy'];

export const command: CliCommand = {
  summary: 'write SPaR-toy\'s model folder (less weights) and its tokenized training set',
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, data: { type: 'string' }, count: { type: 'string', default: '3000' }, seed: { type: 'string', default: '1' }, mix: { type: 'string', default: '1,1,1' } },
    });
    if (!values.model || !values.data) throw new LabError('invalid-input', 'toy-data: --model <dir> and --data <dir> are required.');
    const count = Number(values.count);
    const seed = Number(values.seed);
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) throw new LabError('invalid-input', 'toy-data: --count and --seed must be whole numbers.');
    await loadLanguageProfiles(); // the case checkers ask langdetect
    // The tokenizer learns from a fixed sample, so the vocabulary does not depend on --count.
    const files = toyModelFiles(toyTrainingExamples(2000, 12345), TOY_MODEL_CARD);
    await writeFileMap(values.model, files);
    const dec = new TextDecoder();
    const tok = new ChatTokenizer(JSON.parse(dec.decode(files['tokenizer.json'])), JSON.parse(dec.decode(files['tokenizer_config.json'])));
    const [actor, judge, refine, copy = 0] = values.mix.split(',').map(Number);
    if (![actor, judge, refine, copy].every((x) => Number.isInteger(x) && x >= 0)) {
      throw new LabError('invalid-input', 'toy-data: --mix is whole numbers: actor,judge,refine[,copy] conversations per unit.');
    }
    const examples = toyTrainingExamples(count, seed, { actor, judge, refine, copy });
    const tokens: number[] = [];
    const mask: number[] = [];
    const index: [number, number, number][] = [];
    for (const e of examples) {
      const t = tok.encodeChatTurns(e.messages);
      index.push([tokens.length, t.tokens.length, ROLES.indexOf(e.role)]);
      tokens.push(...t.tokens);
      mask.push(...t.mask);
    }
    await mkdir(values.data, { recursive: true });
    await writeFile(join(values.data, 'tokens.u16'), new Uint8Array(Uint16Array.from(tokens).buffer));
    await writeFile(join(values.data, 'mask.u8'), Uint8Array.from(mask));
    await writeFile(join(values.data, 'examples.json'), JSON.stringify({ roles: ROLES, examples: index }));
    const perRole = ROLES.map((r, i) => {
      const xs = index.filter((x) => x[2] === i);
      if (!xs.length) return `${r} 0`;
      return `${r} ${xs.length} (mean ${Math.round(xs.reduce((s, x) => s + x[1], 0) / xs.length)} tokens, max ${Math.max(...xs.map((x) => x[1]))})`;
    });
    out.write(`${JSON.stringify({ conversations: examples.length, tokens: tokens.length, perRole })}\n`);
    return 0;
  },
};
