import { Registry } from 'prom-client';
import { defineHub, type HubCallerContext } from '@tessera/hub';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, startHub, until, type RunningHub } from './support/hub.js';

// The hub's Prometheus metrics (docs/hub.md "Metrics"), read with registry.metrics() as a scrape would, after a
// real @microsoft/signalr client's traffic.

const PATH = '/hubs/metrics';
const hub = defineHub({
  allowAnonymous: true,
  methods: {
    add(_context: HubCallerContext, a: number, b: number) {
      return a + b;
    },
    fail() {
      throw new Error('boom');
    },
  },
});

let running: RunningHub | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** The value of one series in the text exposition, or undefined when it is absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('hub metrics', () => {
  it('counts connections, messages, invocations by outcome and refused requests', async () => {
    const registry = new Registry();
    running = await startHub({ path: PATH, hub, metricsRegistry: registry, allowedOrigins: [] });
    const client = await connect(running.url, { transport: 'WebSockets' });
    expect(await client.invoke('add', 2, 3)).toBe(5);
    await expect(client.invoke('fail')).rejects.toThrow();
    await expect(client.invoke('missing')).rejects.toThrow(/Unknown hub method/);

    let text = await registry.metrics();
    const hubLabel = `hub="${PATH}"`;
    expect(series(text, 'tessera_hub_connections', `${hubLabel},transport="WebSockets"`)).toBe(1);
    expect(series(text, 'tessera_hub_invocations_total', `${hubLabel},outcome="completed"`)).toBe(1);
    expect(series(text, 'tessera_hub_invocations_total', `${hubLabel},outcome="failed"`)).toBe(1);
    expect(series(text, 'tessera_hub_invocations_total', `${hubLabel},outcome="refused"`)).toBe(1);
    // Three invocations in, three completions out (the handshake is not a hub message).
    expect(series(text, 'tessera_hub_messages_total', `${hubLabel},direction="in"`)).toBeGreaterThanOrEqual(
      3,
    );
    expect(series(text, 'tessera_hub_messages_total', `${hubLabel},direction="out"`)).toBeGreaterThanOrEqual(
      3,
    );

    // A cross-origin negotiate (no allow-list) and an unknown connection token are refused by name.
    const foreign = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const unknown = await fetch(`${running.url}?id=unknown`, { method: 'GET' });
    expect(unknown.status).toBe(404);

    await client.stop();
    await until(() => running?.hub.connectionCount === 0);
    text = await registry.metrics();
    expect(series(text, 'tessera_hub_connections', `${hubLabel},transport="WebSockets"`)).toBe(0);
    expect(
      series(text, 'tessera_hub_connections_refused_total', `${hubLabel},reason="originNotAllowed"`),
    ).toBe(1);
    expect(
      series(text, 'tessera_hub_connections_refused_total', `${hubLabel},reason="connectionNotFound"`),
    ).toBe(1);
    // Counters never go back: a second scrape reports the same totals.
    expect(
      series(await registry.metrics(), 'tessera_hub_invocations_total', `${hubLabel},outcome="completed"`),
    ).toBe(1);
  });

  it('registers nothing without a registry, and two hubs can share one', async () => {
    const registry = new Registry();
    running = await startHub({ path: PATH, hub });
    expect(await registry.metrics()).toBe('\n');
    const second = await startHub({ path: '/hubs/second', hub, metricsRegistry: registry });
    const third = await startHub({ path: '/hubs/third', hub, metricsRegistry: registry });
    try {
      const client = await connect(third.url, { transport: 'LongPolling' });
      await until(() => third.hub.connectionCount === 1);
      const text = await registry.metrics();
      expect(series(text, 'tessera_hub_connections', 'hub="/hubs/third",transport="LongPolling"')).toBe(1);
      expect(series(text, 'tessera_hub_connections', 'hub="/hubs/second",transport="LongPolling"')).toBe(0);
      await client.stop();
    } finally {
      await second.close();
      await third.close();
    }
  });
});
