import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import type { AccessTokenClaims, TokenValidator } from '@tessera/resource';
import { defineHub, type HubLogger } from '@tessera/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatHub } from './support/chat-hub.js';
import { connect, nextCall, sleep, startHub, until, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';
import { negotiate, openSocket, RS } from './support/raw.js';

// Attack tests for every rule of docs/hub.md "Security", with raw HTTP / WebSockets where exact status
// codes matter and the official client where its behaviour matters.

const ALLOWED_ORIGIN = 'https://app.contoso.test';
/** The 403 text of a request by another identity, as a literal: a change of the catalogue's wording must fail here. */
const IDENTITY_CHANGED_TEXT = 'The user identity cannot change during an active connection.';
let identity: IdentityFixture;
let running: RunningHub;
let alice: string;
let bob: string;
const logLines: string[] = [];
const logger: HubLogger = {
  debug: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
  info: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
  warn: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
  error: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
};

beforeAll(async () => {
  identity = await startIdentity();
  [alice, bob] = await Promise.all([identity.token(identity.alice), identity.token(identity.bob)]);
  running = await startHub({
    path: '/hubs/chat',
    hub: chatHub,
    authentication: { validator: identity.validator() },
    allowedOrigins: [ALLOWED_ORIGIN],
    handshakeTimeoutMs: 300,
    logger,
  });
});

afterAll(async () => {
  await running.close();
  await identity.close();
});

describe('origins (CSRF: CORS does not cover WebSockets)', () => {
  it('refuses a foreign origin on negotiate and on the WebSocket upgrade', async () => {
    const refused = await negotiate(running.url, { token: alice, origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const { body } = await negotiate(running.url, { token: alice });
    const upgrade = await openSocket(`${running.url}?id=${String(body.connectionToken)}`, {
      authorization: `Bearer ${alice}`,
      origin: 'https://evil.example',
    });
    expect(upgrade.status).toBe(403);
    const skip = await openSocket(running.url, { authorization: `Bearer ${alice}`, origin: 'null' });
    expect(skip.status).toBe(403);
  });

  it('allows a listed origin with credentials-capable CORS, and the page’s own origin', async () => {
    const allowed = await negotiate(running.url, { token: alice, origin: ALLOWED_ORIGIN });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const preflight = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,x-requested-with,x-signalr-user-agent',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe(
      'authorization, x-requested-with, x-signalr-user-agent',
    );
    expect((await negotiate(running.url, { token: alice, origin: running.origin })).status).toBe(200);
  });
});

describe('authentication', () => {
  it('refuses anonymous callers of a protected hub: negotiate 401, skipNegotiation upgrade 401', async () => {
    const anonymous = await negotiate(running.url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm=""');
    expect((await openSocket(running.url)).status).toBe(401);
    const client = new HubConnectionBuilder()
      .withUrl(running.url, { transport: HttpTransportType.WebSockets })
      .configureLogging(LogLevel.None)
      .build();
    await expect(client.start()).rejects.toThrow(/401/);
  });

  it('accepts access_token in the query only for WebSockets and SSE, never for negotiate', async () => {
    const query = await negotiate(running.url, { query: `negotiateVersion=1&access_token=${alice}` });
    expect(query.status).toBe(401);
    const socket = await openSocket(`${running.url}?access_token=${alice}`);
    expect(socket.socket).toBeDefined();
    socket.socket?.close();
  });

  it('refuses an expired token (401 invalid_token), and closes a connection when its token expires', async () => {
    const later = identity.validator({ clock: () => new Date(Date.now() + 2 * 3600_000) });
    const expiredHub = await startHub({
      path: '/hubs/expired',
      hub: chatHub,
      authentication: { validator: later },
    });
    const refused = await negotiate(expiredHub.url, { token: alice });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await expiredHub.close();

    // A validator whose tokens expire 1 s from now: the hub closes with allowReconnect.
    const real = identity.validator();
    const shortLived: TokenValidator = {
      async validate(token) {
        const claims = await real.validate(token);
        return { ...claims, exp: Math.floor(Date.now() / 1000) + 1 } satisfies AccessTokenClaims;
      },
    };
    const shortHub = await startHub({
      path: '/hubs/short',
      hub: chatHub,
      authentication: { validator: shortLived },
    });
    const client = await connect(shortHub.url, { transport: 'WebSockets', token: () => alice });
    const closed = new Promise<Error | undefined>((resolve) => {
      client.onclose(resolve);
    });
    const error = await closed;
    expect(error?.message).toBe('Server returned an error on close: The access token has expired.');
    await shortHub.close();
  });
});

describe('the connection token is bound to its user', () => {
  it.each([
    ['WebSockets upgrade', 'ws'],
    ['Server-Sent Events', 'sse'],
    ['Long Polling poll', 'poll'],
    ['POST send', 'post'],
    ['DELETE', 'delete'],
  ])('refuses another user on %s with 403, and anonymous use too', async (_name, kind) => {
    const { body } = await negotiate(running.url, { token: alice });
    const id = String(body.connectionToken);
    const attempt = async (token: string | undefined): Promise<{ status: number; text: string }> => {
      const authorization: Record<string, string> =
        token === undefined ? {} : { authorization: `Bearer ${token}` };
      if (kind === 'ws') {
        const result = await openSocket(`${running.url}?id=${id}`, authorization);
        return { status: result.status ?? 101, text: result.body ?? '' };
      }
      const response = await fetch(`${running.url}?id=${id}`, {
        method: kind === 'post' ? 'POST' : kind === 'delete' ? 'DELETE' : 'GET',
        headers: { ...authorization, ...(kind === 'sse' ? { accept: 'text/event-stream' } : {}) },
        ...(kind === 'post' ? { body: `{"protocol":"json","version":1}${RS}` } : {}),
      });
      return { status: response.status, text: await response.text() };
    };
    expect(await attempt(bob)).toEqual({ status: 403, text: IDENTITY_CHANGED_TEXT });
    expect(await attempt(undefined)).toEqual({ status: 403, text: IDENTITY_CHANGED_TEXT });
  });

  it('refuses anonymous use of an authenticated connection on a hub that allows anonymous callers', async () => {
    const open = await startHub({
      path: '/hubs/open',
      hub: defineHub({ methods: { ping: () => 'pong' }, allowAnonymous: true }),
      authentication: { validator: identity.validator() },
    });
    const { body } = await negotiate(open.url, { token: alice });
    const response = await fetch(`${open.url}?id=${String(body.connectionToken)}`);
    expect(response.status).toBe(403);
    expect(await response.text()).toBe(IDENTITY_CHANGED_TEXT);
    const anonymous = await connect(open.url, { transport: 'LongPolling' });
    expect(await anonymous.invoke('ping')).toBe('pong');
    await anonymous.stop();
    await open.close();
  });

  it('answers 404 to the public connection id used as the token, and to unknown tokens', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    expect(body.connectionId).not.toBe(body.connectionToken);
    expect(String(body.connectionToken)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const byId = await openSocket(`${running.url}?id=${String(body.connectionId)}`, {
      authorization: `Bearer ${alice}`,
    });
    expect(byId.status).toBe(404);
    const poll = await fetch(`${running.url}?id=${String(body.connectionId)}`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(poll.status).toBe(404);
  });
});

describe('authorization', () => {
  it('refuses a method by policy with the generic message, and a group join by the hook', async () => {
    const [a, b] = await Promise.all([
      connect(running.url, { transport: 'WebSockets', token: () => alice }),
      connect(running.url, { transport: 'WebSockets', token: () => bob }),
    ]);
    await expect(a.invoke('adminOnly')).rejects.toThrow(
      "Failed to invoke 'adminOnly' because user is unauthorized",
    );
    expect(await b.invoke('adminOnly')).toBe('secret');
    await expect(a.invoke('join', 'admins-only')).rejects.toThrow(
      "Not authorized to join group 'admins-only'.",
    );
    const heard: unknown[] = [];
    a.on('groupMessage', (...args) => heard.push(args));
    await b.invoke('join', 'admins-only');
    const toBob = nextCall(b, 'groupMessage');
    await b.invoke('sendToGroup', 'admins-only', 'classified');
    await toBob;
    await sleep(50);
    expect(heard).toEqual([]);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('refuses negotiate with 403 when the hub policy fails', async () => {
    const admin = await startHub({
      path: '/hubs/admin',
      hub: defineHub({ methods: { ping: () => 'pong' }, policy: { appRoles: ['Data.Write.All'] } }),
      authentication: { validator: identity.validator() },
    });
    expect((await negotiate(admin.url, { token: alice })).status).toBe(403);
    expect((await negotiate(admin.url, { token: bob })).status).toBe(200);
    await admin.close();
  });
});

/** Opens a raw WebSocket connection as Alice and completes the JSON handshake. */
async function handshaken(url: string) {
  const { socket, received } = await openSocket(url, { authorization: `Bearer ${alice}` });
  if (socket === undefined) throw new Error('upgrade refused');
  socket.send(`{"protocol":"json","version":1}${RS}`);
  await until(() => received.messages.length > 0);
  expect(received.messages[0]).toEqual({});
  return { socket, ...received };
}

describe('protocol limits', () => {
  it('closes on an oversized message (32 KB) with a generic Close error', async () => {
    const { socket, messages, closed } = await handshaken(running.url);
    socket.send(`{"type":1,"target":"echo","arguments":["${'x'.repeat(33_000)}"]}${RS}`);
    await closed;
    expect(messages.at(-1)).toEqual({ type: 7, error: 'Connection closed with an error.' });
  });

  it.each([
    ['invalid JSON', `{"type":1,${RS}`],
    ['wrong field types', `{"type":1,"target":5,"arguments":[]}${RS}`],
    ['missing arguments', `{"type":1,"invocationId":"1","target":"add"}${RS}`],
  ])('closes on a malformed frame: %s', async (_name, frame) => {
    const { socket, messages, closed } = await handshaken(running.url);
    socket.send(frame);
    await closed;
    expect(messages.at(-1)).toEqual({ type: 7, error: 'Connection closed with an error.' });
  });

  it('answers an invalid handshake with an error, then closes', async () => {
    const { socket, received } = await openSocket(running.url, { authorization: `Bearer ${alice}` });
    const { messages, closed } = received;
    socket!.send(`{"protocol":"xml","version":1}${RS}`);
    await closed;
    expect(messages).toEqual([{ error: "The protocol 'xml' is not supported." }]);
  });

  it('drops a connection that sends no handshake in time', async () => {
    const { received } = await openSocket(running.url, { authorization: `Bearer ${alice}` });
    const started = Date.now();
    await received.closed;
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('resource limits', () => {
  it('runs one invocation per client at a time by default (others wait, in order)', async () => {
    const client = await connect(running.url, { transport: 'WebSockets', token: () => alice });
    const order: string[] = [];
    await Promise.all([
      client.invoke('slow', 200).then(() => order.push('slow')),
      client.invoke('add', 1, 1).then(() => order.push('add')),
    ]);
    expect(order).toEqual(['slow', 'add']);
    await client.stop();
  });

  it('refuses a flood of invocations beyond the rate, closes a client that queues too many, others unaffected', async () => {
    const flooded = await startHub({
      path: '/hubs/flood',
      hub: chatHub,
      authentication: { validator: identity.validator() },
      invocationRateLimit: { perSecond: 10, burst: 20 },
      maxQueuedInvocationsPerClient: 1000,
    });
    const bystander = await connect(flooded.url, { transport: 'WebSockets', token: () => bob });
    const { socket, messages } = await handshaken(flooded.url);
    let frame = '';
    for (let index = 0; index < 500; index++)
      frame += `{"type":1,"invocationId":"${index}","target":"add","arguments":[1,2]}${RS}`;
    socket.send(frame);
    await until(() => messages.filter((m) => m.type === 3).length === 500);
    const refused = messages.filter((m) => typeof m.error === 'string');
    expect(refused.length).toBeGreaterThanOrEqual(470);
    expect(refused[0]?.error).toBe("Failed to invoke 'add' because the invocation rate limit was exceeded.");
    expect(await bystander.invoke('add', 2, 2)).toBe(4);
    socket.close();

    const queued = await startHub({
      path: '/hubs/queue',
      hub: chatHub,
      authentication: { validator: identity.validator() },
      invocationRateLimit: { perSecond: 1000, burst: 1000 },
    });
    const second = await handshaken(queued.url);
    let slow = '';
    for (let index = 0; index < 100; index++)
      slow += `{"type":1,"invocationId":"${index}","target":"slow","arguments":[50]}${RS}`;
    second.socket.send(slow);
    await second.closed;
    expect(second.messages.at(-1)).toEqual({ type: 7, error: 'Connection closed with an error.' });
    await Promise.all([bystander.stop(), flooded.close(), queued.close()]);
  });

  it('drops a slow consumer instead of stalling the others', async () => {
    const hub = await startHub({
      path: '/hubs/slow',
      hub: chatHub,
      authentication: { validator: identity.validator() },
      maxSendBufferBytes: 256 * 1024,
      invocationRateLimit: { perSecond: 1000, burst: 1000 },
      maxQueuedInvocationsPerClient: 1000,
      logger,
    });
    const fast = await connect(hub.url, { transport: 'WebSockets', token: () => bob });
    let fastCount = 0;
    fast.on('message', () => fastCount++);
    const slow = await handshaken(hub.url);
    // Stop reading: the TCP window fills, then the server's send buffer grows.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => hub.hub.connectionCount === 2);
    const big = 'y'.repeat(16 * 1024);
    for (let index = 0; index < 400; index++) {
      await hub.hub.clients.all.send('message', 'server', big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => fastCount === 400, 15_000);
    await until(() => hub.hub.connectionCount === 1, 5000);
    expect(logLines.some((line) => line.includes('slow consumer'))).toBe(true);
    await fast.stop();
    await hub.close();
  });
});

describe('transport rules (TransportProtocols.md status codes)', () => {
  const auth = () => ({ authorization: `Bearer ${alice}` });

  it('refuses negotiate version 0 with an error body', async () => {
    const { status, body } = await negotiate(running.url, { token: alice, query: 'negotiateVersion=0' });
    expect(status).toBe(200);
    expect(body).toEqual({
      error: "The client requested version '0', but the server does not support this version.",
    });
  });

  it('409 for a second SSE request, 400 for a transport switch, 400 without id', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    const id = String(body.connectionToken);
    const controller = new AbortController();
    const first = await fetch(`${running.url}?id=${id}`, {
      headers: { ...auth(), accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(`${running.url}?id=${id}`, {
      headers: { ...auth(), accept: 'text/event-stream' },
    });
    expect(second.status).toBe(409);
    const poll = await fetch(`${running.url}?id=${id}`, { headers: auth() });
    expect(poll.status).toBe(400);
    expect((await openSocket(`${running.url}?id=${id}`, auth())).status).toBe(400);
    expect((await fetch(running.url, { headers: auth() })).status).toBe(400);
    controller.abort();
  });

  it('Long Polling: first poll at once, a newer poll ends the older with 204, DELETE 202, concurrent POST 409', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    const url = `${running.url}?id=${String(body.connectionToken)}`;
    const started = Date.now();
    const first = await fetch(url, { headers: auth() });
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('');
    expect(Date.now() - started).toBeLessThan(1000);
    const older = fetch(url, { headers: auth() });
    await sleep(50);
    const newer = fetch(url, { headers: auth() });
    expect((await older).status).toBe(204);

    // A POST whose body never ends holds the send slot; a second one gets 409.
    let release: () => void = () => undefined;
    const held = fetch(url, {
      method: 'POST',
      headers: auth(),
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"protocol":"json",'));
          release = () => {
            controller.enqueue(new TextEncoder().encode(`"version":1}${RS}`));
            controller.close();
          };
        },
      }),
      duplex: 'half',
    } as RequestInit);
    await sleep(100);
    const concurrent = await fetch(url, { method: 'POST', headers: auth(), body: '' });
    expect(concurrent.status).toBe(409);
    release();
    expect((await held).status).toBe(200);
    const handshake = await newer;
    expect(handshake.status).toBe(200);
    expect(await handshake.text()).toBe(`{}${RS}`);

    const pending = fetch(url, { headers: auth() });
    await sleep(50);
    const deleted = await fetch(url, { method: 'DELETE', headers: auth() });
    expect(deleted.status).toBe(202);
    expect((await pending).status).toBe(204);
  });

  it('invalidates the connection token as soon as the server closes the connection', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    const id = String(body.connectionToken);
    const { socket, received } = await openSocket(`${running.url}?id=${id}`, auth());
    const { closed } = received;
    socket!.send(`{"protocol":"json","version":1}${RS}{"type":7}${RS}`);
    await closed;
    expect((await openSocket(`${running.url}?id=${id}`, auth())).status).toBe(404);
  });
});

describe('logging', () => {
  it('never logs the access token or the connection token', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    const id = String(body.connectionToken);
    const { socket } = await openSocket(`${running.url}?id=${id}&access_token=${alice}`);
    socket?.close();
    await openSocket(`${running.url}?id=${id}&access_token=not-a-token`);
    await sleep(50);
    const all = logLines.join('\n');
    expect(all).toContain('[redacted]');
    expect(all).not.toContain(alice);
    expect(all).not.toContain(id);
    expect(all).not.toContain('not-a-token');
  });
});
