import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HubConnection } from '@microsoft/signalr';
import { createRedisBackplane, type BackplaneEnvelope } from '@tessera/hub';
import { redisAvailable, testRedisUrl } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, nextCall, until } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';

// Scale-out: two hub server processes on one Redis, a client on each; every kind of send and group membership
// cross nodes. One node's backplane opens its own connections from a URL, the other's is handed a client.

const available = await redisAvailable();
const script = fileURLToPath(new URL('./support/hub-node.mjs', import.meta.url));
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

async function startNode(
  env: Record<string, string>,
  backplane: 'url' | 'client',
): Promise<{ child: ChildProcess; url: string }> {
  if (!existsSync(built)) throw new Error('packages/hub/dist is missing: run `npx tsc -b` first.');
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env, BACKPLANE: backplane },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.on('exit', (code) => {
      reject(new Error(`hub node exited with ${String(code)}`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}/hubs/chat` };
}

describe.skipIf(!available)('Redis backplane across two processes', () => {
  let identity: IdentityFixture;
  const nodes: ChildProcess[] = [];
  let alice: HubConnection;
  let bob: HubConnection;

  beforeAll(async () => {
    identity = await startIdentity();
    const env = {
      REDIS_URL: testRedisUrl,
      AUTHORITY: `${identity.server.url}/${identity.scenario.tenantId}`,
      AUDIENCE: identity.scenario.api.appId,
      CHANNEL_PREFIX: `test:${randomUUID()}:`,
    };
    const [a, b] = await Promise.all([startNode(env, 'url'), startNode(env, 'client')]);
    nodes.push(a.child, b.child);
    const [aliceToken, bobToken] = await Promise.all([
      identity.token(identity.alice),
      identity.token(identity.bob),
    ]);
    [alice, bob] = await Promise.all([
      connect(a.url, { transport: 'WebSockets', token: () => aliceToken }),
      connect(b.url, { transport: 'WebSockets', protocol: 'messagepack', token: () => bobToken }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([alice.stop(), bob.stop()]);
    for (const child of nodes) child.kill('SIGTERM');
    await identity.close();
  });

  it('runs the two clients on two different processes', async () => {
    const [a, b] = await Promise.all([
      alice.invoke<{ node: number }>('whoAmI'),
      bob.invoke<{ node: number }>('whoAmI'),
    ]);
    expect(a.node).not.toBe(b.node);
  });

  it('delivers all, user and client sends across nodes', async () => {
    const broadcast = nextCall(bob, 'message');
    await alice.invoke('broadcast', 'to everyone');
    expect((await broadcast)[0]).toBe('to everyone');

    const toUser = nextCall(bob, 'direct');
    await alice.invoke('sendToUser', identity.bob.oid, 'to bob the user');
    expect(await toUser).toEqual(['to bob the user']);

    const { connectionId } = await bob.invoke<{ connectionId: string }>('whoAmI');
    const toConnection = nextCall(bob, 'direct');
    await alice.invoke('sendToConnection', connectionId, 'to one connection');
    expect(await toConnection).toEqual(['to one connection']);

    const back = nextCall(alice, 'direct');
    await bob.invoke('sendToUser', identity.alice.oid, 'and back');
    expect(await back).toEqual(['and back']);
  });

  it('delivers group sends across nodes, and adds a connection of another node to a group (authorized there)', async () => {
    await bob.invoke('join', 'room');
    const inRoom = nextCall(bob, 'groupMessage');
    await alice.invoke('sendToGroup', 'room', 'hello room');
    expect(await inRoom).toEqual(['room', 'hello room']);

    const { connectionId } = await bob.invoke<{ connectionId: string }>('whoAmI');
    await alice.invoke('addToGroup', connectionId, 'remote');
    const remote = nextCall(bob, 'groupMessage');
    await alice.invoke('sendToGroup', 'remote', 'added from node A');
    expect(await remote).toEqual(['remote', 'added from node A']);

    const { connectionId: aliceId } = await alice.invoke<{ connectionId: string }>('whoAmI');
    await expect(bob.invoke('addToGroup', aliceId, 'admins')).rejects.toThrow(
      "Not authorized to join group 'admins'.",
    );
  });
});

describe.skipIf(!available)('Redis backplane on a client the application owns', () => {
  it('publishes through the client, subscribes through its duplicate, and leaves the client open on close', async () => {
    const redis = new Redis(testRedisUrl);
    try {
      const backplane = createRedisBackplane({ redis, channelPrefix: `test:${randomUUID()}:` });
      const received: BackplaneEnvelope[] = [];
      await backplane.subscribe('chat', (envelope) => received.push(envelope));
      await backplane.publish('chat', {
        kind: 'all',
        from: 'node-a',
        target: 'message',
        args: ['hi', new Uint8Array([1, 2])],
      });
      await until(() => received.length > 0);
      expect(received).toEqual([
        // Binary arguments survive (decoded from the Redis message's bytes, hence a Buffer).
        { kind: 'all', from: 'node-a', target: 'message', args: ['hi', Buffer.of(1, 2)] },
      ]);
      await backplane.close();
      expect(redis.status).toBe('ready');
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await redis.quit();
    }
  });
});
