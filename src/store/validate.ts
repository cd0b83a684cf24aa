/**
 * What a stored record must look like for the lab to use it, checked field by field. Import
 * refuses an archive that holds a broken record (and stores nothing); the lists show a broken
 * record that is already in IndexedDB (written by an older version, or by hand) as broken,
 * instead of crashing on it and hiding the others. Each problem leads with the field's path:
 * `data.samples[2].response: expected a string, got null`.
 */
import { checkBinding, parseRunConfig } from '../lab/run-config';
import { parseSparConfig } from '../spar/config';
import { RFT_KIND_PRIORITY, type SearchTree } from '../spar/types';
import type { ChildStoreName } from './records';

/** Appends one message per problem found to `out`, each led by the path of the bad field. */
type Check = (x: unknown, path: string, out: string[]) => void;

/** Problems of a run record, its config and its iteration history; [] when it is usable. */
export function runProblems(run: unknown, path = ''): string[] {
  const out: string[] = [];
  runShape(run, path, out);
  if (out.length === 0) configProblems((run as { config: Record<string, unknown> }).config, fieldPath(path, 'config'), out);
  return out;
}

/** Problems of one record of a run's child store; [] when it is usable. */
export function recordProblems(store: ChildStoreName, record: unknown, path = ''): string[] {
  const out: string[] = [];
  CHILD_CHECKS[store](record, path, out);
  return out;
}

/** Problems of an evaluation as lists carry it: without its per-prompt details. */
export function listedEvalProblems(item: unknown): string[] {
  return recordProblems('evals', isObject(item) ? { ...item, details: [] } : item);
}

/** Problems of one entry of a run's iteration history (`config.iterations[i]`). */
export function iterationProblems(entry: unknown, path = ''): string[] {
  const out: string[] = [];
  iterationEntry(entry, path, out);
  return out;
}

/** One line for a list row: the first problem, and how many more there are. */
export function problemSummary(problems: readonly string[]): string {
  return problems.length > 1 ? `${problems[0]} (and ${problems.length - 1} more)` : (problems[0] ?? '');
}

/** A value as a problem message names it: `null`, `the string "yesterday"`, `a list of 3`. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`;
  if (typeof x === 'number') return `the number ${x}`;
  if (typeof x === 'boolean') return String(x);
  if (Array.isArray(x)) return `a list of ${x.length}`;
  if (x instanceof ArrayBuffer || ArrayBuffer.isView(x)) return 'binary data';
  if (typeof x === 'object') return 'an object';
  return `a ${typeof x}`;
}

/** `path.key`, `path[3]`, or `path["a key"]` for keys that are not plain names. */
export function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

// ---- building blocks ----

