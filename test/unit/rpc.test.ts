import { afterEach, describe, expect, it } from 'vitest';
import { LabError } from '../../src/errors';
import type { Handlers, Progress } from '../../workers/protocol';
import { LabClient, serve } from '../../workers/rpc';

// Both ends of the real protocol code, connected by a MessageChannel as the worker would be.
function connect(overrides: Partial<Handlers>) {
  const channel = new MessageChannel();
  const unimplemented = () => Promise.reject(new LabError('internal', 'not in this test'));
  const handlers = new Proxy(overrides, { get: (t, k) => (t as Record<string, unknown>)[k as string] ?? unimplemented });
  const server = serve(channel.port1 as never, handlers as Handlers);
  const client = new LabClient(channel.port2 as never);
  channel.port1.start();
  channel.port2.start();
  ports.push(channel.port1, channel.port2);
  return { client, server };
}
const ports: MessagePort[] = [];
afterEach(() => ports.splice(0).forEach((p) => p.close()));

describe('lab worker protocol', () => {
  it('returns a handler result under the request id', async () => {
    const { client } = connect({
      'runs.create': async ({ name }) => ({ id: 'r1', name, createdAt: 1, updatedAt: 1, status: 'new', config: {}, notes: '' }),
    });
    const [a, b] = await Promise.all([client.call('runs.create', { name: 'a' }), client.call('runs.create', { name: 'b' })]);
    expect(a.name).toBe('a');
    expect(b.name).toBe('b');
  });

  it('delivers progress before the result', async () => {
    const { client } = connect({
      'runs.delete': async (_p, { progress }) => {
        progress({ label: 'one', done: 1, total: 2 });
        progress({ label: 'two', done: 2, total: 2 });
        return null;
      },
    });
    const seen: Progress[] = [];
    await client.call('runs.delete', { runId: 'x' }, { onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.label)).toEqual(['one', 'two']);
  });

  it('rebuilds errors with their kind and message', async () => {
    const { client } = connect({
      'runs.delete': async () => {
        throw new LabError('not-found', 'No run with id x.');
      },
      'runs.list': async () => {
        throw new TypeError('boom');
      },
    });
    await expect(client.call('runs.delete', { runId: 'x' })).rejects.toMatchObject({ kind: 'not-found', message: 'No run with id x.' });
    await expect(client.call('runs.list', {})).rejects.toMatchObject({ kind: 'internal', message: 'TypeError: boom' });
  });

  it('cancels a request through its AbortSignal', async () => {
    let sawAbort = false;
    const { client } = connect({
      'runs.export': (_p, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('stopped'));
          });
        }),
    });
    const ac = new AbortController();
    const call = client.call('runs.export', { runId: 'x' }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await expect(call).rejects.toMatchObject({ kind: 'cancelled' });
    expect(sawAbort).toBe(true);
  });

  it('forwards worker events to listeners', async () => {
    const { client, server } = connect({});
    const got = new Promise((resolve) => client.onEvent(resolve));
    server.emit({ type: 'device-lost', message: 'GPU reset' });
    expect(await got).toEqual({ type: 'device-lost', message: 'GPU reset' });
  });

  it('transfers a MessagePort with the request (the web-llm port reaches the lab worker)', async () => {
    const link = new MessageChannel();
    ports.push(link.port1, link.port2);
    const { client } = connect({
      'webllm.attach': async ({ port }) => {
        const answer = new Promise<unknown>((resolve) => (port.onmessage = (ev) => resolve(ev.data)));
        port.postMessage('ping');
        return { attached: true, loaded: [String(await answer)], models: 0 };
      },
    });
    link.port1.onmessage = (ev) => link.port1.postMessage(`${ev.data} pong`);
    expect(await client.call('webllm.attach', { port: link.port2 }, { transfer: [link.port2] })).toEqual({ attached: true, loaded: ['ping pong'], models: 0 });
  });
});
