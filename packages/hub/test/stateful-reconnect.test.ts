import type { HubConnection } from '@microsoft/signalr';
import type { AccessTokenClaims, TokenValidator } from '@tessera/resource';
import { defineHub, type HubCallerContext } from '@tessera/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, nextCall, sleep, startHub, until, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';
import { negotiate, openSocket, RS } from './support/raw.js';

// Stateful reconnect (handshake v2, Ack / Sequence): the logical connection, its groups and every message survive
// a killed socket; re-attaching takes a fresh token of the same user.

const received = new Map<string, number[]>();
const hub = defineHub({
  methods: {
    startTicks(context: HubCallerContext, count: number, intervalMs: number) {
      void (async () => {
        for (let index = 0; index < count; index++) {
          await context.clients.caller.send('tick', index);
          await sleep(intervalMs);
        }
      })();
    },
    record(context: HubCallerContext, value: number) {
      const list = received.get(context.connectionId) ?? [];
      list.push(value);
      received.set(context.connectionId, list);
    },
    async join(context: HubCallerContext, group: string) {
      await context.groups.add(context.connectionId, group);
    },
    async sendToGroup(context: HubCallerContext, group: string, message: string) {
      await context.clients.group(group).send('groupMessage', message);
    },
    add: (_context: HubCallerContext, a: number, b: number) => a + b,
  },
});

let identity: IdentityFixture;
let running: RunningHub;
let alice: string;
let bob: string;

beforeAll(async () => {
  identity = await startIdentity();
  [alice, bob] = await Promise.all([identity.token(identity.alice), identity.token(identity.bob)]);
  running = await startHub({
    path: '/hubs/stateful',
    hub,
    authentication: { validator: identity.validator() },
    allowStatefulReconnects: true,
  });
});

afterAll(async () => {
  await running.close();
  await identity.close();
});

function killSocket(connection: HubConnection): void {
  (
    connection as unknown as { connection: { transport: { _webSocket: { _socket: { destroy(): void } } } } }
  ).connection.transport._webSocket._socket.destroy();
}

describe.each([['json'], ['messagepack']] as const)('stateful reconnect (%s)', (protocol) => {
  it('keeps the connection and its groups across a killed socket, losing and duplicating nothing', async () => {
    let tokenRequests = 0;
    const client = await connect(running.url, {
      transport: 'WebSockets',
      protocol,
      stateful: true,
      token: () => {
        tokenRequests++;
        return alice;
      },
    });
    const id = client.connectionId!;
    await client.invoke('join', 'room');
    const ticks: number[] = [];
    client.on('tick', (value: number) => ticks.push(value));
    const reconnecting: unknown[] = [];
    client.onreconnecting((error) => reconnecting.push(error));

    await client.invoke('startTicks', 200, 2);
    const sent: Promise<void>[] = [];
    for (let value = 0; value < 100; value++) {
      sent.push(client.send('record', value));
      if (value === 40) killSocket(client);
      await sleep(1);
    }
    await until(() => ticks.length >= 200, 10_000);
    await until(() => (received.get(id)?.length ?? 0) >= 100, 10_000);
    await sleep(100);
    expect(ticks).toEqual(Array.from({ length: 200 }, (_, index) => index));
    expect(received.get(id)).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(client.connectionId).toBe(id);
    expect(reconnecting).toEqual([]);
    expect(tokenRequests).toBeGreaterThanOrEqual(3); // negotiate, upgrade, re-attach

    const inRoom = nextCall(client, 'groupMessage');
    await client.invoke('sendToGroup', 'room', 'still here');
    expect(await inRoom).toEqual(['still here']);
    await client.stop();
  });
});

describe('re-attaching', () => {
  it('takes only the same user: another user gets 403, the owner gets Sequence and the replay', async () => {
    const { body } = await negotiate(running.url, {
      token: alice,
      query: 'negotiateVersion=1&useStatefulReconnect=true',
    });
    expect(body.useStatefulReconnect).toBe(true);
    const url = `${running.url}?id=${String(body.connectionToken)}`;
    const first = await openSocket(url, { authorization: `Bearer ${alice}` });
    const firstRecords = first.received;
    first.socket!.send(
      `{"protocol":"json","version":2}${RS}{"type":1,"invocationId":"1","target":"add","arguments":[1,2]}${RS}`,
    );
    await until(() => firstRecords.messages.length >= 2);
    expect(firstRecords.messages.slice(0, 2)).toEqual([{}, { type: 3, invocationId: '1', result: 3 }]);
    first.socket!.terminate();
    await firstRecords.closed;

    const stranger = await openSocket(url, { authorization: `Bearer ${bob}` });
    expect(stranger.status).toBe(403);
    const anonymous = await openSocket(url);
    expect(anonymous.status).toBe(403);

    const again = await openSocket(url, { authorization: `Bearer ${alice}` });
    const againRecords = again.received;
    await until(() => againRecords.messages.length >= 2);
    // Nothing was acknowledged: the server resends the Completion after Sequence 1.
    expect(againRecords.messages.slice(0, 2)).toEqual([
      { type: 9, sequenceId: 1 },
      { type: 3, invocationId: '1', result: 3 },
    ]);
    again.socket!.close();
  });

  it('drops the transport when the token expires, and the client re-attaches with a fresh token', async () => {
    const real = identity.validator();
    const shortLived: TokenValidator = {
      async validate(token) {
        const claims = await real.validate(token);
        return { ...claims, exp: Math.floor(Date.now() / 1000) + 1 } satisfies AccessTokenClaims;
      },
    };
    const expiring = await startHub({
      path: '/hubs/expiring',
      hub,
      authentication: { validator: shortLived },
      allowStatefulReconnects: true,
    });
    let tokenRequests = 0;
    const client = await connect(expiring.url, {
      transport: 'WebSockets',
      stateful: true,
      token: () => {
        tokenRequests++;
        return alice;
      },
    });
    const id = client.connectionId;
    const before = tokenRequests;
    await sleep(2300);
    expect(tokenRequests).toBeGreaterThan(before);
    expect(client.connectionId).toBe(id);
    expect(await client.invoke('add', 2, 3)).toBe(5);
    await client.stop();
    await expiring.close();
  });
});
