/**
 * Model files from the Hugging Face hub (https://huggingface.co/<repo>/resolve/<revision>/<file>),
 * kept in the browser's Cache Storage so a model downloaded once loads offline afterwards.
 *
 * Files web-llm already downloaded are read from its caches too: web-llm (default
 * cacheBackend "cache") stores every file of an MLC model with the Cache API under its full
 * hub URL — shards, tensor-cache.json and tokenizer files in the cache named "webllm/model",
 * mlc-chat-config.json in "webllm/config" — and those URLs are exactly hubFileUrl's. So both
 * engines share one download of the same MLC weights. (web-llm's optional IndexedDB backend
 * keeps files in the database "webllm/model", store "urls", records { url, data }; not read.)
 *
 * fetch and the cache storage are injectable, so tests run without the network.
 */
import { LabError } from '../../errors';
import type { FileSource } from './files';
import { rangeBytes, rangeRequest, readBody, sizeFromHead } from './http-body';

export const HUB_ENDPOINT = 'https://huggingface.co';
/** Our own cache of model files (Cache Storage name). */
export const LAB_MODEL_CACHE = 'spar-lab/models';
/** web-llm's caches, read (never written) so its downloads serve us too. */
export const WEBLLM_CACHES = ['webllm/model', 'webllm/config'] as const;

/** The parts of the Cache API this module uses (window.caches / self.caches fit). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
}
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
}

const REPO = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function hubFileUrl(repo: string, file: string, revision = 'main', endpoint = HUB_ENDPOINT): string {
  if (!REPO.test(repo)) throw new LabError('invalid-input', `"${repo}" is not a Hugging Face repository name; write it as owner/name, e.g. mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC.`);
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

export interface HubSourceOptions {
  revision?: string;
  /** Default https://huggingface.co (tests point it at 127.0.0.1). */
  endpoint?: string;
  fetch?: typeof fetch;
  /** Cache Storage; default the global `caches` where there is one, none in Node. null: no caching. */
  caches?: CacheStorageLike | null;
  /** Read files web-llm cached (default true). */
  useWebLlmCache?: boolean;
  signal?: AbortSignal;
  /** A file could not be stored for offline use (storage full); loading goes on. */
  onCacheError?: (error: LabError) => void;
}

export interface HubSource extends FileSource {
  readonly repo: string;
  /** Whether a file is already in one of the caches (no network). */
  isCached(path: string): Promise<boolean>;
  /** Removes this repository's files from our cache (web-llm's cache is left alone). */
  evict(paths: string[]): Promise<void>;
  /**
   * The error of the last request that could not reach the hub at all (offline, DNS, refused),
   * null once one gets an answer. While it is set, exists() answers from the caches alone.
   */
  readonly unreachable: LabError | null;
}

function defaultCaches(): CacheStorageLike | null {
  const g = globalThis as { caches?: CacheStorageLike };
  return g.caches ?? null;
}

