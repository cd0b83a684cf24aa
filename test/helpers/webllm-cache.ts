/**
 * Model files stored in Cache Storage exactly as web-llm 0.2.86's reload stores a download:
 * Cache.add's 200 responses keyed by the file's full URL under the model's base URL
 * (…/resolve/main/): mlc-chat-config.json in "webllm/config"; tensor-cache.json, the shards and
 * tokenizer.json in "webllm/model"; the model library in "webllm/wasm" under its own URL.
 *
 * Self-contained (it uses only browser globals), so end-to-end tests can run it in the page
 * with page.evaluate; there, files travel as base64 strings.
 */
export interface WebLlmStoreRequest {
  /** The model record's `model` URL, e.g. https://huggingface.co/mlc-ai/X-MLC. */
  model: string;
  /** The record's `model_lib` URL (a 4-byte stand-in .wasm is stored). */
  modelLib: string;
  files: Record<string, Uint8Array | string>;
  /** Leave these shards out (a download that broke off). */
  skipShards?: number[];
}

export async function storeLikeWebLlm(req: WebLlmStoreRequest): Promise<void> {
  const bytesOf = (v: Uint8Array | string) => (typeof v === 'string' ? Uint8Array.from(atob(v), (c) => c.charCodeAt(0)) : v);
  // A response as Cache.add stores a hub download: status 200, the body, the server's headers;
  // every other one without Content-Length, as a streamed (chunked / redirected CDN) body arrives.
  const hubResponse = (bytes: Uint8Array, withLength: boolean) => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', etag: '"x"' };
    if (withLength) headers['content-length'] = String(bytes.byteLength);
    const body = withLength ? bytes.slice() : new Blob([bytes.slice()]).stream();
    return new Response(body, { status: 200, statusText: 'OK', headers });
  };
  const base = `${req.model.replace(/\/$/, '')}/resolve/main/`;
  const put = async (cache: string, name: string, i: number) => (await caches.open(cache)).put(new Request(new URL(name, base).href), hubResponse(bytesOf(req.files[name]), i % 2 === 0));
  await put('webllm/config', 'mlc-chat-config.json', 0);
  await put('webllm/model', 'tokenizer.json', 1);
  await put('webllm/model', 'tensor-cache.json', 0);
  const shards = Object.keys(req.files).filter((f) => /^params_shard_\d+\.bin$/.test(f));
  for (const [i, s] of shards.entries()) if (!req.skipShards?.includes(Number(/\d+/.exec(s)![0]))) await put('webllm/model', s, i);
  await (await caches.open('webllm/wasm')).put(new Request(req.modelLib), new Response(new Uint8Array([0, 97, 115, 109])));
}
