/**
 * web-llm in the lab worker: the connection to the web-llm worker (the page starts that worker
 * and hands the lab worker a port, see workers/webllm-link.ts), which models web-llm holds, and
 * role backends over them (createWebLlmBackend with the model's verdict read-out).
 *
 * web-llm's engine holds one set of models at a time, and a load replaces it; so the models all
 * roles need are loaded together in one call (a small actor and a larger refiner), and a later
 * request for models already held reuses them. Loads run one at a time. After a load, the extra
 * file the lab engine needs for a model it can load too (tokenizer_config.json) is fetched, so
 * the same cached weights later load in the lab engine offline: one download, two engines.
 */
import type { WebLlmConnection, WebLlmHello, WebLlmLoadProgress } from '../../workers/webllm-link';
import { createWebLlmBackend, type WebLlmEngine } from '../backends/webllm';
import { readoutLoaderFor } from '../backends/webllm-readout';
import type { ModelBackend } from '../backends/types';
import { LabError } from '../errors';
import { buildCatalog, type CatalogEntry } from '../models/catalog';
import { fetchLabExtras, type FetchOptions } from '../models/model-cache';

export type WebLlmConnectionLike = Pick<WebLlmConnection, 'hello' | 'load' | 'unload' | 'close'>;

export interface WebLlmStatus {
  /** The page has connected the web-llm worker. */
  attached: boolean;
  /** The model ids web-llm holds now (null: none). */
  loaded: string[] | null;
}

export interface WebLlmHostOptions {
  /** Hub access for the read-out's files and the lab engine's extra file (tests: a fake fetch). */
  hub?: FetchOptions;
  /** Every progress report of a load, whoever asked for it. */
  onProgress?: (modelIds: string[], p: WebLlmLoadProgress) => void;
  /** What web-llm holds changed (a load finished or failed, an unload). */
  onStatus?: (s: WebLlmStatus) => void;
  /** Something worth telling the user that did not stop the work. */
  onWarning?: (message: string) => void;
}

export interface WebLlmLoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total?: number }) => void;
}

const NOT_ATTACHED =
  'web-llm is not running in this tab yet. Choose a web-llm model in Setup (or open the Models panel) to start it, then try again.';

export class WebLlmHost {
  private conn: WebLlmConnectionLike | null = null;
  private helloOnce: Promise<WebLlmHello> | null = null;
  private catalogOnce: Promise<CatalogEntry[]> | null = null;
  private engine: WebLlmEngine | null = null;
  private loaded: string[] | null = null;
  /** One backend per model id, shared by the roles (one request at a time per model). */
  private readonly backends = new Map<string, ModelBackend>();
  private queue: Promise<unknown> = Promise.resolve();
  private loads = 0;

  constructor(private readonly opts: WebLlmHostOptions = {}) {}

  /** Uses this connection from now on (a previous one is closed). */
  attach(conn: WebLlmConnectionLike): void {
    this.conn?.close();
    this.conn = conn;
    this.helloOnce = this.catalogOnce = null;
    this.engine = null;
    this.loaded = null;
    this.backends.clear();
  }

  /** A load (perhaps a download) is running or waiting. */
  get loading(): boolean {
    return this.loads > 0;
  }

  status(): WebLlmStatus {
    return { attached: this.conn !== null, loaded: this.loaded && [...this.loaded] };
  }

  /** web-llm's model list as the picker's catalog (asked once per connection). */
  catalog(): Promise<CatalogEntry[]> {
    this.catalogOnce ??= this.hello().then((h) => buildCatalog(h.modelList));
    return this.catalogOnce;
  }

  /** The catalog where web-llm is attached, else null (nothing is started for it). */
  async catalogIfAttached(): Promise<CatalogEntry[] | null> {
    return this.conn ? this.catalog() : null;
  }

  async entry(modelId: string): Promise<CatalogEntry> {
    const e = (await this.catalog()).find((x) => x.modelId === modelId);
    if (!e) throw new LabError('not-found', `web-llm does not list the model "${modelId}". Pick one from the model list.`);
    return e;
  }

