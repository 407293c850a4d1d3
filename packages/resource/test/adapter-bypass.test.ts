import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from '@fastify/cors';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTokenValidator, type TokenValidator } from '@tessera/resource';
import { createExpressAuth } from '@tessera/resource/express';
import { tesseraAuth } from '@tessera/resource/fastify';
import { createNodeAuthenticator } from '@tessera/resource/node-http';
import { startLocalIssuer, type LocalIssuer } from './support/local-issuer.js';

// Class of bug: a request method or header that makes an adapter skip authentication, so that a protected
// handler runs with no claims. Preflights (OPTIONS + Access-Control-Request-Method), plain OPTIONS, HEAD and every
// method of `app.all()` / method lists are sent, with and without an Origin, to routes of every adapter; each must be
// refused with the exact no-credentials challenge and the handler must never run. CORS is @fastify/cors's business.

const REALM = 'api';
const TENANT = '0b7c2a4e-9d1f-4e2b-8a6c-3f5e7d9b1a2c';
const ISSUER = `https://login.tessera.test/${TENANT}/v2.0`;
const AUDIENCE = 'api://bypass';
const SPA = 'https://spa.contoso.test';
const NO_TOKEN = 'The request has no bearer access token.';

/** What each adapter's routes are, by path. */
const ROUTES = {
  all: '/all', // app.all() (Fastify: every supported method, OPTIONS included)
  list: '/list', // an explicit method list including OPTIONS
  options: '/options', // an OPTIONS route
  get: '/get', // a GET route (HEAD answered from it)
} as const;
/** GET + OPTIONS requiring an app role the test token lacks: HEAD and preflights must keep the requirement. */
const GATED = '/gated';
const FORBIDDEN = 'The access token does not grant the permission this operation requires.';

interface Attempt {
  readonly name: string;
  readonly method: string;
  readonly headers: Record<string, string>;
}

const ATTEMPTS: readonly Attempt[] = [
  {
    name: 'preflight without Origin',
    method: 'OPTIONS',
    headers: { 'access-control-request-method': 'GET' },
  },
  {
    name: 'preflight from a browser origin',
    method: 'OPTIONS',
    headers: {
      origin: SPA,
      'access-control-request-method': 'DELETE',
      'access-control-request-headers': 'authorization',
    },
  },
  {
    name: 'preflight with an empty Access-Control-Request-Method',
    method: 'OPTIONS',
    headers: { origin: SPA, 'access-control-request-method': '' },
  },
  { name: 'plain OPTIONS', method: 'OPTIONS', headers: {} },
  { name: 'HEAD', method: 'HEAD', headers: {} },
  { name: 'GET with an Origin', method: 'GET', headers: { origin: SPA } },
  { name: 'POST', method: 'POST', headers: {} },
  {
    name: 'DELETE with Access-Control-Request-Method',
    method: 'DELETE',
    headers: { 'access-control-request-method': 'DELETE' },
  },
];

/** Which attempts reach which route (a route only answers its own methods; the others are 404s, not bypasses). */
function attemptsOf(path: string): readonly Attempt[] {
  if (path === ROUTES.all) return ATTEMPTS;
  if (path === ROUTES.list) return ATTEMPTS.filter((a) => ['GET', 'HEAD', 'OPTIONS'].includes(a.method));
  if (path === ROUTES.options) return ATTEMPTS.filter((a) => a.method === 'OPTIONS');
  return ATTEMPTS.filter((a) => ['GET', 'HEAD'].includes(a.method));
}

const TABLE = Object.values(ROUTES).flatMap((path) =>
  attemptsOf(path).map((attempt) => [path, attempt.name, attempt] as const),
);

interface RunningApi {
  readonly url: string;
  close(): Promise<void>;
}

/** Handler runs per adapter; any increment without a valid token is the bug. */
const runs = { fastify: 0, express: 0, node: 0 };

async function startFastify(validator: TokenValidator): Promise<RunningApi> {
  const app = Fastify();
  await app.register(tesseraAuth, { validator, realm: REALM });
  const handler = (request: { auth: unknown }) => {
    runs.fastify += 1;
    return { auth: request.auth };
  };
  app.all(ROUTES.all, handler);
  app.route({ method: ['GET', 'HEAD', 'OPTIONS'], url: ROUTES.list, exposeHeadRoute: false, handler });
  app.options(ROUTES.options, handler);
  app.get(ROUTES.get, handler);
  app.route({
    method: ['GET', 'OPTIONS'],
    url: GATED,
    config: { auth: { roles: ['Data.Write.All'] } },
    handler,
  });
  return { url: await app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() };
}

async function startExpress(validator: TokenValidator): Promise<RunningApi> {
  const auth = createExpressAuth({ validator, realm: REALM });
  const app = express();
  const handler = (req: express.Request, res: express.Response) => {
    runs.express += 1;
    res.json({ auth: req.auth ?? null });
  };
  app.all(ROUTES.all, auth(), handler);
  app.route(ROUTES.list).get(auth(), handler).options(auth(), handler);
  app.options(ROUTES.options, auth(), handler);
  app.get(ROUTES.get, auth(), handler);
  const gated = auth({ roles: ['Data.Write.All'] });
  app.route(GATED).get(gated, handler).options(gated, handler);
  return listen(app);
}

async function startNode(validator: TokenValidator): Promise<RunningApi> {
  const authenticator = createNodeAuthenticator({ validator, realm: REALM });
  const handler = (_request: IncomingMessage, response: ServerResponse, claims: unknown) => {
    runs.node += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth: claims }));
  };
  const open = authenticator.protect({}, handler);
  const gated = authenticator.protect({ roles: ['Data.Write.All'] }, handler);
  return listen((request, response) => void (request.url === GATED ? gated : open)(request, response));
}

