/**
 * transformers.js in the lab worker: the connection to the transformers.js worker (the page starts
 * that worker and hands the lab worker a port, see workers/transformers-link.ts), which models it
 * holds, and role backends over them. Unlike web-llm, the worker holds any number of models at
 * once, each loaded once per source, device and dtype and shared by the roles that use it.
 *
 * Models from the hub and those shipped with the app load when a role first needs them; a picked
 * folder must have been opened (loaded with its files) first, as for the lab engine.
 */
import type { TransformersConnection, TransformersHello, TransformersLoadProgress, TransformersLoadSpec, TransformersModelInfo } from '../../workers/transformers-link';
import { describeSpec, specSource, transformersKey } from '../../workers/transformers-messages';
import type { ModelBackend } from '../backends/types';
import { LabError } from '../errors';
import type { TransformersBinding } from './run-config';

export type TransformersConnectionLike = Pick<TransformersConnection, 'hello' | 'load' | 'unload' | 'backend' | 'close'>;

export interface TransformersStatus {
  /** The page has connected the transformers.js worker. */
  attached: boolean;
  /** What the worker runs on (WebGPU present, cross-origin isolation, wasm threads); null until attached. */
  runtime: Omit<TransformersHello, 'loaded'> | null;
  /** The models the worker holds. */
  loaded: TransformersModelInfo[];
}

export interface TransformersHostOptions {
  /** Every progress report of a load, whoever asked for it. */
  onProgress?: (key: string, p: TransformersLoadProgress) => void;
  /** What the worker holds changed (a load finished or failed, an unload). */
  onStatus?: (s: TransformersStatus) => void;
}

export interface TransformersLoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total?: number }) => void;
}

const NOT_ATTACHED =
  'transformers.js is not running in this tab yet. Choose a transformers.js model in Setup (or open the Models panel) to start it, then try again.';

/** What a load is doing, for a progress bar. */
function progressLabel(spec: TransformersLoadSpec, file: string): string {
  const how = spec.source.type === 'hub' ? 'downloading (or reading from the browser cache)' : spec.source.type === 'bundled' ? 'reading the files shipped with the app:' : 'reading';
  return `transformers.js: ${how} ${file}`;
}

export class TransformersHost {
  private conn: TransformersConnectionLike | null = null;
  private runtime: TransformersStatus['runtime'] = null;
  private readonly loaded = new Map<string, TransformersModelInfo>();
  private loads = 0;

  constructor(private readonly opts: TransformersHostOptions = {}) {}

  /** Uses this connection from now on (a previous one is closed); answers with the status. */
  async attach(conn: TransformersConnectionLike): Promise<TransformersStatus> {
    this.conn?.close();
    this.conn = conn;
    this.loaded.clear();
    const { loaded, ...runtime } = await conn.hello();
    this.runtime = runtime;
    for (const m of loaded) this.loaded.set(m.key, m);
    return this.status();
  }

  /** A load (perhaps a download) is running. */
  get loading(): boolean {
    return this.loads > 0;
  }

  status(): TransformersStatus {
    return { attached: this.conn !== null, runtime: this.runtime, loaded: [...this.loaded.values()] };
  }

  /** Loads a model into the worker (a hub model downloads what is not cached, with progress). */
  async load(spec: TransformersLoadSpec, o: TransformersLoadOptions = {}): Promise<TransformersModelInfo> {
    const conn = this.connection();
    const key = transformersKey({ model: specSource(spec), device: spec.device, dtype: spec.dtype });
    this.loads++;
    try {
      o.onProgress?.({ label: `Loading ${describeSpec(spec)}`, done: 0 });
      const info = await conn.load(spec, {
        signal: o.signal,
        onProgress: (p) => {
          o.onProgress?.({ label: progressLabel(spec, p.file), done: p.loaded, total: p.total ?? undefined });
          this.opts.onProgress?.(key, p);
        },
      });
      this.loaded.set(info.key, info);
      return info;
    } finally {
      this.loads--;
      this.opts.onStatus?.(this.status());
    }
  }

  async unload(key: string): Promise<void> {
    await this.connection().unload(key);
    this.loaded.delete(key);
    this.opts.onStatus?.(this.status());
  }

  /** The backend serving one role with a transformers.js model (loaded first where it can be). */
  async backend(b: TransformersBinding, role: string, o: TransformersLoadOptions = {}): Promise<ModelBackend> {
    const conn = this.connection();
    let info = this.loaded.get(transformersKey(b));
    if (!info) {
      if (b.model.type === 'files') {
        throw new LabError('not-found', `The model folder “${b.model.label}” is not open in transformers.js (local files cannot be reopened after a reload). Open the folder again in Setup.`);
      }
      info = await this.load({ source: b.model, device: b.device, dtype: b.dtype }, o);
    }
    return conn.backend(info, `${info.label} · ${role}`);
  }

  private connection(): TransformersConnectionLike {
    if (!this.conn) throw new LabError('unsupported', NOT_ATTACHED);
    return this.conn;
  }
}
