/**
 * Files that take a run's data out of the lab: preference pairs (TRL conversational JSONL, the
 * SPaR / LLaMA-Factory JSONL with its dataset_info.json entry), RFT records (chat JSONL) and
 * trees (JSON). Excluded pairs and records are left out. Optionally one iteration only.
 */
import { LabError } from '../errors';
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
      const pairs = ofIteration(await store.list('pairs', runId)).filter((p) => !p.excluded);
      text = kind === 'pairs-trl' ? pairsToTrlJsonl(pairs) : pairsToLlamaFactoryJsonl(pairs);
      count = pairs.length;
      break;
    }
    case 'llamafactory-dataset-info':
      text = JSON.stringify({ [`${slug}_spar_dpo`]: llamaFactoryDatasetInfo(`${base}.${EXPORT_KINDS['pairs-llamafactory'].suffix}`) }, null, 2) + '\n';
      count = 1;
      break;
    case 'rft': {
      const rft = ofIteration(await store.list('rft', runId)).filter((r) => !r.excluded);
      text = rftToJsonl(rft);
      count = rft.length;
      break;
    }
    case 'trees': {
      const trees = ofIteration(await store.list('trees', runId));
      text = treesToJson(trees);
      count = trees.length;
      break;
    }
  }
  return { fileName: `${base}.${spec.suffix}`, blob: new Blob([text], { type: spec.mime }), count };
}
