/**
 * The browser's copies of model files, for every engine.
 *
 * web-llm 0.2.86 (default cacheBackend "cache") stores with the Cache API, one entry per file,
 * keyed by the file's full URL under the model's base URL (…/resolve/main/): the chat config in
 * "webllm/config"; tensor-cache.json, every params_shard_N.bin and tokenizer.json in
 * "webllm/model"; the model library (.wasm, keyed by its GitHub URL) in "webllm/wasm". It
 * writes them with Cache.add (the network response as it came). The lab engine reads those
 * entries through hubSource (engine/load/fetch.ts), whose URLs are the same, and keeps what it
 * downloads itself in "spar-lab/models". web-llm never caches tokenizer_config.json (the chat
 * template), which the lab engine needs: fetchLabExtras adds it, so after one web-llm download
 * the lab engine loads the model offline.
 *
 * ONNX models for transformers.js are read through hubSource too, so their files (weights in
 * onnx/) sit in the lab's cache under the same hub URLs; transformers.js's own cache,
 * "transformers-cache" (hub files under their URL the same way), is listed and emptied with the
 * others for anything transformers.js stored there itself. Files there not under a hub URL
 * (ONNX Runtime's own) are not a model's.
 *
 * Here: which models are cached (web-llm's own test — tensor-cache.json and all its shards —
 * plus ours), how many bytes they take, deleting a model from every cache, and the exact
 * download size from a lazily fetched tensor-cache.json.
 */
import { LabError } from '../errors';
import { LAB_MODEL_CACHE, hubSource, type CacheLike, type CacheStorageLike } from '../engine/load/fetch';
import { readJson } from '../engine/load/files';
import { MLC_CHAT_CONFIG, parseMlcChatConfig, parseTensorCache, type TensorCacheShard } from '../engine/load/mlc';
import { hubRepoOf, type CatalogEntry, type LabSupport } from './catalog';
import { TRANSFORMERS_CACHE } from './onnx-hub';
import { dtypeOfOnnxFile } from './onnx-files';

export const WEBLLM_MODEL_CACHE = 'webllm/model';
export const WEBLLM_CONFIG_CACHE = 'webllm/config';
export const WEBLLM_WASM_CACHE = 'webllm/wasm';
const FILE_CACHES = [WEBLLM_MODEL_CACHE, WEBLLM_CONFIG_CACHE, LAB_MODEL_CACHE, TRANSFORMERS_CACHE] as const;

/** The Cache API with listing (window.caches and self.caches fit). */
export interface CacheWithKeys extends CacheLike {
  keys(): Promise<readonly Request[]>;
}
export interface CacheStorageWithKeys extends CacheStorageLike {
  open(name: string): Promise<CacheWithKeys>;
}

function defaultCaches(): CacheStorageWithKeys {
  const c = (globalThis as { caches?: CacheStorageWithKeys }).caches;
  if (!c) throw new LabError('storage', 'This browser has no Cache Storage (it needs a secure context: https or localhost), so models cannot be kept offline.');
  return c;
}

export interface ModelCacheState {
  modelId: string;
  /** web-llm's own test (hasModelInCache): tensor-cache.json and every shard it lists are stored. */
  webllmComplete: boolean;
  shardsCached: number;
  /** null until tensor-cache.json is stored. */
  shardsTotal: number | null;
  configCached: boolean;
  tokenizerCached: boolean;
  wasmCached: boolean;
  /** Files in the lab engine's own cache. */
  labFiles: number;
  /** The lab engine can load it without the network (and the catalog says it can load it at all). */
  labReady: boolean;
  /** Bytes stored for this model's files in all caches (the .wasm not counted). */
  bytes: number;
  /** Other model ids whose files are the same ones (e.g. the -1k variant). */
  sharedWith: string[];
  /** Why its stored files cannot be used (a broken tensor-cache.json), or null. */
  problem: string | null;
}

