/**
 * The toy world: instructions made of a short task on a topic plus one to three IFEval
 * constraints our checkers score, and answers written from a small grammar (grammar.ts).
 *
 * An answer is built as a draft (title, sentences, bullets, keywords, P.S., end phrase, quotes,
 * case, commas) and rendered to text, so "follow this constraint or not" is a choice per
 * constraint, and a refinement is the smallest change to the draft that makes a failing
 * constraint pass. The checkers in src/eval decide every verdict; the draft only writes text.
 *
 * Held-out instructions use (topic, constraint type) combinations that training never sees.
 */
import type { IfevalRecord } from '../eval/evaluate';
import { checkInstruction, conflicts, describeInstruction, type InstructionId, type Kwargs } from '../eval/instructions';
import { PyRandom } from '../py-random';
import { KEYWORD_SENTENCE, KEYWORDS, POSTSCRIPTS, SENTENCES, TASKS, TOPICS, TOY_END_PHRASES, type Topic } from './grammar';

/** The constraint types of the toy world: ones a small model can learn and our checkers score. */
export const TOY_CONSTRAINTS = [
  'change_case:english_lowercase',
  'change_case:english_capital',
  'startend:end_checker',
  'keywords:existence',
  'keywords:forbidden_words',
  'punctuation:no_comma',
  'startend:quotation',
  'detectable_format:title',
  'detectable_format:number_bullet_lists',
  'detectable_content:postscript',
] as const satisfies readonly InstructionId[];
export type ToyConstraint = (typeof TOY_CONSTRAINTS)[number];

/** A quoted answer's first line would hide its first bullet from the bullet checker. */
const TOY_CONFLICTS: readonly [ToyConstraint, ToyConstraint][] = [['startend:quotation', 'detectable_format:number_bullet_lists']];

