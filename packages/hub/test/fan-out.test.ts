import { defineHub, jsonHubProtocol, messagePackHubProtocol } from '@tessera/hub';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, nextCall, startHub, type ClientOptions, type RunningHub } from './support/hub.js';

// A broadcast is serialized once per protocol, not once per connection (issue 5, bench acceptance point).

let running: RunningHub;

beforeAll(async () => {
  running = await startHub({
    path: '/hubs/fan-out',
    hub: defineHub({ methods: {}, allowAnonymous: true }),
  });
});

afterAll(async () => {
  await running.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('broadcast fan-out', () => {
  it('serializes a broadcast once per protocol for every local recipient', async () => {
    const options: ClientOptions[] = [
      { transport: 'WebSockets' },
      { transport: 'WebSockets' },
      { transport: 'LongPolling' },
      { transport: 'ServerSentEvents' },
      { transport: 'WebSockets', protocol: 'messagepack' },
      { transport: 'LongPolling', protocol: 'messagepack' },
    ];
    const clients = await Promise.all(options.map((option) => connect(running.url, option)));
    try {
      const json = vi.spyOn(jsonHubProtocol, 'writeInvocation');
      const messagePack = vi.spyOn(messagePackHubProtocol, 'writeInvocation');
      const received = Promise.all(clients.map((client) => nextCall(client, 'news')));
      await running.hub.clients.all.send('news', { headline: 'once' }, 42);
      expect(await received).toEqual(clients.map(() => [{ headline: 'once' }, 42]));
      expect(json).toHaveBeenCalledTimes(1);
      expect(messagePack).toHaveBeenCalledTimes(1);
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
    }
  });
});