async function listen(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<RunningApi> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function send(url: string, method: string, headers: Record<string, string>) {
  const response = await fetch(url, { method, headers });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

describe('no method or header skips authentication, on any adapter', () => {
  let local: LocalIssuer;
  let validator: TokenValidator;
  let token: string;
  const apis: Record<keyof typeof runs, RunningApi | undefined> = {
    fastify: undefined,
    express: undefined,
    node: undefined,
  };

  beforeAll(async () => {
    local = await startLocalIssuer();
    validator = createTokenValidator({ jwksUri: local.jwksUri, issuer: ISSUER, audience: AUDIENCE });
    const now = Math.floor(Date.now() / 1000);
    token = await local.sign({
      aud: AUDIENCE,
      iss: ISSUER,
      iat: now,
      nbf: now,
      exp: now + 600,
      sub: 'daemon',
      oid: 'daemon',
      tid: TENANT,
      azp: 'daemon-app',
      idtyp: 'app',
      roles: ['Data.Read.All'],
      ver: '2.0',
    });
    apis.fastify = await startFastify(validator);
    apis.express = await startExpress(validator);
    apis.node = await startNode(validator);
  });
  afterAll(async () => {
    await Promise.all(
      Object.values(apis).map((api) => (api === undefined ? Promise.resolve() : api.close())),
    );
    await local.close();
  });
  beforeEach(() => {
    runs.fastify = 0;
    runs.express = 0;
    runs.node = 0;
  });

  describe.each(['fastify', 'express', 'node'] as const)('%s', (adapter) => {
    it.each(TABLE)('%s, %s: refused, handler not run', async (path, _name, attempt) => {
      const result = await send(`${apis[adapter]!.url}${path}`, attempt.method, attempt.headers);
      expect(result).toEqual({
        status: 401,
        challenge: `Bearer realm="${REALM}"`,
        body: attempt.method === 'HEAD' ? undefined : { error: 'unauthorized', error_description: NO_TOKEN },
      });
      expect(runs[adapter]).toBe(0);
    });

    it.each([
      ['GET', {}],
      ['HEAD', {}],
      ['OPTIONS', {}],
      ['OPTIONS', { origin: SPA, 'access-control-request-method': 'GET' }],
    ])('%s %j of a role-gated route keeps its requirement: 403, handler not run', async (method, headers) => {
      const result = await send(`${apis[adapter]!.url}${GATED}`, method, {
        ...headers,
        authorization: `Bearer ${token}`,
      });
      expect(result).toEqual({
        status: 403,
        challenge: `Bearer realm="${REALM}", error="insufficient_scope", error_description="${FORBIDDEN}", scope="Data.Write.All"`,
        body: method === 'HEAD' ? undefined : { error: 'insufficient_scope', error_description: FORBIDDEN },
      });
      expect(runs[adapter]).toBe(0);
    });

    it('control: OPTIONS and a preflight with a valid token reach the handler with its claims', async () => {
      const variants: Record<string, string>[] = [
        {},
        { origin: SPA, 'access-control-request-method': 'GET' },
      ];
      for (const headers of variants) {
        const result = await send(`${apis[adapter]!.url}${ROUTES.all}`, 'OPTIONS', {
          ...headers,
          authorization: `Bearer ${token}`,
        });
        expect(result.status).toBe(200);
        expect(result.body).toMatchObject({ auth: { azp: 'daemon-app', tid: TENANT } });
      }
      expect(runs[adapter]).toBe(2);
    });
  });
});

describe('Fastify: CORS is answered by @fastify/cors, never by a protected handler', () => {
  let local: LocalIssuer;
  let app: FastifyInstance;
  let url: string;
  let runsHere = 0;

  beforeAll(async () => {
    local = await startLocalIssuer();
    const validator = createTokenValidator({ jwksUri: local.jwksUri, issuer: ISSUER, audience: AUDIENCE });
    app = Fastify();
    await app.register(cors, {
      origin: [SPA],
      methods: ['GET', 'DELETE'],
      allowedHeaders: ['authorization'],
    });
    await app.register(tesseraAuth, { validator, realm: REALM });
    app.all('/items', (request) => {
      runsHere += 1;
      return { auth: request.auth };
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await local.close();
  });

  it('@fastify/cors registered first answers the preflight; the handler does not run', async () => {
    const response = await fetch(`${url}/items`, {
      method: 'OPTIONS',
      headers: {
        origin: SPA,
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, DELETE');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization');
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.text()).toBe('');
    expect(runsHere).toBe(0);
  });

  it('the actual request without a token is refused, with the CORS headers the browser needs to read it', async () => {
    const response = await fetch(`${url}/items`, { method: 'DELETE', headers: { origin: SPA } });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${REALM}"`);
    expect(await response.json()).toEqual({ error: 'unauthorized', error_description: NO_TOKEN });
    expect(runsHere).toBe(0);
  });

  it('every other OPTIONS is answered by @fastify/cors itself, never by the handler', async () => {
    const answers = [];
    const variants: Record<string, string>[] = [
      { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' }, // origin not allowed
      { 'access-control-request-method': 'DELETE' }, // no Origin: not a preflight
      {}, // plain OPTIONS
    ];
    for (const headers of variants) {
      const response = await fetch(`${url}/items`, { method: 'OPTIONS', headers });
      answers.push({
        status: response.status,
        allowOrigin: response.headers.get('access-control-allow-origin'),
        body: await response.text(),
      });
    }
    expect(answers).toEqual([
      { status: 204, allowOrigin: null, body: '' },
      { status: 400, allowOrigin: null, body: 'Invalid Preflight Request' },
      { status: 400, allowOrigin: null, body: 'Invalid Preflight Request' },
    ]);
    expect(runsHere).toBe(0);
  });
});
