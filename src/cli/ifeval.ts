/**
 * `npm run cli -- ifeval --input <input_data.jsonl> --responses <responses.jsonl> --out <dir>`:
 * scores responses with the IFEval checkers like the official `evaluation_main`, writes
 * `eval_results_strict.jsonl` and `eval_results_loose.jsonl` into <dir> and prints the four
 * accuracies with a per-instruction breakdown. Bad input lines are reported with their line
 * numbers and skipped; the rest is evaluated.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateResponses } from '../eval/evaluate';
import { parseIfevalJsonl, parseResponsesJsonl, responseMap, type LineError } from '../eval/loaders';
import { formatReport, resultsJsonl } from '../eval/results-file';
import type { CliCommand } from './main';

const USAGE = `Usage: npm run cli -- ifeval --input <input_data.jsonl> --responses <responses.jsonl> --out <dir>

  --input       IFEval prompts: one {"key", "prompt", "instruction_id_list", "kwargs"} per line
  --responses   responses: one {"prompt", "response"} per line (matched to prompts by exact text)
  --out         folder for eval_results_strict.jsonl and eval_results_loose.jsonl (created if missing)`;

function reportLineErrors(file: string, errors: LineError[]): void {
  for (const e of errors) console.error(`${file}:${e.line}: ${e.message} (line skipped)`);
}

async function readText(path: string, what: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    console.error(`Cannot read the ${what} file ${path}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

export const command: CliCommand = {
  summary: 'score responses on IFEval (strict and loose), write the official result files',
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: { input: { type: 'string' }, responses: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      }));
    } catch (e) {
      console.error(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
      return 2;
    }
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.input || !values.responses || !values.out) {
      console.error(`--input, --responses and --out are all required.\n\n${USAGE}`);
      return 2;
    }
    const [inputText, responsesText] = [await readText(values.input, 'input'), await readText(values.responses, 'responses')];
    if (inputText === null || responsesText === null) return 1;

    const input = parseIfevalJsonl(inputText);
    const responses = parseResponsesJsonl(responsesText);
    reportLineErrors(values.input, input.errors);
    reportLineErrors(values.responses, responses.errors);

    const report = await evaluateResponses(input.records, responseMap(responses.records));
    for (const r of report.missing) console.error(`No response for prompt key ${r.key} ("${r.prompt.slice(0, 60)}..."); not scored.`);
    if (report.strict.length === 0) {
      console.error('Nothing to evaluate: no prompt had both valid instructions and a response.');
      return 1;
    }

    await mkdir(values.out, { recursive: true });
    const strictPath = join(values.out, 'eval_results_strict.jsonl');
    const loosePath = join(values.out, 'eval_results_loose.jsonl');
    await writeFile(strictPath, resultsJsonl(report.strict));
    await writeFile(loosePath, resultsJsonl(report.loose));

    console.log(formatReport(report.strictAccuracy, report.looseAccuracy));
    const skipped = input.errors.length + responses.errors.length + report.missing.length;
    if (skipped) console.log(`${skipped} input line(s) or prompt(s) skipped; see the messages above.`);
    console.log(`Wrote ${strictPath} and ${loosePath}.`);
    return 0;
  },
};