export function hubSource(repo: string, opts: HubSourceOptions = {}): HubSource {
  const revision = opts.revision ?? 'main';
  const endpoint = opts.endpoint ?? HUB_ENDPOINT;
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const storage = opts.caches === undefined ? defaultCaches() : opts.caches;
  const names = [LAB_MODEL_CACHE, ...(opts.useWebLlmCache === false ? [] : WEBLLM_CACHES)];
  const label = `hub ${repo}`;
  const url = (path: string) => hubFileUrl(repo, path, revision, endpoint);
  const known = new Map<string, boolean>();
  const host = new URL(endpoint).host;
  let unreachable: LabError | null = null;

  const cached = async (path: string): Promise<Response | undefined> => {
    if (!storage) return undefined;
    for (const name of names) {
      const hit = await (await storage.open(name)).match(url(path));
      if (hit) return hit;
    }
    return undefined;
  };

  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(url(path), { ...init, signal: opts.signal });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw new LabError('cancelled', 'Download cancelled.');
      // No answer at all: nothing was downloaded, so say that the hub is out of reach, not that a download broke off.
      const verb = init.method === 'HEAD' ? 'look up' : 'download';
      unreachable = new LabError(
        'network',
        `Could not ${verb} ${path} of ${repo}: this browser is offline or ${host} cannot be reached (${(e as Error).message}). ` +
          `${path} is not in this browser's cache yet. Check the connection and try again; files already downloaded stay cached.`,
        { cause: e },
      );
      throw unreachable;
    }
    unreachable = null;
    if (res.ok || res.status === 206) return res;
    if (res.status === 404) throw new LabError('not-found', `${label} has no file "${path}" (check the repository name and that it is an MLC or safetensors model).`);
    if (res.status === 401 || res.status === 403) {
      throw new LabError('network', `${label} refused "${path}" (HTTP ${res.status}): the repository is gated or private. SPaR Lab downloads public models only; download it yourself and open the folder instead.`);
    }
    throw new LabError('network', `Downloading ${path} from ${label} failed with HTTP ${res.status}. Try again later.`);
  };

  return {
    repo,
    label,
    get unreachable() {
      return unreachable;
    },
    async isCached(path) {
      return (await cached(path)) !== undefined;
    },
    async exists(path) {
      if (known.has(path)) return known.get(path)!;
      if (await cached(path)) return true;
      try {
        await request(path, { method: 'HEAD' });
        known.set(path, true);
      } catch (e) {
        // Offline, only cached files can be used: an uncached one counts as absent (not remembered),
        // and a load that needs it is told why by offlineError.
        if (e === unreachable) return false;
        if (!(e instanceof LabError) || e.kind !== 'not-found') throw e;
        known.set(path, false);
      }
      return known.get(path)!;
    },
    async read(path, onProgress) {
      const hit = await cached(path);
      if (hit) {
        const bytes = new Uint8Array(await hit.arrayBuffer());
        onProgress?.(path, bytes.byteLength, bytes.byteLength);
        return bytes;
      }
      const bytes = await readBody(path, await request(path), label, opts.signal, onProgress);
      known.set(path, true);
      if (storage) {
        try {
          const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) };
          await (await storage.open(LAB_MODEL_CACHE)).put(url(path), new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
        } catch (e) {
          opts.onCacheError?.(
            new LabError('quota', `${path} could not be stored for offline use (${(e as Error).message}); free browser storage to keep models offline.`, { cause: e }),
          );
        }
      }
      return bytes;
    },
    async size(path) {
      const hit = await cached(path);
      if (hit) {
        const n = Number(hit.headers.get('content-length'));
        return n > 0 ? n : (await hit.arrayBuffer()).byteLength;
      }
      return sizeFromHead(() => request(path, { method: 'HEAD' }));
    },
    async readRange(path, start, end) {
      const hit = await cached(path);
      if (hit) return new Uint8Array(await hit.arrayBuffer()).subarray(start, end);
      return rangeBytes(await request(path, rangeRequest(start, end)), start, end);
    },
    async evict(paths) {
      if (!storage) return;
      const cache = await storage.open(LAB_MODEL_CACHE);
      for (const p of paths) await cache.delete(url(p));
    },
  };
}

/**
 * A load that stopped at a missing file while the hub could not be reached: the file is most
 * likely just not cached yet. Returns the error to show: the loader's not-found (which names the
 * file needed) reworded to say the browser is offline; any other error (or source) as it is.
 */
export function offlineError(source: FileSource, e: unknown): unknown {
  const hub = source as Partial<HubSource>;
  const cause = hub.unreachable;
  if (!cause || !hub.repo || !(e instanceof LabError) || e.kind !== 'not-found') return e;
  const said = e.message.startsWith(`${source.label}: `) ? e.message.slice(source.label.length + 2) : e.message;
  const needed = said.split(/\.\s/)[0].replace(/\.$/, '');
  const reason = cause.cause instanceof Error ? cause.cause.message : cause.message;
  return new LabError(
    'network',
    `${hub.repo} is not fully in this browser's cache (${needed}), and the Hugging Face hub cannot be reached: this browser is offline or the network is unreachable (${reason}). ` +
      'Connect to the internet to download the model once; it loads offline after that.',
    { cause: e },
  );
}