function problem(path: string, expected: string, x: unknown): string {
  const what = x === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${describeValue(x)}`;
  return path ? `${path}: ${what}` : what;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof ArrayBuffer) && !ArrayBuffer.isView(x);
}

const is =
  (expected: string, ok: (x: unknown) => boolean): Check =>
  (x, path, out) => {
    if (!ok(x)) out.push(problem(path, expected, x));
  };

const opt =
  (check: Check): Check =>
  (x, path, out) => {
    if (x !== undefined) check(x, path, out);
  };

const orNull =
  (check: Check): Check =>
  (x, path, out) => {
    if (x !== null) check(x, path, out);
  };

function oneOf(...values: readonly unknown[]): Check {
  const names = values.map((v) => JSON.stringify(v));
  const expected = names.length === 2 ? names.join(' or ') : `one of ${names.join(', ')}`;
  return is(expected, (x) => values.includes(x));
}

function shape(fields: Record<string, Check>): Check {
  return (x, path, out) => {
    if (!isObject(x)) return void out.push(problem(path, 'an object', x));
    for (const [key, check] of Object.entries(fields)) check(x[key], fieldPath(path, key), out);
  };
}

function list(item: Check, length?: number): Check {
  return (x, path, out) => {
    if (!Array.isArray(x) || (length !== undefined && x.length !== length)) {
      return void out.push(problem(path, length === undefined ? 'a list' : `a list of ${length}`, x));
    }
    x.forEach((v, i) => item(v, fieldPath(path, i), out));
  };
}

/** An object whose every value passes `value` (tensors by name, metrics by name…). */
function dict(value: Check): Check {
  return (x, path, out) => {
    if (!isObject(x)) return void out.push(problem(path, 'an object', x));
    for (const [key, v] of Object.entries(x)) value(v, fieldPath(path, key), out);
  };
}

/** `first`, then `then` only where `first` found nothing (checks that rely on the shape). */
function andThen(first: Check, then: Check): Check {
  return (x, path, out) => {
    const before = out.length;
    first(x, path, out);
    if (out.length === before) then(x, path, out);
  };
}

/** Runs a parser that throws a LabError naming the problem (the run config's own checks). */
function parsedBy(parse: (x: unknown) => unknown): Check {
  return (x, path, out) => {
    try {
      parse(x);
    } catch (e) {
      out.push(`${path}: ${(e as Error).message.replace(/\.$/, '')}`);
    }
  };
}

// IndexedDB keeps Dates as numbers; Intl and Date refuse times beyond ±8.64e15 ms.
const MAX_TIME = 8.64e15;

const text = is('a string', (x) => typeof x === 'string');
const id = is('a non-empty string', (x) => typeof x === 'string' && x !== '');
const flag = is('true or false', (x) => typeof x === 'boolean');
const real = is('a number', (x) => typeof x === 'number' && Number.isFinite(x));
/** A measured number that may be NaN or ±Infinity; null where an older export's JSON lost one. */
const measure = is('a number', (x) => typeof x === 'number' || x === null);
const whole = is('a whole number ≥ 0', (x) => Number.isInteger(x) && (x as number) >= 0);
const integer = is('a whole number', (x) => Number.isInteger(x));
const time = is('a time in milliseconds since 1970', (x) => typeof x === 'number' && Math.abs(x) <= MAX_TIME);
const binary = is('binary data', (x) => x instanceof ArrayBuffer);
const object = is('an object', isObject);
const texts = list(text);
const role = oneOf('actor', 'refiner');
const verdict = oneOf('Yes', 'No');

// ---- runs and their iteration history ----

const RUN_STATUSES = ['new', 'running', 'paused', 'done', 'failed', 'cancelled'];

const runShape = shape({ id, name: text, createdAt: time, updatedAt: time, status: oneOf(...RUN_STATUSES), config: object, notes: text });

const errorNote = opt(shape({ kind: text, message: text }));

const trainEntry = shape({
  status: oneOf('training', 'paused', 'done', 'failed'),
  adapter: text,
  from: orNull(text),
  reference: orNull(text),
  base: text,
  engine: text,
  lora: shape({ rank: whole, alpha: real, rslora: flag, targets: texts }),
  settings: shape({ lr: real, epochs: real, batchSize: whole }),
  examples: whole,
  excluded: whole,
  tooLong: whole,
  duplicates: whole,
  step: whole,
  totalSteps: whole,
  startedAt: time,
  updatedAt: time,
  finishedAt: opt(time),
  last: opt(dict(measure)),
  peakBytes: opt(orNull(real)),
  timing: opt(dict(real)),
  error: errorNote,
});

/** The settings an iteration ran with: the fields the views show, then the SPaR checks (resume runs them). */
const iterationSpar = andThen(
  shape({
    seed: integer,
    sample: shape({ n: whole }),
    judge: shape({ k: whole, verdict: text }),
    search: shape({ algorithm: oneOf('bfs', 'dfs'), branch: whole, maxDepth: whole, endGate: real }),
  }),
  parsedBy(parseSparConfig),
);

const iterationEntry = shape({
  iteration: whole,
  status: oneOf('running', 'paused', 'done', 'cancelled', 'failed'),
  startedAt: time,
  updatedAt: time,
  finishedAt: opt(time),
  spar: iterationSpar,
  models: shape({ actor: parsedBy((b) => checkBinding(b, 'actor')), refiner: parsedBy((b) => checkBinding(b, 'refiner')) }),
  labels: shape({ actor: text, refiner: text }),
  adapters: shape({ actor: opt(text), refiner: opt(text) }),
  generation: opt(shape({ actor: whole, refiner: whole })),
  instructions: whole,
  finished: whole,
  failed: whole,
  pairs: whole,
  rft: whole,
  error: errorNote,
  training: opt(shape({ actor: opt(trainEntry), refiner: opt(trainEntry) })),
});

function configProblems(config: Record<string, unknown>, path: string, out: string[]): void {
  parsedBy((c) => parseRunConfig(c as Record<string, unknown>))(config, path, out);
  opt(list(iterationEntry))(config.iterations, fieldPath(path, 'iterations'), out);
}

// ---- what self-play writes (src/spar/types.ts) ----

const critique = shape({
  text,
  parsed: orNull(verdict),
  readout: opt(shape({ logprobs: list(measure, 2), pYes: measure })),
  verdict: orNull(verdict),
});
const attempts = list(list(critique));
const judgment = shape({ critiques: list(critique), yes: whole, no: whole, value: real, label: verdict, representative: whole, tiedAttempts: attempts });

const judgeOutcome: Check = (x, path, out) => {
  if (!isObject(x)) return void out.push(problem(path, 'an object', x));
  if (x.ok === true) shape({ judgment })(x, path, out);
  else if (x.ok === false) shape({ tied: shape({ tiedAttempts: attempts }) })(x, path, out);
  else out.push(problem(fieldPath(path, 'ok'), 'true or false', x.ok));
};

const refineCall = shape({ reply: text, extracted: orNull(text), seed: integer });

const treeNode = shape({
  id: whole,
  parent: orNull(whole),
  children: list(whole),
  depth: whole,
  order: whole,
  response: text,
  refineTrace: text,
  refineCalls: list(refineCall),
  critique: text,
  value: real,
  judgment: opt(judgment),
  cachedFrom: opt(whole),
});

const searchTree = andThen(
  shape({
    algorithm: oneOf('bfs', 'dfs'),
    nodes: list(treeNode),
    discarded: list(
      shape({ parent: whole, reason: oneOf('refine-failed', 'judge-tied'), refineCalls: list(refineCall), response: opt(text), tiedAttempts: opt(attempts) }),
    ),
    outcome: oneOf('solved', 'fallback', 'zero-values'),
    finalNode: orNull(whole),
    budgetLeft: real,
    critiquePicks: shape({ negative: orNull(whole), positive: orNull(whole) }),
  }),
  (x, path, out) => treeLinks(x as SearchTree, path, out),
);

/**
 * Node links the views follow: nodes are numbered in creation order, so a child comes after its
 * parent. That rules out cycles (the tree picture walks children, the final path walks parents).
 */
function treeLinks(t: SearchTree, path: string, out: string[]): void {
  const nodesPath = fieldPath(path, 'nodes');
  const n = t.nodes.length;
  if (n === 0) return void out.push(`${nodesPath}: expected at least the root node, got an empty list`);
  const ref = (at: string, node: number | null | undefined) => {
    if (node !== null && node !== undefined && node >= n) out.push(`${at}: there is no node ${node} (the tree has ${n})`);
  };
  t.nodes.forEach((node, i) => {
    const at = fieldPath(nodesPath, i);
    if (node.id !== i) out.push(`${fieldPath(at, 'id')}: expected ${i} (its place in the list), got ${node.id}`);
    if (i === 0 && node.parent !== null) out.push(`${fieldPath(at, 'parent')}: expected null for the root, got ${node.parent}`);
    if (i > 0 && (node.parent === null || node.parent >= i)) {
      out.push(`${fieldPath(at, 'parent')}: expected an earlier node (0 to ${i - 1}), got ${describeValue(node.parent)}`);
    }
    for (const c of node.children) {
      if (c <= i || c >= n || t.nodes[c].parent !== i) out.push(`${fieldPath(at, 'children')}: node ${c} is not a child of node ${i}`);
    }
    ref(fieldPath(at, 'cachedFrom'), node.cachedFrom);
  });
  t.discarded.forEach((d, i) => ref(fieldPath(fieldPath(fieldPath(path, 'discarded'), i), 'parent'), d.parent));
  ref(fieldPath(path, 'finalNode'), t.finalNode);
  ref(fieldPath(fieldPath(path, 'critiquePicks'), 'negative'), t.critiquePicks.negative);
  ref(fieldPath(fieldPath(path, 'critiquePicks'), 'positive'), t.critiquePicks.positive);
}

const instructionData = andThen(
  shape({
    prompt: text,
    mode: oneOf('refine', 'independent'),
    seeds: shape({ sample: integer, judge: integer, select: integer, search: integer }),
    samples: list(shape({ response: text, finishReason: oneOf('stop', 'length'), judge: judgeOutcome })),
    negative: orNull(whole),
    positive: orNull(whole),
    tree: orNull(searchTree),
    stats: shape({ modelCalls: whole, generatedTokens: whole, judgments: whole }),
  }),
  (x, path, out) => {
    const d = x as { samples: unknown[]; negative: number | null; positive: number | null };
    for (const key of ['negative', 'positive'] as const) {
      const i = d[key];
      if (i !== null && i >= d.samples.length) out.push(`${fieldPath(path, key)}: there is no sample ${i} (there are ${d.samples.length})`);
    }
  },
);

// ---- evaluations (src/lab/evaluate.ts) ----

const promptResult = shape({
  key: is('a number or a string', (x) => typeof x === 'number' || typeof x === 'string'),
  prompt: text,
  response: text,
  instruction_id_list: texts,
  kwargs: list(object),
  strict: list(flag),
  loose: list(flag),
  finishReason: oneOf('stop', 'length'),
  tokens: whole,
  refinement: opt(
    shape({
      original: text,
      verdict: orNull(verdict),
      nodes: whole,
      outcome: orNull(oneOf('solved', 'fallback', 'zero-values')),
      value: orNull(real),
      changed: flag,
      strict: list(flag),
      loose: list(flag),
    }),
  ),
});

const judgeItem = shape({ treeId: text, promptId: text, what: oneOf('sample', 'node'), index: whole, verdict: orNull(verdict), followed: flag });

/** Per-prompt details as each kind of evaluation writes them; other kinds: any objects. */
const evalDetails: Check = (x, path, out) => {
  const kind = isObject(x) ? x.kind : undefined;
  const item = kind === 'ifeval' ? promptResult : kind === 'judge' ? judgeItem : object;
  list(item)(isObject(x) ? x.details : undefined, fieldPath(path, 'details'), out);
};

// ---- every child store ----

const child = { runId: text, id };

const CHILD_CHECKS: Record<ChildStoreName, Check> = {
  prompts: shape({ ...child, index: whole, prompt: text, instructionIds: texts, kwargs: list(object), source: text }),
  trees: shape({
    ...child,
    iteration: whole,
    promptId: text,
    status: oneOf('done', 'failed'),
    error: opt(text),
    errorKind: opt(text),
    data: instructionData,
    outputs: shape({ pairs: whole, rft: whole }),
    finishedAt: time,
  }),
  pairs: shape({
    ...child,
    iteration: whole,
    promptId: text,
    prompt: text,
    chosen: text,
    rejected: text,
    excluded: flag,
    meta: shape({
      source: oneOf('refinement', 'independent'),
      chosenValue: real,
      rejectedValue: real,
      rejectedSample: whole,
      chosenNode: opt(whole),
      chosenDepth: opt(whole),
      solved: opt(flag),
      chosenSample: opt(whole),
    }),
  }),
  rft: shape({
    ...child,
    iteration: whole,
    promptId: text,
    kind: oneOf(...RFT_KIND_PRIORITY),
    messages: list(shape({ role: oneOf('system', 'user', 'assistant'), content: text })),
    excluded: flag,
  }),
  adapters: shape({
    ...child,
    iteration: whole,
    role,
    step: whole,
    createdAt: time,
    config: object,
    tensors: dict(binary),
    optimizer: opt(dict(binary)),
  }),
  evals: andThen(shape({ ...child, iteration: whole, createdAt: time, kind: text, summary: dict(measure), meta: opt(object), details: list(object) }), evalDetails),
  trainLogs: shape({ ...child, iteration: whole, role, step: whole, time: real, metrics: dict(measure) }),
};
