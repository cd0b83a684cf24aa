/**
 * Files that take a run's data out of the lab, as strings (the caller saves them):
 * - pairs, TRL conversational preference format: {prompt, chosen, rejected} as message lists;
 * - pairs, the SPaR / LLaMA-Factory layout: {messages, chosen, rejected} with chosen/rejected as
 *   single assistant messages (LLaMA-Factory "sharegpt" formatting, ranking: true, openai tags:
 *   see `llamaFactoryDatasetInfo`);
 * - RFT records as chat {messages} (SFT on the assistant turns);
 * - trees as JSON (every node with response, refine trace, critiques, verdicts, value, depth,
 *   parent, visit order). JSON has no infinities: a read-out log-prob of -Infinity becomes null.
 * Excluded records are left out unless asked for.
 */
import type { PairRecord, RftRecord, TreeRecord } from '../store/records';

type PairLike = Pick<PairRecord, 'prompt' | 'chosen' | 'rejected'> & { excluded?: boolean };
type RftLike = Pick<RftRecord, 'messages'> & { excluded?: boolean };
interface ExportOptions {
  includeExcluded?: boolean;
}

function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r) + '\n').join('');
}

function kept<T extends { excluded?: boolean }>(rows: T[], opts: ExportOptions): T[] {
  return opts.includeExcluded ? rows : rows.filter((r) => !r.excluded);
}

/** TRL conversational preference rows (explicit prompt). */
export function pairsToTrlJsonl(pairs: PairLike[], opts: ExportOptions = {}): string {
  return jsonl(
    kept(pairs, opts).map((p) => ({
      prompt: [{ role: 'user', content: p.prompt }],
      chosen: [{ role: 'assistant', content: p.chosen }],
      rejected: [{ role: 'assistant', content: p.rejected }],
    })),
  );
}

/** The reference's DPO layout (process_dpo_data), one JSON object per line. */
export function pairsToLlamaFactoryJsonl(pairs: PairLike[], opts: ExportOptions = {}): string {
  return jsonl(
    kept(pairs, opts).map((p) => ({
      messages: [{ role: 'user', content: p.prompt }],
      chosen: { role: 'assistant', content: p.chosen },
      rejected: { role: 'assistant', content: p.rejected },
    })),
  );
}

/** The `dataset_info.json` entry LLaMA-Factory needs to read `pairsToLlamaFactoryJsonl` output. */
export function llamaFactoryDatasetInfo(fileName: string): Record<string, unknown> {
  return {
    file_name: fileName,
    formatting: 'sharegpt',
    ranking: true,
    columns: { messages: 'messages', chosen: 'chosen', rejected: 'rejected' },
    tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
  };
}

/** RFT records as chat SFT rows. */
export function rftToJsonl(records: RftLike[], opts: ExportOptions = {}): string {
  return jsonl(kept(records, opts).map((r) => ({ messages: r.messages })));
}

/** Trees as one JSON document, ordered by iteration, then prompt id. */
export function treesToJson(trees: TreeRecord[]): string {
  const sorted = [...trees].sort((a, b) => a.iteration - b.iteration || (a.promptId < b.promptId ? -1 : a.promptId > b.promptId ? 1 : 0));
  return JSON.stringify({ format: 'spar-lab-trees', version: 1, trees: sorted }, null, 1);
}
