import { Subject, type HubConnection } from '@microsoft/signalr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatHub } from './support/chat-hub.js';
import {
  buildClient,
  connect,
  nextCall,
  sleep,
  startHub,
  until,
  type ClientOptions,
  type RunningHub,
} from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';

// The official @microsoft/signalr client (Node) on every transport and protocol, each forced explicitly.
const configurations: [string, Omit<ClientOptions, 'token'>][] = [
  ['WebSockets + JSON', { transport: 'WebSockets' }],
  ['WebSockets + MessagePack', { transport: 'WebSockets', protocol: 'messagepack' }],
  ['WebSockets + JSON, skipNegotiation', { transport: 'WebSockets', skipNegotiation: true }],
  ['Server-Sent Events + JSON', { transport: 'ServerSentEvents' }],
  ['Long Polling + JSON', { transport: 'LongPolling' }],
  ['Long Polling + MessagePack', { transport: 'LongPolling', protocol: 'messagepack' }],
];

let identity: IdentityFixture;
let running: RunningHub;
let aliceToken: string;
let bobToken: string;

beforeAll(async () => {
  identity = await startIdentity();
  [aliceToken, bobToken] = await Promise.all([identity.token(identity.alice), identity.token(identity.bob)]);
  running = await startHub({
    path: '/hubs/chat',
    hub: chatHub,
    authentication: { validator: identity.validator() },
  });
});

afterAll(async () => {
  await running.close();
  await identity.close();
});

describe.each(configurations)('%s', (_name, options) => {
  const open: HubConnection[] = [];
  const client = async (token: string): Promise<HubConnection> => {
    const connection = await connect(running.url, { ...options, token: () => token });
    open.push(connection);
    return connection;
  };
  afterAll(async () => {
    await Promise.all(open.map((connection) => connection.stop()));
  });

  it('invokes with results, and the context carries the token identity', async () => {
    const alice = await client(aliceToken);
    expect(await alice.invoke('add', 2, 40)).toBe(42);
    expect(await alice.invoke('echo', { nested: [1, 'two', null] })).toEqual({ nested: [1, 'two', null] });
    const me = await alice.invoke<{ connectionId: string; userIdentifier: string }>('whoAmI');
    expect(me.userIdentifier).toBe(identity.alice.oid);
    if (options.skipNegotiation !== true) expect(me.connectionId).toBe(alice.connectionId);
  });

  it('calls clients from the server: all, others (fire-and-forget invocations)', async () => {
    const [alice, bob] = await Promise.all([client(aliceToken), client(bobToken)]);
    const toBob = nextCall(bob, 'message');
    const toAlice = nextCall(alice, 'message');
    await alice.send('broadcast', 'hello');
    expect(await toBob).toEqual([identity.alice.oid, 'hello']);
    expect(await toAlice).toEqual([identity.alice.oid, 'hello']);
    const aliceHeard: unknown[] = [];
    alice.on('message', (...args) => aliceHeard.push(args));
    const others = nextCall(bob, 'message');
    await alice.invoke('tellOthers', 'psst');
    expect(await others).toEqual([identity.alice.oid, 'psst']);
    await sleep(50);
    expect(aliceHeard).toEqual([]);
  });

  it('reports method errors generically unless thrown as HubError', async () => {
    const alice = await client(aliceToken);
    await expect(alice.invoke('fail')).rejects.toThrow(
      "An unexpected error occurred invoking 'fail' on the server.",
    );
    await expect(alice.invoke('fail')).rejects.not.toThrow(/hunter2/);
    await expect(alice.invoke('failVisibly')).rejects.toThrow('Visible reason');
    await expect(alice.invoke('noSuchMethod')).rejects.toThrow("Unknown hub method 'noSuchMethod'");
    expect(await alice.invoke('add', 1, 1)).toBe(2);
  });

  it('streams from the server, and stops a stream the client cancels', async () => {
    const alice = await client(aliceToken);
    const items: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      alice
        .stream('counter', 5, 1)
        .subscribe({ next: (item) => items.push(item), complete: resolve, error: reject });
    });
    expect(items).toEqual([0, 1, 2, 3, 4]);

    const cancelled: unknown[] = [];
    const subscription = alice.stream('counter', 10_000, 5).subscribe({
      next: (item) => cancelled.push(item),
      complete: () => undefined,
      error: () => undefined,
    });
    await until(() => cancelled.length >= 3);
    subscription.dispose();
    const seen = cancelled.length;
    await sleep(100);
    expect(cancelled.length).toBeLessThanOrEqual(seen + 1);
    expect(await alice.invoke('add', 1, 2)).toBe(3);
  });

  it('receives upload streams (streamIds)', async () => {
    const alice = await client(aliceToken);
    const numbers = new Subject<number>();
    const total = alice.invoke('sum', numbers);
    for (let value = 1; value <= 20; value++) numbers.next(value);
    numbers.complete();
    expect(await total).toBe(210);
  });

  it('gets client results (the server invokes, the client completes)', async () => {
    const alice = await client(aliceToken);
    alice.on('answer', (question: string) => `re: ${question}`);
    expect(await alice.invoke('askCaller', 'ping?')).toEqual({ answer: 're: ping?' });
  });

  it('targets groups and users, with group joins authorized by the hub', async () => {
    const [alice, bob] = await Promise.all([client(aliceToken), client(bobToken)]);
    const group = `g-${Math.random().toString(36).slice(2)}`;
    await bob.invoke('join', group);
    const received = nextCall(bob, 'groupMessage');
    await alice.invoke('sendToGroup', group, 'to the group');
    expect(await received).toEqual([group, 'to the group']);

    await bob.invoke('leave', group);
    const bobHeard: unknown[] = [];
    bob.on('groupMessage', (...args) => bobHeard.push(args));
    await alice.invoke('sendToGroup', group, 'nobody home');
    await sleep(50);
    expect(bobHeard).toEqual([]);

    const direct = nextCall(bob, 'direct');
    await alice.invoke('sendToUser', identity.bob.oid, 'to bob');
    expect(await direct).toEqual(['to bob']);

    await expect(alice.invoke('join', 'admins')).rejects.toThrow("Not authorized to join group 'admins'.");
    await bob.invoke('join', 'admins');
  });
});

describe('automatic reconnect', () => {
  it('reconnects after the transport drops, with a new connection id (groups must be rebuilt)', async () => {
    const connection = buildClient(running.url, {
      transport: 'WebSockets',
      token: () => aliceToken,
      automaticReconnect: [0, 100],
    });
    await connection.start();
    const first = connection.connectionId;
    const reconnected = new Promise<string | undefined>((resolve) => {
      connection.onreconnected(resolve);
    });
    // Kill the client's socket (as a network failure would).
    (
      connection as unknown as { connection: { transport: { _webSocket: { _socket: { destroy(): void } } } } }
    ).connection.transport._webSocket._socket.destroy();
    const second = await reconnected;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await connection.invoke('add', 20, 22)).toBe(42);
    await connection.stop();
  });
});
