/**
 * `npm run cli -- tokenize --model <dir> --text <t> [--no-special]` prints the token ids of the
 * text as a JSON array, as `tokenizer(text)["input_ids"]` gives them in transformers (special
 * tokens such as a BOS added where the tokenizer adds them; --no-special adds none). Needs only
 * the model's tokenizer files.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { directorySource } from '../engine/load/node-files';
import { ChatTokenizer } from '../engine/load/tokenizer';

export const command: CliCommand = {
  summary: 'print the token ids of a text as JSON (--model <dir> --text <t> [--no-special])',
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, text: { type: 'string' }, 'no-special': { type: 'boolean' } } });
    if (!values.model || values.text === undefined) throw new LabError('invalid-input', 'tokenize: --model <dir> and --text <t> are required.');
    const tokenizer = await ChatTokenizer.fromSource(directorySource(values.model));
    out.write(JSON.stringify(tokenizer.encode(values.text, { addSpecialTokens: !values['no-special'] })) + '\n');
    return 0;
  },
};
