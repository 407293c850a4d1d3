import { createHash, randomUUID } from 'node:crypto';
import { createRedisBackplane, defineHub, type Backplane, type HubCallerContext } from '@tessera/hub';
import { redisAvailable, testRedisUrl } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, nextCall, sleep, startHub, until, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';
import { negotiate, openSocket, RS } from './support/raw.js';
import { startRoundRobin, type RoundRobinFront } from './support/round-robin.js';

// No sticky sessions: three hub nodes on one Redis behind a round-robin front that sends every request to the next
// node. Polls, Server-Sent Events, sends, DELETEs, WebSocket connects and stateful re-attaches that land on a node
// without the connection are relayed to the node that has it; nothing is lost, repeated or reordered, and the
// owner's security checks still decide.

const available = await redisAvailable();
const PATH = '/hubs/scale';

/** What each connection's `record` calls carried, by connection id (the hub methods run on the owning node). */
const recorded = new Map<string, number[]>();

function hubOf(node: number) {
  return defineHub({
    methods: {
      whereAmI: (context: HubCallerContext) => ({ node, connectionId: context.connectionId }),
      record(context: HubCallerContext, value: number) {
        const list = recorded.get(context.connectionId) ?? [];
        list.push(value);
        recorded.set(context.connectionId, list);
      },
      async ask(context: HubCallerContext, connectionId: string, question: string) {
        return { node, answer: await context.clients.client(connectionId).invoke('answer', question) };
      },
      async addToGroup(context: HubCallerContext, connectionId: string, group: string) {
        await context.groups.add(connectionId, group);
      },
      async sendToGroup(context: HubCallerContext, group: string, message: string) {
        await context.clients.group(group).send('groupMessage', message);
      },
      startTicks(context: HubCallerContext, count: number, intervalMs: number) {
        void (async () => {
          for (let index = 0; index < count; index++) {
            await context.clients.caller.send('tick', index);
            if (intervalMs > 0) await sleep(intervalMs);
          }
        })();
      },
    },
  });
}