/** URLs stored in each cache, read once. */
async function storedUrls(caches: CacheStorageWithKeys): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const name of [...FILE_CACHES, WEBLLM_WASM_CACHE]) {
    const cache = await caches.open(name);
    out.set(name, new Set((await cache.keys()).map((r) => r.url)));
  }
  return out;
}

async function responseBytes(cache: CacheLike, url: string): Promise<number> {
  const res = await cache.match(url);
  if (!res) return 0;
  const n = Number(res.headers.get('content-length'));
  return n > 0 ? n : (await res.arrayBuffer()).byteLength;
}

/** What is stored under one base URL: bytes, and the shards tensor-cache.json lists. */
interface FilesUnder {
  bytes: number;
  /** null until a tensor-cache.json is stored. */
  shardsTotal: number | null;
  /** Shards in web-llm's cache. */
  shardsCached: number;
  /** Shards in either cache. */
  shardsStored: number;
  /** The shard list came from web-llm's tensor-cache.json (not one the lab engine stored). */
  webllmList: boolean;
  /** Why the stored tensor-cache.json could not be read (null when it could, or none is stored). */
  problem: string | null;
}

async function filesUnder(base: string, label: string, caches: CacheStorageWithKeys, stored: Map<string, Set<string>>): Promise<FilesUnder> {
  const model = stored.get(WEBLLM_MODEL_CACHE)!;
  const lab = stored.get(LAB_MODEL_CACHE)!;
  let shardsTotal: number | null = null;
  let shardsCached = 0;
  let shardsStored = 0;
  let bytes = 0;
  const counted = new Set<string>();
  // The shard list: web-llm's tensor-cache.json, else one the lab engine stored.
  const listName = model.has(base + 'tensor-cache.json') ? WEBLLM_MODEL_CACHE : lab.has(base + 'tensor-cache.json') ? LAB_MODEL_CACHE : null;
  let problem: string | null = null;
  if (listName) {
    let shards: TensorCacheShard[] = [];
    try {
      const res = await (await caches.open(listName)).match(base + 'tensor-cache.json');
      shards = res ? parseTensorCache(await res.json(), `${label}: tensor-cache.json`).records : [];
      shardsTotal = shards.length;
    } catch (e) {
      // One broken model must not hide the others: the row says what is wrong with it.
      problem = e instanceof LabError ? e.message : `${label}: the stored tensor-cache.json cannot be read (${(e as Error).message}). Delete the model and download it again.`;
    }
    for (const s of shards) {
      const url = base + s.dataPath;
      const inModel = model.has(url);
      if (inModel) shardsCached++;
      if (inModel || lab.has(url)) {
        shardsStored++;
        bytes += s.nbytes;
        counted.add(url);
      }
    }
  }
  for (const name of FILE_CACHES) {
    const cache = await caches.open(name);
    for (const url of stored.get(name)!) {
      if (!url.startsWith(base) || counted.has(url)) continue;
      counted.add(url);
      bytes += await responseBytes(cache, url);
    }
  }
  return { bytes, shardsTotal, shardsCached, shardsStored, webllmList: listName === WEBLLM_MODEL_CACHE, problem };
}

async function stateOf(entry: CatalogEntry, catalog: readonly CatalogEntry[], caches: CacheStorageWithKeys, stored: Map<string, Set<string>>): Promise<ModelCacheState> {
  const base = entry.baseUrl;
  const lab = stored.get(LAB_MODEL_CACHE)!;
  const has = (name: string, file: string) => stored.get(name)!.has(base + file);
  const f = await filesUnder(base, entry.modelId, caches, stored);
  const webllmComplete = f.shardsTotal !== null && f.webllmList && f.shardsCached === f.shardsTotal;
  const labFiles = [...lab].filter((u) => u.startsWith(base)).length;
  const tokenizerCached = has(WEBLLM_MODEL_CACHE, 'tokenizer.json') || has(LAB_MODEL_CACHE, 'tokenizer.json');
  const configCached = has(WEBLLM_CONFIG_CACHE, 'mlc-chat-config.json') || has(LAB_MODEL_CACHE, 'mlc-chat-config.json');
  const allShards = f.shardsTotal !== null && f.shardsStored === f.shardsTotal;
  return {
    modelId: entry.modelId,
    webllmComplete,
    shardsCached: f.shardsCached,
    shardsTotal: f.shardsTotal,
    configCached,
    tokenizerCached,
    wasmCached: stored.get(WEBLLM_WASM_CACHE)!.has(entry.modelLib),
    labFiles,
    labReady: entry.lab.loadable && allShards && tokenizerCached && configCached && has(LAB_MODEL_CACHE, 'tokenizer_config.json'),
    bytes: f.bytes,
    sharedWith: catalog.filter((e) => e.baseUrl === base && e.modelId !== entry.modelId).map((e) => e.modelId),
    problem: f.problem,
  };
}