function toyConflict(a: ToyConstraint, b: ToyConstraint): boolean {
  return conflicts(a, b) || TOY_CONFLICTS.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

export interface ToyInstruction {
  record: IfevalRecord;
  /** Index into TOPICS. */
  topic: number;
}

/** An answer before it is written out. */
export interface ToyDraft {
  topic: number;
  title: string | null;
  /** Sentences of the body, with their commas. */
  items: string[];
  bullets: boolean;
  /** Keywords named in a closing "It reminds me of …" sentence of the last item. */
  keywords: string[];
  ps: string | null;
  end: string | null;
  quoted: boolean;
  letterCase: 'natural' | 'lower' | 'upper';
  commas: boolean;
}

/** Held-out (topic, constraint) combinations: a fixed fifth of them, the same for every seed. */
const HELDOUT_SEED = 20241215;
const heldOutPairs: ReadonlySet<string> = (() => {
  const all = TOPICS.flatMap((_, topic) => TOY_CONSTRAINTS.map((c) => `${topic}|${c}`));
  return new Set(new PyRandom(HELDOUT_SEED).shuffle(all).slice(0, Math.round(all.length / 5)));
})();

export function isHeldOut(topic: number, constraint: ToyConstraint): boolean {
  return heldOutPairs.has(`${topic}|${constraint}`);
}

export interface ToyInstructionOptions {
  count: number;
  seed: number;
  /** 'train': only seen combinations; 'heldout': each has at least one unseen combination. */
  split: 'train' | 'heldout';
  firstKey?: number;
}

/** Distinct toy instructions, deterministic for a seed and split. */
export function toyInstructions(o: ToyInstructionOptions): ToyInstruction[] {
  const rng = new PyRandom((o.seed ^ (o.split === 'heldout' ? 0x5eed : 0)) >>> 0);
  const out: ToyInstruction[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; out.length < o.count; attempt++) {
    if (attempt > o.count * 100 + 1000) throw new Error(`Only ${out.length} distinct toy instructions could be made.`);
    const topic = rng.randbelow(TOPICS.length);
    const n = rng.choice([1, 2, 2, 3]);
    const chosen: ToyConstraint[] = [];
    for (const c of rng.shuffle([...TOY_CONSTRAINTS])) {
      if (chosen.length < n && !chosen.some((x) => toyConflict(x, c))) chosen.push(c);
    }
    const unseen = chosen.filter((c) => isHeldOut(topic, c)).length;
    if (o.split === 'train' ? unseen > 0 : unseen === 0) continue;
    const kwargs = chosen.map((c) => drawKwargs(c, TOPICS[topic], rng));
    const task = rng.choice(TASKS).replace('{t}', TOPICS[topic].name);
    const prompt = [task, ...chosen.map((c, i) => describeInstruction(c, kwargs[i]))].join(' ');
    if (seen.has(prompt)) continue;
    seen.add(prompt);
    out.push({ topic, record: { key: (o.firstKey ?? 0) + out.length, prompt, instruction_id_list: chosen, kwargs } });
  }
  return out;
}

/** Words of a topic that an instruction may forbid: not part of its name, so every answer can avoid them. */
function forbiddable(words: readonly string[], topic: Topic): string[] {
  return words.filter((w) => !hasWord(topic.name, w));
}

function drawKwargs(c: ToyConstraint, topic: Topic, rng: PyRandom): Kwargs {
  switch (c) {
    case 'startend:end_checker':
      return { end_phrase: rng.choice(TOY_END_PHRASES) };
    case 'keywords:existence':
      return { keywords: rng.shuffle(KEYWORDS.filter((k) => !hasWord(topic.name, k))).slice(0, rng.randint(1, 2)) };
    case 'keywords:forbidden_words': {
      // At most one adjective and one thing, so every template can still be filled without them.
      const [adjective, thing] = [rng.choice(forbiddable(topic.adjectives, topic)), rng.choice(forbiddable(topic.things, topic))];
      return { forbidden_words: rng.random() < 0.5 ? [rng.choice([adjective, thing])] : rng.shuffle([adjective, thing]) };
    }
    case 'detectable_format:number_bullet_lists':
      return { num_bullets: rng.randint(2, 4) };
    case 'detectable_content:postscript':
      return { postscript_marker: 'P.S.' };
    default:
      return {};
  }
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const hasWord = (text: string, word: string) => new RegExp(`\\b${word}\\b`, 'i').test(text);

function pick<T>(rng: PyRandom, xs: readonly T[], avoid: (x: T) => boolean = () => false): T {
  const ok = xs.filter((x) => !avoid(x));
  return rng.choice(ok.length ? ok : xs);
}

/**
 * One sentence about the topic from template `index`, avoiding `forbidden` words; `force` puts
 * one of them in the first adjective or thing slot instead (an answer that breaks the rule).
 */
function sentence(topic: Topic, index: number, rng: PyRandom, forbidden: readonly string[], force?: string): string {
  const bad = (w: string) => forbidden.some((f) => hasWord(w, f));
  const adjectives = rng.shuffle(topic.adjectives.filter((a) => !bad(a)));
  const things = rng.shuffle(topic.things.filter((a) => !bad(a)));
  if (force !== undefined) (topic.adjectives.includes(force) ? adjectives : things).unshift(force);
  const fill: Record<string, string> = {
    S: capitalize(topic.name),
    s: topic.name,
    a: adjectives[0] ?? topic.adjectives[0],
    b: adjectives[1] ?? topic.adjectives[1],
    x: things[0] ?? topic.things[0],
    y: things[1] ?? topic.things[1],
    z: things[2] ?? topic.things[2],
    v: pick(rng, topic.activities, bad),
  };
  return SENTENCES[index].replace(/\{([Ssabxyzv])\}/g, (_m, k: string) => fill[k]);
}

/** `count` sentences from different templates; `commaAt` (if given) gets a template with a comma. */
function sentences(topic: Topic, count: number, rng: PyRandom, forbidden: readonly string[], commaAt = -1): string[] {
  const order = rng.shuffle(SENTENCES.map((_, i) => i));
  if (commaAt >= 0 && commaAt < count) {
    const withComma = order.findIndex((i) => SENTENCES[i].includes(','));
    [order[commaAt], order[withComma]] = [order[withComma], order[commaAt]];
  }
  return order.slice(0, count).map((i) => sentence(topic, i, rng, forbidden));
}

function kw<T>(inst: ToyInstruction, c: ToyConstraint): T | undefined {
  const i = inst.record.instruction_id_list.indexOf(c);
  return i < 0 ? undefined : (inst.record.kwargs[i] as T);
}

/**
 * An answer to `inst` that follows constraint i when `follow[i]` (and breaks it otherwise).
 * Constraints the instruction does not set take their natural form: prose, normal case, commas.
 */
export function draftAnswer(inst: ToyInstruction, follow: readonly boolean[], rng: PyRandom): ToyDraft {
  const topic = TOPICS[inst.topic];
  const wants = (c: ToyConstraint) => {
    const i = inst.record.instruction_id_list.indexOf(c);
    return i < 0 ? undefined : follow[i];
  };
  const forbidden = kw<{ forbidden_words: string[] }>(inst, 'keywords:forbidden_words')?.forbidden_words ?? [];
  const bulletsN = kw<{ num_bullets: number }>(inst, 'detectable_format:number_bullet_lists')?.num_bullets;
  let count = rng.randint(2, 3);
  let bullets = false;
  if (bulletsN !== undefined) {
    if (wants('detectable_format:number_bullet_lists')) [count, bullets] = [bulletsN, true];
    else if (rng.random() < 0.7) count = bulletsN; // prose: a refinement only has to add the bullets
    else [count, bullets] = [bulletsN === 2 ? 3 : bulletsN + rng.choice([-1, 1]), true];
  }
  const noComma = wants('punctuation:no_comma');
  const items = sentences(topic, count, rng, forbidden, noComma === false ? rng.randbelow(count) : -1);
  if (wants('keywords:forbidden_words') === false) {
    // One sentence uses a forbidden word (keeping its comma, if "no commas" is to be broken there).
    const word = rng.choice(forbidden);
    const slot = topic.adjectives.includes(word) ? '{a}' : '{x}';
    const at = rng.randbelow(count);
    const needsComma = noComma === false && items[at].includes(',');
    const templates = SENTENCES.map((_, i) => i).filter((i) => SENTENCES[i].includes(slot) && (!needsComma || SENTENCES[i].includes(',')));
    items[at] = sentence(topic, rng.choice(templates), rng, forbidden, word);
  }
  const keywords = kw<{ keywords: string[] }>(inst, 'keywords:existence')?.keywords ?? [];
  const title = wants('detectable_format:title') ? titleFor(topic, rng, forbidden) : null;
  return {
    topic: inst.topic,
    title,
    items,
    bullets,
    keywords: wants('keywords:existence') === false ? rng.shuffle([...keywords]).slice(0, rng.randbelow(keywords.length)) : keywords,
    ps: wants('detectable_content:postscript') ? postscriptFor(topic, rng) : null,
    end: wants('startend:end_checker') ? kw<{ end_phrase: string }>(inst, 'startend:end_checker')!.end_phrase : null,
    quoted: wants('startend:quotation') === true,
    letterCase: wants('change_case:english_lowercase') ? 'lower' : wants('change_case:english_capital') ? 'upper' : 'natural',
    commas: noComma !== true,
  };
}

function titleFor(topic: Topic, rng: PyRandom, forbidden: readonly string[]): string {
  const noun = topic.name.split(' ').at(-1)!;
  const adjective = pick(rng, topic.adjectives, (a) => forbidden.includes(a) || topic.name.includes(a));
  return `${capitalize(adjective)} ${capitalize(noun)}`;
}

function postscriptFor(topic: Topic, rng: PyRandom): string {
  return rng.choice(POSTSCRIPTS).replace('{s}', topic.name);
}

/** The answer as text. */
export function renderDraft(d: ToyDraft): string {
  const items = d.items.map((s) => (d.commas ? s : s.replaceAll(',', '')));
  if (d.keywords.length) items[items.length - 1] += ` ${KEYWORD_SENTENCE.replace('{k}', d.keywords.join(' and '))}`;
  const body = d.bullets ? items.map((s) => `* ${s}`).join('\n') : items.join(' ');
  const parts = [d.title === null ? null : `<<${d.title}>>`, body, d.ps === null ? null : `P.S. ${d.ps}`, d.end];
  let text = parts.filter((p): p is string => p !== null).join('\n\n');
  if (d.quoted) text = `"${text}"`;
  return d.letterCase === 'lower' ? text.toLowerCase() : d.letterCase === 'upper' ? text.toUpperCase() : text;
}

export interface ToyAnswer {
  draft: ToyDraft;
  text: string;
  /** The checkers' verdict per constraint. */
  passes: boolean[];
}

/**
 * An answer whose checker verdicts are exactly `follow`. Drafts are redrawn when they are not:
 * langdetect, which the case checkers consult, now and then calls a short all-caps text
 * non-English, and training on such a verdict would teach the judge noise.
 */
export function toyAnswer(inst: ToyInstruction, follow: readonly boolean[], rng: PyRandom): ToyAnswer {
  for (let attempt = 0; ; attempt++) {
    const draft = draftAnswer(inst, follow, rng);
    const text = renderDraft(draft);
    const passes = checkToyAnswer(inst, text);
    if (attempt >= 20 || passes.every((p, i) => p === follow[i])) return { draft, text, passes };
  }
}

/** The checkers' verdict on each of the instruction's constraints. */
export function checkToyAnswer(inst: ToyInstruction, response: string): boolean[] {
  return inst.record.instruction_id_list.map((id, i) => checkInstruction(id, inst.record.kwargs[i], response));
}

/**
 * The smallest change to `d` that makes every constraint in `fix` pass: change the case, add
 * the missing piece, drop the commas, swap a forbidden word for an allowed one, turn prose into
 * the asked number of bullets.
 */
export function refineDraft(inst: ToyInstruction, d: ToyDraft, fix: readonly ToyConstraint[], rng: PyRandom): ToyDraft {
  const topic = TOPICS[d.topic];
  const out: ToyDraft = { ...d, items: [...d.items], keywords: [...d.keywords] };
  const forbidden = kw<{ forbidden_words: string[] }>(inst, 'keywords:forbidden_words')?.forbidden_words ?? [];
  for (const c of fix) {
    switch (c) {
      case 'change_case:english_lowercase':
        out.letterCase = 'lower';
        break;
      case 'change_case:english_capital':
        out.letterCase = 'upper';
        break;
      case 'startend:end_checker':
        out.end = kw<{ end_phrase: string }>(inst, c)!.end_phrase;
        break;
      case 'keywords:existence':
        for (const k of kw<{ keywords: string[] }>(inst, c)!.keywords) if (!out.keywords.includes(k)) out.keywords.push(k);
        break;
      case 'keywords:forbidden_words':
        out.items = out.items.map((s) => swapForbidden(s, topic, forbidden));
        if (out.title && forbidden.some((f) => hasWord(out.title!, f))) out.title = swapForbidden(out.title, topic, forbidden);
        break;
      case 'punctuation:no_comma':
        out.commas = false;
        break;
      case 'startend:quotation':
        out.quoted = true;
        break;
      case 'detectable_format:title':
        out.title = titleFor(topic, rng, forbidden);
        break;
      case 'detectable_format:number_bullet_lists': {
        const n = kw<{ num_bullets: number }>(inst, c)!.num_bullets;
        out.bullets = true;
        if (out.items.length > n) out.items = out.items.slice(0, n);
        while (out.items.length < n) {
          const used = new Set(out.items);
          const extra = sentences(topic, SENTENCES.length, rng, forbidden).find((s) => !used.has(s) && (out.commas || !s.includes(',')))!;
          out.items.push(extra);
        }
        break;
      }
      case 'detectable_content:postscript':
        out.ps = postscriptFor(topic, rng);
        break;
    }
  }
  return out;
}

/** Replaces each forbidden word with the first allowed word of the same kind that the text does not use yet. */
function swapForbidden(text: string, topic: Topic, forbidden: readonly string[]): string {
  let out = text;
  for (const f of forbidden) {
    if (!hasWord(out, f)) continue;
    const pool = topic.adjectives.includes(f) ? topic.adjectives : topic.things;
    const alt = pool.find((w) => !forbidden.includes(w) && !hasWord(out, w)) ?? pool.find((w) => !forbidden.includes(w))!;
    out = out.replace(new RegExp(`\\b${f}\\b`, 'gi'), (m) => (m[0] === m[0].toUpperCase() ? capitalize(alt) : alt));
  }
  return out;
}
