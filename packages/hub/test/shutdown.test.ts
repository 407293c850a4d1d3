import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HubConnectionState } from '@microsoft/signalr';
import { createHubServer, defineHub, type HubCallerContext, type HubServer } from '@tessera/hub';
import { afterEach, describe, expect, it } from 'vitest';
import { buildClient, until } from './support/hub.js';

// Graceful shutdown (docs/hub.md "Shutdown"): drain() sends every connection a Close message with allowReconnect,
// and a @microsoft/signalr client with withAutomaticReconnect() comes back on another node. The two nodes sit
// behind one front, as behind a balancer that stops routing to a node once it answers 503.

const PATH = '/hubs/nodes';

function nodeHub(name: string) {
  return defineHub({
    allowAnonymous: true,
    methods: {
      node(_context: HubCallerContext) {
        return name;
      },
    },
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One HTTP front over two hubs: every request goes to `a` until it answers 503, then to `b`. */
async function front(a: HubServer, b: HubServer): Promise<string> {
  let aDown = false;
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (!aDown) {
        const statusBefore = response.statusCode;
        await a.handleRequest(request, response);
        if (response.statusCode !== 503 || statusBefore === 503) return;
        aDown = true;
        return;
      }
      await b.handleRequest(request, response);
    })();
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (aDown ? b : a).handleUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
}

describe('hub drain', () => {
  it('closes connections with allowReconnect, and the SignalR client reconnects to the other node', async () => {
    const a = await createHubServer({ path: PATH, hub: nodeHub('a') });
    const b = await createHubServer({ path: PATH, hub: nodeHub('b') });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const url = await front(a, b);
    const client = buildClient(url, { transport: 'WebSockets', automaticReconnect: [0, 100, 200] });
    cleanups.push(() => client.stop());
    const events: string[] = [];
    client.onreconnecting((error) => events.push(`reconnecting ${error?.message ?? ''}`.trim()));
    client.onreconnected(() => events.push('reconnected'));
    client.onclose(() => events.push('closed'));
    await client.start();
    expect(await client.invoke('node')).toBe('a');
    const firstId = client.connectionId;

    // Negotiate is refused while draining: the front then routes to b.
    await a.drain(2000);
    expect(a.connectionCount).toBe(0);
    await until(() => client.state === HubConnectionState.Connected && b.connectionCount === 1, 5000);
    expect(events[0]).toMatch(/^reconnecting/);
    expect(events).toContain('reconnected');
    expect(events).not.toContain('closed');
    expect(client.connectionId).not.toBe(firstId);
    expect(await client.invoke('node')).toBe('b');
  });

  it('answers 503 with Retry-After to a negotiate while draining, and resolves once closed', async () => {
    const a = await createHubServer({ path: PATH, hub: nodeHub('a') });
    const server = createServer((request, response) => {
      void a.handleRequest(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
    const client = buildClient(base, { transport: 'LongPolling' });
    const closed = new Promise<Error | undefined>((resolve) => {
      client.onclose(resolve);
    });
    await client.start();
    const draining = a.drain(1000);
    const refused = await fetch(`${base}/negotiate?negotiateVersion=1`, { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('0');
    await draining;
    // Without automatic reconnect the client just closes, cleanly: a Close without error.
    expect(await closed).toBeUndefined();
    expect(a.connectionCount).toBe(0);
  });
});