/** What is stored for one model. */
export async function modelCacheState(entry: CatalogEntry, catalog: readonly CatalogEntry[] = [], caches: CacheStorageWithKeys = defaultCaches()): Promise<ModelCacheState> {
  return stateOf(entry, catalog, caches, await storedUrls(caches));
}

/** Every catalog model with at least one file stored (one row per model id; variants share files). */
export async function listCachedModels(catalog: readonly CatalogEntry[], caches: CacheStorageWithKeys = defaultCaches()): Promise<ModelCacheState[]> {
  const stored = await storedUrls(caches);
  const present = catalog.filter((e) => FILE_CACHES.some((name) => [...stored.get(name)!].some((u) => u.startsWith(e.baseUrl))));
  const out: ModelCacheState[] = [];
  for (const e of present) out.push(await stateOf(e, catalog, caches, stored));
  return out;
}

/**
 * Deletes a model's files from web-llm's caches and the lab's, and its .wasm unless another
 * cached model uses the same library. Models sharing the files (its -1k variant) go with it.
 */
export async function deleteCachedModel(entry: CatalogEntry, catalog: readonly CatalogEntry[] = [], caches: CacheStorageWithKeys = defaultCaches()): Promise<{ files: number; models: string[] }> {
  const stored = await storedUrls(caches);
  let files = 0;
  for (const name of FILE_CACHES) {
    const cache = await caches.open(name);
    for (const url of stored.get(name)!) {
      if (url.startsWith(entry.baseUrl) && (await cache.delete(url))) files++;
    }
  }
  const models = catalog.filter((e) => e.baseUrl === entry.baseUrl).map((e) => e.modelId);
  if (!models.includes(entry.modelId)) models.unshift(entry.modelId);
  const stillCached = (e: CatalogEntry) => e.baseUrl !== entry.baseUrl && [...stored.get(WEBLLM_MODEL_CACHE)!].some((u) => u.startsWith(e.baseUrl));
  if (!catalog.some((e) => e.modelLib === entry.modelLib && stillCached(e))) {
    if (await (await caches.open(WEBLLM_WASM_CACHE)).delete(entry.modelLib)) files++;
  }
  return { files, models };
}

/** The files stored under one model URL, whichever engine stored them: a row of the Models panel. */
export interface StoredModel {
  /** The URL the files are keyed under (…/resolve/<revision>/). */
  baseUrl: string;
  /** Hugging Face repository (null for other hosts). */
  repo: string | null;
  revision: string;
  /** Files in web-llm's caches (config and model; the .wasm is not counted). */
  webllmFiles: number;
  /** Files in the lab engine's cache. */
  labFiles: number;
  /** ONNX weight variants stored for transformers.js (fp32, q4, …), in any cache; empty for other models. */
  onnxDtypes: string[];
  bytes: number;
  /** Shards tensor-cache.json lists (null: none stored), and how many are stored in either cache. */
  shardsTotal: number | null;
  shardsStored: number;
  /** web-llm's model ids that use these files (empty without the catalog, or for models web-llm does not list). */
  modelIds: string[];
  /** web-llm's view of the first of them (null where modelIds is empty). */
  webllm: ModelCacheState | null;
  /** Why these files cannot be used (a broken tensor-cache.json), or null: the panel shows it on this row. */
  problem: string | null;
}

