/**
 * The browser's copies of model files, for both engines.
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
 * Here: which models are cached (web-llm's own test — tensor-cache.json and all its shards —
 * plus ours), how many bytes they take, deleting a model from every cache, and the exact
 * download size from a lazily fetched tensor-cache.json.
 */
import { LabError } from '../errors';
import { LAB_MODEL_CACHE, hubSource, type CacheLike, type CacheStorageLike } from '../engine/load/fetch';
import { readJson } from '../engine/load/files';
import { MLC_CHAT_CONFIG, parseMlcChatConfig, parseTensorCache } from '../engine/load/mlc';
import type { CatalogEntry, LabSupport } from './catalog';

export const WEBLLM_MODEL_CACHE = 'webllm/model';
export const WEBLLM_CONFIG_CACHE = 'webllm/config';
export const WEBLLM_WASM_CACHE = 'webllm/wasm';
const FILE_CACHES = [WEBLLM_MODEL_CACHE, WEBLLM_CONFIG_CACHE, LAB_MODEL_CACHE] as const;

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

async function stateOf(entry: CatalogEntry, catalog: readonly CatalogEntry[], caches: CacheStorageWithKeys, stored: Map<string, Set<string>>): Promise<ModelCacheState> {
  const base = entry.baseUrl;
  const model = stored.get(WEBLLM_MODEL_CACHE)!;
  const lab = stored.get(LAB_MODEL_CACHE)!;
  const has = (name: string, file: string) => stored.get(name)!.has(base + file);
  let shardsTotal: number | null = null;
  let shardsCached = 0; // in web-llm's cache
  let shardsStored = 0; // in either cache
  let bytes = 0;
  const counted = new Set<string>();
  // The shard list: web-llm's tensor-cache.json, else one the lab engine stored.
  const listName = has(WEBLLM_MODEL_CACHE, 'tensor-cache.json') ? WEBLLM_MODEL_CACHE : has(LAB_MODEL_CACHE, 'tensor-cache.json') ? LAB_MODEL_CACHE : null;
  if (listName) {
    const res = await (await caches.open(listName)).match(base + 'tensor-cache.json');
    const shards = res ? parseTensorCache(await res.json(), `${entry.modelId}: tensor-cache.json`).records : [];
    shardsTotal = shards.length;
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
  const webllmComplete = shardsTotal !== null && listName === WEBLLM_MODEL_CACHE && shardsCached === shardsTotal;
  const labFiles = [...lab].filter((u) => u.startsWith(base)).length;
  const tokenizerCached = has(WEBLLM_MODEL_CACHE, 'tokenizer.json') || has(LAB_MODEL_CACHE, 'tokenizer.json');
  const configCached = has(WEBLLM_CONFIG_CACHE, 'mlc-chat-config.json') || has(LAB_MODEL_CACHE, 'mlc-chat-config.json');
  const allShards = shardsTotal !== null && shardsStored === shardsTotal;
  return {
    modelId: entry.modelId,
    webllmComplete,
    shardsCached,
    shardsTotal,
    configCached,
    tokenizerCached,
    wasmCached: stored.get(WEBLLM_WASM_CACHE)!.has(entry.modelLib),
    labFiles,
    labReady: entry.lab.loadable && allShards && tokenizerCached && configCached && has(LAB_MODEL_CACHE, 'tokenizer_config.json'),
    bytes,
    sharedWith: catalog.filter((e) => e.baseUrl === base && e.modelId !== entry.modelId).map((e) => e.modelId),
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

export interface ModelDetails {
  /** Exact bytes of weights to download (the shards tensor-cache.json lists). */
  weightBytes: number;
  shards: number;
  /** The lab engine's support, confirmed from mlc-chat-config.json. */
  lab: LabSupport;
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

/**
 * The exact download size and confirmed lab support, from the model's two small files
 * (tensor-cache.json and mlc-chat-config.json, a few kB to a few hundred kB). Read from any
 * cache first; fetched once otherwise and kept in the lab's cache; remembered per model.
 */
export function modelDetails(entry: CatalogEntry, opts: FetchOptions = {}): Promise<ModelDetails> {
  const key = entry.baseUrl;
  let p = details.get(key);
  if (!p) {
    p = (async () => {
      const src = sourceOf(entry, opts);
      const cache = parseTensorCache(await readJson(src, 'tensor-cache.json'), `${entry.modelId}: tensor-cache.json`);
      let lab = entry.lab;
      if (lab.loadable) {
        try {
          const json = await readJson(src, MLC_CHAT_CONFIG);
          const cfg = parseMlcChatConfig(json, `${entry.modelId}: ${MLC_CHAT_CONFIG}`);
          if (cfg.tokenizerFiles.length && !cfg.tokenizerFiles.includes('tokenizer.json')) {
            lab = { loadable: false, reason: 'It ships only a sentencepiece tokenizer.model; the lab engine needs tokenizer.json. web-llm only.' };
          }
        } catch (e) {
          if (!(e instanceof LabError) || (e.kind !== 'unsupported' && e.kind !== 'invalid-input')) throw e;
          lab = { loadable: false, reason: `${e.message} web-llm only.` };
        }
      }
      return { weightBytes: cache.records.reduce((a, s) => a + s.nbytes, 0), shards: cache.records.length, lab };
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
