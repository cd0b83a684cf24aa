/**
 * Model files under a folder URL, read over plain HTTP: the models shipped with the app
 * (public/models/<name>/, served beside it at its base URL). Nothing is cached here: the files
 * come from wherever the app itself came from, so they are there whenever the app is.
 *
 * A missing file is a not-found LabError naming it, as the loaders expect. Static servers set up
 * for a single-page app (Vite's dev and preview servers among them) answer a missing path with
 * the app's index.html and status 200; such an answer counts as missing too.
 */
import { LabError } from '../../errors';
import type { FileSource } from './files';
import { rangeBytes, rangeRequest, readBody, sizeFromHead } from './http-body';

export interface UrlSourceOptions {
  /** Default: the global fetch (tests pass a fake). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** `baseUrl`: the folder's absolute URL; `label` names the source in messages ("SPaR-toy (shipped with the app)"). */
export function urlSource(baseUrl: string, label: string, opts: UrlSourceOptions = {}): FileSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const url = (path: string) => new URL(path.split('/').map(encodeURIComponent).join('/'), base).href;
  const known = new Map<string, boolean>();

  const missing = (path: string, why: string) => new LabError('not-found', `${label} has no file "${path}" (${url(path)} ${why}).`);

  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(url(path), { ...init, signal: opts.signal });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw new LabError('cancelled', 'Download cancelled.');
      throw new LabError('network', `Could not read ${path} of ${label} from ${url(path)} (${(e as Error).message}). Reload the page and try again.`, { cause: e });
    }
    if (res.status === 404 || res.status === 410) throw missing(path, `answered HTTP ${res.status}`);
    if (!res.ok && res.status !== 206) throw new LabError('network', `Reading ${path} of ${label} failed with HTTP ${res.status}. Try again later.`);
    if (!path.endsWith('.html') && /^text\/html\b/i.test(res.headers.get('content-type') ?? '')) throw missing(path, 'answered with a web page');
    return res;
  };

  return {
    label,
    async exists(path) {
      if (known.has(path)) return known.get(path)!;
      try {
        await request(path, { method: 'HEAD' });
        known.set(path, true);
      } catch (e) {
        if (!(e instanceof LabError) || e.kind !== 'not-found') throw e;
        known.set(path, false);
      }
      return known.get(path)!;
    },
    async read(path, onProgress) {
      const bytes = await readBody(path, await request(path), label, opts.signal, onProgress);
      known.set(path, true);
      return bytes;
    },
    async size(path) {
      return sizeFromHead(() => request(path, { method: 'HEAD' }));
    },
    async readRange(path, start, end) {
      return rangeBytes(await request(path, rangeRequest(start, end)), start, end);
    },
  };
}