/** "https://huggingface.co/o/n/resolve/main/x/y.bin" → "https://huggingface.co/o/n/resolve/main/". */
function baseOf(url: string): string | null {
  return /^(https?:\/\/[^?#]+?\/resolve\/[^/]+\/)/.exec(url)?.[1] ?? null;
}

/**
 * Every model with files in any engine's cache — web-llm's downloads, the lab engine's (hub
 * checkpoints included) and transformers.js's ONNX models — one row per set of files, largest
 * first. With web-llm's catalog the rows also name the web-llm models that use the files and
 * whether web-llm has all of them.
 */
export async function listStoredModels(catalog: readonly CatalogEntry[] | null, caches: CacheStorageWithKeys = defaultCaches()): Promise<StoredModel[]> {
  const stored = await storedUrls(caches);
  const bases = new Set<string>();
  for (const name of FILE_CACHES) for (const url of stored.get(name)!) {
    const b = baseOf(url);
    if (b) bases.add(b);
  }
  const out: StoredModel[] = [];
  for (const base of bases) {
    const urls = (name: string) => [...stored.get(name)!].filter((u) => u.startsWith(base)).length;
    const entries = (catalog ?? []).filter((e) => e.baseUrl === base);
    const hub = hubRepoOf(base);
    const f = await filesUnder(base, hub?.repo ?? base, caches, stored);
    out.push({
      baseUrl: base,
      repo: hub?.repo ?? null,
      revision: hub?.revision ?? '',
      webllmFiles: urls(WEBLLM_MODEL_CACHE) + urls(WEBLLM_CONFIG_CACHE),
      labFiles: urls(LAB_MODEL_CACHE),
      onnxDtypes: onnxDtypesUnder(base, stored),
      bytes: f.bytes,
      shardsTotal: f.shardsTotal,
      shardsStored: f.shardsStored,
      modelIds: entries.map((e) => e.modelId),
      webllm: entries.length ? await stateOf(entries[0], catalog ?? [], caches, stored) : null,
      problem: f.problem,
    });
  }
  return out.sort((a, b) => b.bytes - a.bytes || a.baseUrl.localeCompare(b.baseUrl));
}

/** The ONNX weight variants stored under a model URL (in any cache), by file name, in the order found. */
function onnxDtypesUnder(base: string, stored: Map<string, Set<string>>): string[] {
  const dtypes = new Set<string>();
  for (const name of FILE_CACHES) for (const u of stored.get(name)!) {
    const d = u.startsWith(base + 'onnx/') ? dtypeOfOnnxFile(u.slice(base.length)) : null;
    if (d) dtypes.add(d);
  }
  return [...dtypes];
}

/**
 * Deletes every file stored under a model URL from every engine's cache; for one of web-llm's
 * models (known from the catalog) also its .wasm where no other cached model uses it.
 */
export async function deleteStoredModel(baseUrl: string, catalog: readonly CatalogEntry[] | null, caches: CacheStorageWithKeys = defaultCaches()): Promise<{ files: number; models: string[] }> {
  const entry = catalog?.find((e) => e.baseUrl === baseUrl);
  if (entry) return deleteCachedModel(entry, catalog!, caches);
  let files = 0;
  for (const name of FILE_CACHES) {
    const cache = await caches.open(name);
    for (const r of await cache.keys()) if (r.url.startsWith(baseUrl) && (await cache.delete(r.url))) files++;
  }
  return { files, models: [] };
}

export interface ModelDetails {
  /** Exact bytes of weights to download (the shards tensor-cache.json lists). */
  weightBytes: number;
  shards: number;
  /** The lab engine's support, confirmed from mlc-chat-config.json. */
  lab: LabSupport;
  /** Whether web-llm can serve the verdict read-out for it (webllm-readout.ts), from mlc-chat-config.json. */
  readout: { ok: boolean; reason: string };
}

export interface FetchOptions {
  caches?: CacheStorageWithKeys | null;
  fetch?: typeof fetch;
  /** Hub endpoint (tests). */
  endpoint?: string;
}

const details = new Map<string, Promise<ModelDetails>>();

function sourceOf(entry: CatalogEntry, opts: FetchOptions) {
  if (!entry.repo) throw new LabError('unsupported', `${entry.modelId} is not hosted on huggingface.co; its files cannot be inspected before web-llm loads it.`);
  return hubSource(entry.repo, { revision: entry.revision, caches: opts.caches === undefined ? defaultCaches() : opts.caches, fetch: opts.fetch, endpoint: opts.endpoint });
}

const PARSED_VERDICTS = 'Set "Verdict from" to parsed for a refiner on this model.';

/** The read-out rebuilds web-llm's prompt from conv_template and reads labels with tokenizer.json. */
function readoutSupport(chatConfig: unknown): ModelDetails['readout'] {
  const c = (chatConfig ?? {}) as { conv_template?: unknown; tokenizer_files?: unknown };
  if (!c.conv_template || typeof c.conv_template !== 'object') {
    return { ok: false, reason: `Its mlc-chat-config.json names its conversation template instead of spelling it out, so the verdict read-out cannot rebuild web-llm's prompt. ${PARSED_VERDICTS}` };
  }
  if (Array.isArray(c.tokenizer_files) && c.tokenizer_files.length && !c.tokenizer_files.includes('tokenizer.json')) {
    return { ok: false, reason: `It ships no tokenizer.json, which the verdict read-out needs to find the label tokens. ${PARSED_VERDICTS}` };
  }
  return { ok: true, reason: 'The verdict read-out works with it (P(Yes) vs P(No) through web-llm\'s log-probabilities).' };
}

/**
 * The exact download size, confirmed lab support and read-out support, from the model's two
 * small files (tensor-cache.json and mlc-chat-config.json, a few kB to a few hundred kB). Read
 * from any cache first; fetched once otherwise and kept in the lab's cache; remembered per model.
 */
export function modelDetails(entry: CatalogEntry, opts: FetchOptions = {}): Promise<ModelDetails> {
  const key = entry.baseUrl;
  let p = details.get(key);
  if (!p) {
    p = (async () => {
      const src = sourceOf(entry, opts);
      const cache = parseTensorCache(await readJson(src, 'tensor-cache.json'), `${entry.modelId}: tensor-cache.json`);
      const json = await readJson(src, MLC_CHAT_CONFIG);
      let lab = entry.lab;
      if (lab.loadable) {
        try {
          const cfg = parseMlcChatConfig(json, `${entry.modelId}: ${MLC_CHAT_CONFIG}`);
          if (cfg.tokenizerFiles.length && !cfg.tokenizerFiles.includes('tokenizer.json')) {
            lab = { loadable: false, reason: 'It ships only a sentencepiece tokenizer.model; the lab engine needs tokenizer.json. web-llm only.' };
          }
        } catch (e) {
          if (!(e instanceof LabError) || (e.kind !== 'unsupported' && e.kind !== 'invalid-input')) throw e;
          lab = { loadable: false, reason: `${e.message} web-llm only.` };
        }
      }
      return { weightBytes: cache.records.reduce((a, s) => a + s.nbytes, 0), shards: cache.records.length, lab, readout: readoutSupport(json) };
    })();
    p.catch(() => details.delete(key)); // a failed fetch is retried next time
    details.set(key, p);
  }
  return p;
}

/**
 * Stores what the lab engine needs beyond web-llm's files (tokenizer_config.json: the chat
 * template) in the lab's cache, so the lab engine can load the model offline later. Call it
 * right after web-llm downloaded a model. Returns false where the catalog says the lab engine
 * cannot load the model anyway.
 */
export async function fetchLabExtras(entry: CatalogEntry, opts: FetchOptions = {}): Promise<boolean> {
  if (!entry.lab.loadable) return false;
  const src = sourceOf(entry, opts);
  if (!(await src.isCached('tokenizer_config.json'))) await src.read('tokenizer_config.json');
  return true;
}
