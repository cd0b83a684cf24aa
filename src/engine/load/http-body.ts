/**
 * Reads an HTTP response's whole body, reporting bytes as they arrive, and refuses a body cut
 * short: the hub source and the URL source both read downloads this way.
 */
import { LabError } from '../../errors';
import type { ReadProgress } from './files';

/** `from` names where the file came from in messages ("hub owner/name"); a body that breaks off after an abort is a cancellation. */
export async function readBody(path: string, res: Response, from: string, signal?: AbortSignal, onProgress?: ReadProgress): Promise<Uint8Array> {
  const total = Number(res.headers.get('content-length')) || null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.(path, bytes.byteLength, total ?? bytes.byteLength);
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress?.(path, loaded, total);
    }
  } catch (e) {
    if (signal?.aborted) throw new LabError('cancelled', 'Download cancelled.');
    throw new LabError('network', `The download of ${path} from ${from} broke off after ${loaded} bytes: ${(e as Error).message}. Try again.`, { cause: e });
  }
  if (total !== null && loaded !== total) {
    throw new LabError('network', `The download of ${path} from ${from} stopped at ${loaded} of ${total} bytes. Try again.`);
  }
  const bytes = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  return bytes;
}

/** A file's size from a HEAD request's content-length: null when the file is missing (a not-found LabError) or the server does not say. */
export async function sizeFromHead(head: () => Promise<Response>): Promise<number | null> {
  const res = await head().catch((e) => {
    if (e instanceof LabError && e.kind === 'not-found') return null;
    throw e;
  });
  const n = Number(res?.headers.get('content-length'));
  return n > 0 ? n : null;
}

/**
 * The request for bytes [start, end) of a file. Never through the HTTP cache: a server may gzip the
 * whole file but not its ranges under one ETag (Vite's preview server does), and Chromium then
 * stitches cached plain ranges into the gzipped download, which arrives cut short.
 */
export function rangeRequest(start: number, end: number): RequestInit {
  return { headers: { Range: `bytes=${start}-${end - 1}` }, cache: 'no-store' };
}

/** Bytes [start, end) from a ranged GET's answer: a server that ignores Range sends the whole file. */
export async function rangeBytes(res: Response, start: number, end: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  return res.status === 206 ? bytes : bytes.subarray(start, end);
}