describe.skipIf(!available)('hub without sticky sessions (three nodes, round-robin)', () => {
  let identity: IdentityFixture;
  let alice: string;
  let bob: string;
  const prefix = `test:scale-out:${randomUUID()}:`;
  const backplanes: Backplane[] = [];
  const nodes: RunningHub[] = [];
  let front: RoundRobinFront;
  let url: string;

  beforeAll(async () => {
    identity = await startIdentity();
    [alice, bob] = await Promise.all([identity.token(identity.alice), identity.token(identity.bob)]);
    for (let node = 0; node < 3; node++) {
      const backplane = createRedisBackplane({ url: testRedisUrl, channelPrefix: prefix });
      backplanes.push(backplane);
      nodes.push(
        await startHub({
          path: PATH,
          hub: hubOf(node),
          authentication: { validator: identity.validator() },
          allowStatefulReconnects: true,
          backplane,
          // A client result asked of a connection on no node fails after this.
          groupOperationTimeoutMs: 1500,
        }),
      );
    }
    front = await startRoundRobin(nodes.map((running) => running.origin));
    url = `${front.origin}${PATH}`;
  });

  afterAll(async () => {
    await front.close();
    for (const running of nodes) await running.close();
    for (const backplane of backplanes) await backplane.close();
    await identity.close();
  });

  describe.each([
    ['LongPolling', 'json'],
    ['LongPolling', 'messagepack'],
    ['ServerSentEvents', 'json'],
    ['WebSockets', 'json'],
    ['WebSockets', 'messagepack'],
  ] as const)('%s + %s', (transport, protocol) => {
    it('serves every request on any node: messages both ways arrive once and in order', async () => {
      const first = front.log.length;
      const client = await connect(url, { transport, protocol, token: () => alice });
      const ticks: number[] = [];
      client.on('tick', (value: number) => ticks.push(value));
      const where = await client.invoke<{ node: number; connectionId: string }>('whereAmI');
      expect(where.connectionId).toBe(client.connectionId);
      await client.invoke('startTicks', 100, 0);
      // In runs of ten (more waiting invocations than the hub queues would end the connection as a flood).
      for (let value = 0; value < 100; value += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, offset) => client.send('record', value + offset)));
        await sleep(5);
      }
      await until(() => ticks.length >= 100 && (recorded.get(where.connectionId)?.length ?? 0) >= 100);
      await sleep(100);
      expect(ticks).toEqual(Array.from({ length: 100 }, (_, index) => index));
      expect(recorded.get(where.connectionId)).toEqual(Array.from({ length: 100 }, (_, index) => index));
      // The requests of this connection went to every node (negotiate on one, the rest relayed to it).
      const used = new Set(front.log.slice(first).map((entry) => entry.node));
      if (transport !== 'WebSockets') expect(used.size).toBe(3);
      else expect(used.size).toBeGreaterThanOrEqual(2);
      await client.stop();
    });
  });

  it('keeps a stateful connection across a re-attach that lands on another node', async () => {
    const client = await connect(url, { transport: 'WebSockets', stateful: true, token: () => alice });
    const id = client.connectionId!;
    const { connectionId } = await client.invoke<{ connectionId: string }>('whereAmI');
    const upgrades = () =>
      front.log.filter((entry) => entry.method === 'UPGRADE' && entry.url.includes('id='));
    const before = upgrades().length;
    const ticks: number[] = [];
    client.on('tick', (value: number) => ticks.push(value));
    const reconnecting: unknown[] = [];
    client.onreconnecting((error) => reconnecting.push(error));
    await client.invoke('startTicks', 200, 2);
    for (let value = 0; value < 100; value++) {
      void client.send('record', value);
      if (value === 40) {
        (
          client as unknown as {
            connection: { transport: { _webSocket: { _socket: { destroy(): void } } } };
          }
        ).connection.transport._webSocket._socket.destroy();
      }
      await sleep(1);
    }
    await until(() => ticks.length >= 200 && (recorded.get(connectionId)?.length ?? 0) >= 100, 10_000);
    await sleep(100);
    expect(ticks).toEqual(Array.from({ length: 200 }, (_, index) => index));
    expect(recorded.get(connectionId)).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(client.connectionId).toBe(id);
    expect(reconnecting).toEqual([]);
    const reattaches = upgrades().slice(before - 1);
    expect(reattaches.length).toBeGreaterThanOrEqual(2);
    expect(reattaches.at(-1)!.node).not.toBe(reattaches.at(-2)!.node);
    await client.stop();
  });

  it('lets no other user, no anonymous caller and no guessed id reach a connection through another node', async () => {
    const [a, b, c] = nodes.map((running) => running.url) as [string, string, string];
    const { body } = await negotiate(a, {
      token: alice,
      query: 'negotiateVersion=1&useStatefulReconnect=true',
    });
    const token = String(body.connectionToken);
    const asAlice = { authorization: `Bearer ${alice}` };
    const asBob = { authorization: `Bearer ${bob}` };
    // The first poll starts Long Polling on node A's connection, from node B.
    expect((await fetch(`${b}?id=${token}`, { headers: asAlice })).status).toBe(200);

    for (const [headers, status] of [
      [asBob, 403],
      [{}, 403],
    ] as const) {
      expect((await fetch(`${c}?id=${token}`, { headers })).status).toBe(status);
      expect(
        (
          await fetch(`${c}?id=${token}`, {
            method: 'POST',
            headers,
            body: '{"protocol":"json","version":1}' + RS,
          })
        ).status,
      ).toBe(status);
      expect((await fetch(`${b}?id=${token}`, { method: 'DELETE', headers })).status).toBe(status);
      expect((await openSocket(`${c}?id=${token}`, headers)).status).toBe(status);
      expect((await openSocket(`${c}?id=${token}&access_token=${bob}`)).status).toBe(403);
    }
    // Neither a guessed token nor the public connection id names a connection anywhere.
    for (const id of [randomUUID(), String(body.connectionId)]) {
      expect((await fetch(`${b}?id=${id}`, { headers: asAlice })).status).toBe(404);
      expect((await openSocket(`${c}?id=${id}`, asAlice)).status).toBe(404);
    }

    // The owner's user still gets through from any node: the handshake sent to C, its answer polled from B.
    expect(
      (
        await fetch(`${c}?id=${token}`, {
          method: 'POST',
          headers: asAlice,
          body: '{"protocol":"json","version":1}' + RS,
        })
      ).status,
    ).toBe(200);
    const poll = await fetch(`${b}?id=${token}`, { headers: asAlice });
    expect(poll.status).toBe(200);
    expect(await poll.text()).toBe(`{}${RS}`);
    expect((await fetch(`${c}?id=${token}`, { method: 'DELETE', headers: asAlice })).status).toBe(202);

    // The directory keeps a hash of the token, never the token itself.
    const redis = new Redis(testRedisUrl);
    try {
      const keys = await redis.keys(`${prefix}connection:*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.some((key) => key.includes(token))).toBe(false);
    } finally {
      await redis.quit();
    }
  });

  it('carries client results, group joins and group sends between connections of different nodes', async () => {
    const [asker, answerer] = [
      await connect(url, { transport: 'LongPolling', token: () => alice }),
      await connect(url, { transport: 'WebSockets', protocol: 'messagepack', token: () => bob }),
    ];
    answerer.on('answer', (question: string) => `re: ${question}`);
    const [here, there] = await Promise.all([
      asker.invoke<{ node: number }>('whereAmI'),
      answerer.invoke<{ node: number; connectionId: string }>('whereAmI'),
    ]);
    expect(here.node).not.toBe(there.node);
    expect(await asker.invoke('ask', there.connectionId, 'ping?')).toEqual({
      node: here.node,
      answer: 're: ping?',
    });
    await expect(asker.invoke('ask', 'no-such-connection', 'ping?')).rejects.toThrow(
      "Connection 'no-such-connection' is not connected.",
    );
    await asker.invoke('addToGroup', there.connectionId, 'room');
    const inRoom = nextCall(answerer, 'groupMessage');
    await asker.invoke('sendToGroup', 'room', 'hello from another node');
    expect(await inRoom).toEqual(['hello from another node']);
    await Promise.all([asker.stop(), answerer.stop()]);
  }, 15_000);

  it('answers 404 for a connection whose node no longer answers', async () => {
    const redis = new Redis(testRedisUrl);
    try {
      const ghost = randomUUID();
      await redis.set(
        `${prefix}connection:${createHash('sha256').update(ghost).digest('base64url')}`,
        'gone',
        'PX',
        60_000,
      );
      const started = Date.now();
      expect(
        (await fetch(`${nodes[0]!.url}?id=${ghost}`, { headers: { authorization: `Bearer ${alice}` } }))
          .status,
      ).toBe(404);
      expect(Date.now() - started).toBeLessThan(7000);
    } finally {
      await redis.quit();
    }
  }, 10_000);
});