  /**
   * The engine with these models loaded: reused when web-llm holds them already, else loaded
   * (downloading what is not cached, with progress). A load replaces what web-llm held before.
   */
  load(modelIds: string[], o: WebLlmLoadOptions = {}): Promise<WebLlmEngine> {
    const ids = [...new Set(modelIds)];
    this.loads++;
    const run = this.queue.then(() => this.doLoad(ids, o)).finally(() => this.loads--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Frees web-llm's GPU memory. */
  async unload(): Promise<void> {
    if (!this.conn) return;
    await this.conn.unload();
    this.engine = null;
    this.loaded = null;
    this.backends.clear();
    this.opts.onStatus?.(this.status());
  }

  /** The backend serving one role with a web-llm model (loaded first where needed). */
  async backend(modelId: string, role: string, o: WebLlmLoadOptions = {}): Promise<ModelBackend> {
    const engine = await this.load([modelId], o);
    let shared = this.backends.get(modelId);
    if (!shared) {
      const record = (await this.hello()).modelList.find((r) => r.model_id === modelId);
      shared = createWebLlmBackend({ engine, modelId, readout: record ? readoutLoaderFor(record as Parameters<typeof readoutLoaderFor>[0], this.opts.hub) : undefined });
      this.backends.set(modelId, shared);
    }
    // The same calls (and request queue) under the role's own label.
    return { ...shared, info: { ...shared.info, label: `web-llm · ${modelId} · ${role}` } };
  }

  private hello(): Promise<WebLlmHello> {
    if (!this.conn) return Promise.reject(new LabError('unsupported', NOT_ATTACHED));
    this.helloOnce ??= this.conn.hello().catch((e) => {
      this.helloOnce = null;
      throw e;
    });
    return this.helloOnce;
  }

  private async doLoad(ids: string[], o: WebLlmLoadOptions): Promise<WebLlmEngine> {
    const conn = this.conn;
    if (!conn) throw new LabError('unsupported', NOT_ATTACHED);
    if (ids.length === 0) throw new LabError('invalid-input', 'Name at least one web-llm model to load.');
    // Ask the worker what it holds (a lost device, or a crash, leaves nothing).
    const { loaded } = await conn.hello();
    if (loaded && ids.every((id) => loaded.includes(id))) {
      if (!this.engine || !sameIds(this.loaded, loaded)) this.engine = await conn.load(loaded, { signal: o.signal }); // attaches, no download
      this.loaded = loaded;
      return this.engine;
    }
    this.engine = null;
    this.loaded = null;
    this.backends.clear();
    const what = ids.join(' + ');
    o.onProgress?.({ label: `web-llm: starting ${what}`, done: 0 });
    try {
      this.engine = await conn.load(ids, {
        signal: o.signal,
        onProgress: (p) => {
          o.onProgress?.({ label: `web-llm: ${p.text}`, done: Math.round(p.fraction * 1000), total: 1000 });
          this.opts.onProgress?.(ids, p);
        },
      });
      this.loaded = [...ids];
    } finally {
      this.opts.onStatus?.(this.status());
    }
    await this.storeLabExtras(ids);
    return this.engine;
  }

  /** After web-llm's download: the lab engine's extra file for each model it can load too. */
  private async storeLabExtras(ids: string[]): Promise<void> {
    for (const id of ids) {
      const entry = (await this.catalog()).find((e) => e.modelId === id);
      if (!entry?.lab.loadable) continue;
      try {
        await fetchLabExtras(entry, this.opts.hub);
      } catch (e) {
        this.opts.onWarning?.(`web-llm loaded ${id}, but its chat template (tokenizer_config.json) could not be stored for the lab engine (${e instanceof Error ? e.message : String(e)}). The lab engine fetches it when it first loads this model.`);
      }
    }
  }
}

function sameIds(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}
