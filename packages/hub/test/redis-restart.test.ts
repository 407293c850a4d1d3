import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { HubConnection } from '@microsoft/signalr';
import {
  createRedisBackplane,
  defineHub,
  type Backplane,
  type HubCallerContext,
  type HubLogger,
} from '@tessera/hub';
import { freePort, redisServerInstalled, startRedisServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sleep, startHub, until, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';

// Redis restarted under two hub nodes (a redis-server of this suite's own on a free port): while it is down, sends
// to all, to a group and to a user still reach the connections on the sending node, invocations keep answering and
// the failed publish is logged; once it is back on the same port the backplane resubscribes and sends cross nodes
// again, each message delivered once.
const redisServer = await redisServerInstalled('the hub Redis restart tests');

const PATH = '/hubs/restart';

/** A logger that keeps the messages of `error` calls. */
function recordingLogger(errors: string[]): HubLogger {
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (message) => errors.push(message),
  };
}

const hub = defineHub({
  methods: {
    ping: () => 'pong',
    join: (context: HubCallerContext, group: string) => context.groups.add(context.connectionId, group),
    toAll: (context: HubCallerContext, message: string) => context.clients.all.send('all', message),
    toGroup: (context: HubCallerContext, group: string, message: string) =>
      context.clients.group(group).send('group', message),
    toUser: (context: HubCallerContext, userId: string, message: string) =>
      context.clients.user(userId).send('user', message),
  },
});

/** Every message a client got, by method. */
function inbox(connection: HubConnection): Record<'all' | 'group' | 'user', string[]> {
  const received = { all: [] as string[], group: [] as string[], user: [] as string[] };
  for (const method of ['all', 'group', 'user'] as const) {
    connection.on(method, (message: string) => received[method].push(message));
  }
  return received;
}

describe.runIf(redisServer)('hub nodes through a Redis restart', () => {
  let port: number;
  let redis: ChildProcess;
  let identity: IdentityFixture;
  const errors: string[][] = [[], []];
  const backplanes: Backplane[] = [];
  const nodes: RunningHub[] = [];
  let alice: HubConnection;
  let bob: HubConnection;
  let aliceInbox: ReturnType<typeof inbox>;
  let bobInbox: ReturnType<typeof inbox>;
  const closed: string[] = [];

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    identity = await startIdentity();
    for (let node = 0; node < 2; node++) {
      const backplane = createRedisBackplane({ url: `redis://127.0.0.1:${port}` });
      backplanes.push(backplane);
      nodes.push(
        await startHub({
          path: PATH,
          hub,
          authentication: { validator: identity.validator() },
          backplane,
          logger: recordingLogger(errors[node] ?? []),
        }),
      );
    }
    const [aliceToken, bobToken] = await Promise.all([
      identity.token(identity.alice),
      identity.token(identity.bob),
    ]);
    [alice, bob] = await Promise.all([
      connect(nodes[0]?.url ?? '', { transport: 'WebSockets', token: () => aliceToken }),
      connect(nodes[1]?.url ?? '', { transport: 'WebSockets', token: () => bobToken }),
    ]);
    for (const [name, connection] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      connection.onclose(() => closed.push(name));
    }
    aliceInbox = inbox(alice);
    bobInbox = inbox(bob);
    await Promise.all([alice.invoke('join', 'room'), bob.invoke('join', 'room')]);
  }, 15_000);

  afterAll(async () => {
    await Promise.all([alice.stop(), bob.stop()]);
    for (const running of nodes) await running.close();
    for (const backplane of backplanes) await backplane.close();
    await identity.close();
    redis.kill('SIGKILL');
  });

  it('crosses nodes before the restart', async () => {
    await alice.invoke('toAll', 'before');
    await until(() => bobInbox.all.includes('before'));
    expect(aliceInbox.all).toEqual(['before']);
    expect(bobInbox.all).toEqual(['before']);
  });

  it('delivers on the sending node while Redis is down, answers invocations and logs the failure', async () => {
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    // Non-blocking invocations: the local delivery and the log are what is checked here.
    const started = Date.now();
    await Promise.all([
      alice.send('toAll', 'down all'),
      alice.send('toGroup', 'room', 'down group'),
      alice.send('toUser', identity.alice.oid, 'down user'),
    ]);
    await until(
      () => aliceInbox.all.length === 2 && aliceInbox.group.length === 1 && aliceInbox.user.length === 1,
      3000,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(aliceInbox).toEqual({ all: ['before', 'down all'], group: ['down group'], user: ['down user'] });
    await until(() => errors[0]?.includes('hub backplane publish failed') === true, 3000);
    expect(await Promise.all([alice.invoke('ping'), bob.invoke('ping')])).toEqual(['pong', 'pong']);
    expect(bobInbox).toEqual({ all: ['before'], group: [], user: [] });
    expect(closed).toEqual([]);
  });

  it('resubscribes once Redis is back on the same port, and crosses nodes again exactly once', async () => {
    redis = await startRedisServer(port);
    const deadline = Date.now() + 8000;
    let probe = 0;
    while (!bobInbox.all.some((message) => message.startsWith('probe '))) {
      if (Date.now() > deadline) throw new Error('no cross-node delivery within 8 s of the restart');
      // Non-blocking: until the node's publishing connection is back, its publish fails at once.
      await alice.send('toAll', `probe ${String(probe++)}`);
      await sleep(200);
    }
    await sleep(300);
    const bobAllBefore = bobInbox.all.length;
    await alice.invoke('toAll', 'after all');
    await alice.invoke('toGroup', 'room', 'after group');
    await alice.invoke('toUser', identity.bob.oid, 'after user');
    await bob.invoke('toUser', identity.alice.oid, 'after back');
    await until(() => bobInbox.user.length > 0 && aliceInbox.user.includes('after back'));
    await sleep(300);
    expect(bobInbox.all.slice(bobAllBefore)).toEqual(['after all']);
    expect(bobInbox.group).toEqual(['after group']);
    expect(bobInbox.user).toEqual(['after user']);
    expect(aliceInbox.user).toEqual(['down user', 'after back']);
    expect(closed).toEqual([]);
  }, 15_000);
});
