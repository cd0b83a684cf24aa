/**
 * Files that take a run's data out of the lab: preference pairs (TRL conversational JSONL, the
 * SPaR / LLaMA-Factory JSONL with its dataset_info.json entry), RFT records (chat JSONL) and
 * trees (JSON). Excluded pairs and records are left out. Optionally one iteration only. An
 * export with no record to write is refused with the reason, rather than saved as an empty file.
 */
import { LabError } from '../errors';
import { plural } from '../format';
import { llamaFactoryDatasetInfo, pairsToLlamaFactoryJsonl, pairsToTrlJsonl, rftToJsonl, treesToJson } from '../spar/export';
import type { LabStoreLike } from './store';

export type ExportKind = 'pairs-trl' | 'pairs-llamafactory' | 'llamafactory-dataset-info' | 'rft' | 'trees';

export const EXPORT_KINDS: Record<ExportKind, { title: string; suffix: string; mime: string }> = {
  'pairs-trl': { title: 'Pairs · TRL (JSONL)', suffix: 'pairs.trl.jsonl', mime: 'application/jsonl' },
  'pairs-llamafactory': { title: 'Pairs · SPaR / LLaMA-Factory (JSONL)', suffix: 'pairs.llamafactory.jsonl', mime: 'application/jsonl' },
  'llamafactory-dataset-info': { title: 'LLaMA-Factory dataset_info.json', suffix: 'dataset_info.json', mime: 'application/json' },
  rft: { title: 'RFT records (JSONL)', suffix: 'rft.jsonl', mime: 'application/jsonl' },
  trees: { title: 'Trees (JSON)', suffix: 'trees.json', mime: 'application/json' },
};

export interface ExportFile {
  fileName: string;
  blob: Blob;
  /** Records written. */
  count: number;
}

export async function exportFile(store: LabStoreLike, runId: string, kind: ExportKind, iteration?: number): Promise<ExportFile> {
  const run = await store.getRun(runId);
  const spec = EXPORT_KINDS[kind];
  if (!spec) throw new LabError('invalid-input', `Unknown export "${kind}".`);
  const ofIteration = <T extends { iteration: number }>(list: T[]) => (iteration === undefined ? list : list.filter((r) => r.iteration === iteration));
  const slug = run.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'run';
  const base = `${slug}${iteration === undefined ? '' : `.it${iteration}`}`;
  let text: string;
  let count: number;
  switch (kind) {
    case 'pairs-trl':
    case 'pairs-llamafactory': {
      const all = ofIteration(await store.list('pairs', runId));
      const pairs = all.filter((p) => !p.excluded);
      if (pairs.length === 0) throw nothingToExport('pair', all.length, iteration);
      text = kind === 'pairs-trl' ? pairsToTrlJsonl(pairs) : pairsToLlamaFactoryJsonl(pairs);
      count = pairs.length;
      break;
    }
    case 'llamafactory-dataset-info':
      text = JSON.stringify({ [`${slug}_spar_dpo`]: llamaFactoryDatasetInfo(`${base}.${EXPORT_KINDS['pairs-llamafactory'].suffix}`) }, null, 2) + '\n';
      count = 1;
      break;
    case 'rft': {
      const all = ofIteration(await store.list('rft', runId));
      const rft = all.filter((r) => !r.excluded);
      if (rft.length === 0) throw nothingToExport('RFT record', all.length, iteration);
      text = rftToJsonl(rft);
      count = rft.length;
      break;
    }
    case 'trees': {
      const trees = ofIteration(await store.list('trees', runId));
      if (trees.length === 0) throw nothingToExport('tree', 0, iteration);
      text = treesToJson(trees);
      count = trees.length;
      break;
    }
  }
  return { fileName: `${base}.${spec.suffix}`, blob: new Blob([text], { type: spec.mime }), count };
}

/** Why an export would write no record: every one excluded, or none made yet (`stored`: how many there are, excluded ones included). */
function nothingToExport(noun: string, stored: number, iteration?: number): LabError {
  const scope = iteration === undefined ? 'this run' : `iteration ${iteration}`;
  if (stored > 0) {
    const all = stored === 1 ? `the only ${noun}` : `all ${plural(stored, noun)}`;
    return new LabError('invalid-input', `Nothing to export: ${all} of ${scope} ${stored === 1 ? 'is' : 'are'} excluded. Untick “exclude” on the ones to keep (Pairs view), or export another iteration.`);
  }
  const next = iteration === undefined ? 'Run self-play first' : 'Pick an iteration that has finished self-play';
  return new LabError('not-found', `Nothing to export: ${scope} has no ${noun}s yet. ${next}.`);
}
