import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessTokenClaims } from '@tessera/resource';
import { createHubServer, expressHubs, fastifyHubs, type HubServer } from '@tessera/hub';
import express from 'express';
import fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatHub } from './support/chat-hub.js';
import { connect, startHub, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';
import { negotiate, openSocket, RS } from './support/raw.js';

// What the hub package ships but the other suites do not exercise: the Express and Fastify adapters carrying real
// @microsoft/signalr connections, cookie authentication behind the strict origin allow-list, and MessagePack on
// Server-Sent Events.

const PATH = '/hubs/chat';
const TRANSPORTS = ['WebSockets', 'LongPolling'] as const;
let identity: IdentityFixture;
let alice: string;

beforeAll(async () => {
  identity = await startIdentity();
  alice = await identity.token(identity.alice);
});

afterAll(async () => {
  await identity.close();
});

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

/** Invokes `whoAmI` over a forced transport with Alice's token, and checks an anonymous negotiate is refused. */
async function exerciseHub(url: string, transport: (typeof TRANSPORTS)[number]): Promise<void> {
  const connection = await connect(url, { transport, token: () => alice });
  try {
    const me = await connection.invoke<{ userIdentifier: string | null }>('whoAmI');
    expect(me.userIdentifier).toBe(identity.alice.oid);
    expect(await connection.invoke('add', 2, 3)).toBe(5);
    const message = new Promise<unknown[]>((resolve) => {
      connection.on('message', (...args: unknown[]) => {
        resolve(args);
      });
    });
    await connection.invoke('broadcast', 'hello');
    expect(await message).toEqual([identity.alice.oid, 'hello']);
  } finally {
    await connection.stop();
  }
}

describe('expressHubs', () => {
  let hub: HubServer;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    hub = await createHubServer({
      path: PATH,
      hub: chatHub,
      authentication: { validator: identity.validator() },
    });
    const app = express();
    server = createServer(app);
    app.use(expressHubs(server, [hub]));
    app.use(express.json());
    app.get('/health', (_request, response) => {
      response.json({ ok: true });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await hub.close();
    await closeServer(server);
  });

  it.each(TRANSPORTS)('carries an authenticated @microsoft/signalr connection over %s', async (transport) => {
    await exerciseHub(`${base}${PATH}`, transport);
  });

  it('leaves other routes to Express and refuses an anonymous negotiate', async () => {
    const health = await fetch(`${base}/health`);
    expect(await health.json()).toEqual({ ok: true });
    const anonymous = await negotiate(`${base}${PATH}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const withToken = await negotiate(`${base}${PATH}`, { token: alice });
    expect(withToken.status).toBe(200);
  });
});

describe('fastifyHubs', () => {
  let hub: HubServer;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    hub = await createHubServer({
      path: PATH,
      hub: chatHub,
      authentication: { validator: identity.validator() },
    });
    app = fastify();
    fastifyHubs(app, [hub]);
    app.get('/health', () => ({ ok: true }));
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await hub.close();
    app.server.closeAllConnections();
    await app.close();
  });

  it.each(TRANSPORTS)('carries an authenticated @microsoft/signalr connection over %s', async (transport) => {
    await exerciseHub(`${base}${PATH}`, transport);
  });

  it('leaves other routes to Fastify and refuses an anonymous negotiate', async () => {
    const health = await fetch(`${base}/health`);
    expect(await health.json()).toEqual({ ok: true });
    const anonymous = await negotiate(`${base}${PATH}`);
    expect(anonymous.status).toBe(401);
    const withToken = await negotiate(`${base}${PATH}`, { token: alice });
    expect(withToken.status).toBe(200);
  });
});

describe('cookie authentication with a strict origin allow-list', () => {
  const ALLOWED_ORIGIN = 'https://app.contoso.test';
  const SESSION = 'session=alice-session';
  let running: RunningHub;
  let claims: AccessTokenClaims;

  beforeAll(async () => {
    claims = await identity.validator().validate(alice);
    running = await startHub({
      path: PATH,
      hub: chatHub,
      allowedOrigins: [ALLOWED_ORIGIN],
      authentication: {
        validator: identity.validator(),
        cookie: (request: IncomingMessage) =>
          Promise.resolve(request.headers.cookie === SESSION ? claims : undefined),
      },
    });
  });

  afterAll(async () => {
    await running.close();
  });

  it('refuses to start without an allow-list', async () => {
    await expect(
      createHubServer({
        path: PATH,
        hub: chatHub,
        authentication: { validator: identity.validator(), cookie: () => Promise.resolve(claims) },
      }),
    ).rejects.toThrow('Cookie authentication requires a non-empty "allowedOrigins" list.');
  });

  it('accepts a cookie session from an allowed origin, with credentials CORS', async () => {
    const response = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { cookie: SESSION, origin: ALLOWED_ORIGIN },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    const body = (await response.json()) as { connectionToken: string };
    const opened = await openSocket(`${running.url}?id=${body.connectionToken}`, {
      cookie: SESSION,
      origin: ALLOWED_ORIGIN,
    });
    expect(opened.status).toBeUndefined();
    const socket = opened.socket;
    if (socket === undefined) throw new Error('no socket');
    socket.send(`{"protocol":"json","version":1}${RS}`);
    socket.send(`{"type":1,"invocationId":"1","target":"whoAmI","arguments":[]}${RS}`);
    await expect
      .poll(() => opened.received.messages.find((message) => message.invocationId === '1'))
      .toMatchObject({ type: 3, result: { userIdentifier: identity.alice.oid } });
    socket.close();
  });

  it.each(TRANSPORTS)(
    'carries a @microsoft/signalr connection authenticated by the cookie from the allowed origin over %s',
    async (transport) => {
      const connection = await connect(running.url, {
        transport,
        headers: { cookie: SESSION, origin: ALLOWED_ORIGIN },
      });
      try {
        const me = await connection.invoke<{ userIdentifier: string | null }>('whoAmI');
        expect(me.userIdentifier).toBe(identity.alice.oid);
      } finally {
        await connection.stop();
      }
    },
  );

  it('refuses the cookie from another origin, on negotiate and on the WebSocket upgrade', async () => {
    const refused = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { cookie: SESSION, origin: 'https://evil.example' },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const upgrade = await openSocket(running.url, { cookie: SESSION, origin: 'https://evil.example' });
    expect(upgrade.status).toBe(403);
  });

  it('refuses the cookie without an Origin header, on negotiate and on the WebSocket upgrade', async () => {
    const refused = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { cookie: SESSION },
    });
    expect(refused.status).toBe(403);
    const upgrade = await openSocket(running.url, { cookie: SESSION });
    expect(upgrade.status).toBe(403);
  });

  it('still treats a request without the cookie as anonymous (refused on this protected hub)', async () => {
    const anonymous = await fetch(`${running.url}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: ALLOWED_ORIGIN },
    });
    expect(anonymous.status).toBe(401);
  });
});

describe('MessagePack on Server-Sent Events', () => {
  let running: RunningHub;

  beforeAll(async () => {
    running = await startHub({
      path: PATH,
      hub: chatHub,
      authentication: { validator: identity.validator() },
    });
  });

  afterAll(async () => {
    await running.close();
  });

  it('refuses the handshake with the exact transfer-format error', async () => {
    const { body } = await negotiate(running.url, { token: alice });
    const token = String(body.connectionToken);
    const events = await fetch(`${running.url}?id=${token}`, {
      headers: { authorization: `Bearer ${alice}`, accept: 'text/event-stream' },
    });
    expect(events.status).toBe(200);
    const reader = events.body?.getReader();
    if (reader === undefined) throw new Error('no event stream');
    const handshake = await fetch(`${running.url}?id=${token}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'text/plain' },
      body: `{"protocol":"messagepack","version":1}${RS}`,
    });
    expect(handshake.status).toBe(200);
    let text = '';
    const decoder = new TextDecoder();
    const deadline = Date.now() + 5000;
    while (!text.includes(RS) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('');
    expect(JSON.parse(data.split(RS)[0] ?? '')).toEqual({
      error:
        "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.",
    });
    await reader.cancel().catch(() => undefined);
  });
});
