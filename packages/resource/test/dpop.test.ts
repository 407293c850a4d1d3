import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import {
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator, MemoryDpopReplayCache, type TokenValidator } from '@tessera/resource';
import { createExpressAuth } from '@tessera/resource/express';
import { tesseraAuth } from '@tessera/resource/fastify';
import { createNodeAuthenticator } from '@tessera/resource/node-http';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { appToken } from './support/tokens.js';

// RFC 9449 §7 at an API: DPoP-bound tokens from a real Tessera server, checked by each adapter with proofs signed
// by the holder's key, a thief's key, and replays.
let server: TestServer;
let s: ClientCredentialsScenario;
let validator: TokenValidator;

interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
}

async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

function proof(key: ProofKey, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}

/** A client credentials token bound to `key` (a proof at the token endpoint). */
async function dpopToken(key: ProofKey): Promise<string> {
  const tokenUrl = `${server.url}/${s.tenantId}/oauth2/v2.0/token`;
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof(key, { htm: 'POST', htu: tokenUrl }),
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: s.daemon.appId,
      client_secret: s.daemon.secret,
      scope: `${s.api.identifierUri}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token: string; token_type: string };
  expect(body.token_type).toBe('DPoP');
  return body.access_token;
}

beforeAll(async () => {
  server = await startTestServer();
  s = await seedClientCredentialsScenario(server.directory);
  validator = createTokenValidator({ authority: `${server.url}/${s.tenantId}`, audience: s.api.appId });
});
afterAll(() => server.close());

/** An API with one route `GET /data` behind an adapter, and its base URL. */
interface Api {
  readonly url: string;
  close(): Promise<void>;
}

const ALGS = 'ES256 ES384 ES512 RS256 PS256 EdDSA Ed25519';

const adapters: [string, (required: boolean) => Promise<Api>][] = [
  [
    'node:http',
    async (required) => {
      const auth = createNodeAuthenticator({ validator, dpop: { required } });
      const handler = auth.protect({}, (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      const listener: Server = createServer((request, response) => {
        void handler(request, response);
      });
      return listen(listener);
    },
  ],
  [
    'express',
    async (required) => {
      const auth = createExpressAuth({ validator, dpop: { required } });
      const app = express();
      app.get('/data', auth(), (_request, response) => {
        response.json({ ok: true });
      });
      return listen(createServer(app));
    },
  ],
  [
    'fastify',
    async (required) => {
      const app = Fastify();
      await app.register(tesseraAuth, { validator, dpop: { required } });
      app.get('/data', () => ({ ok: true }));
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, close: () => app.close() };
    },
  ],
];

async function listen(listener: Server): Promise<Api> {
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => {
          resolve();
        });
      }),
  };
}

describe.each(adapters)('DPoP at the %s adapter (RFC 9449 §7)', (_name, start) => {
  let api: Api;
  let key: ProofKey;
  let token: string;
  beforeAll(async () => {
    api = await start(false);
    key = await proofKey();
    token = await dpopToken(key);
  });
  afterAll(() => api.close());

  const get = (headers: Record<string, string>) => fetch(`${api.url}/data`, { headers });
  const good = () => proof(key, { htm: 'GET', htu: `${api.url}/data`, ath: ath(token) });

  async function refusal(response: Response) {
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: await response.json(),
    };
  }
  const dpopRefusal = (error: string, description: string) => ({
    status: 401,
    challenge: `DPoP realm="", error="${error}", error_description="${description}", algs="${ALGS}"`,
    body: { error, error_description: description },
  });

  it('accepts the DPoP-bound token with a proof by its key', async () => {
    expect(decodeJwt(token).cnf).toEqual({ jkt: key.jkt });
    const response = await get({ authorization: `DPoP ${token}`, dpop: await good() });
    expect(response.status).toBe(200);
  });

  it('refuses the stolen token presented as Bearer', async () => {
    const description = 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.';
    expect(await refusal(await get({ authorization: `Bearer ${token}` }))).toEqual(
      dpopRefusal('invalid_token', description),
    );
  });

  it("refuses the stolen token with a proof by the thief's key", async () => {
    const thief = await proofKey();
    const stolen = await proof(thief, { htm: 'GET', htu: `${api.url}/data`, ath: ath(token) });
    expect(await refusal(await get({ authorization: `DPoP ${token}`, dpop: stolen }))).toEqual(
      dpopRefusal(
        'invalid_token',
        'The access token is bound to another key than the one that signed the DPoP proof.',
      ),
    );
  });

  it('refuses a replayed proof', async () => {
    const once = await good();
    expect((await get({ authorization: `DPoP ${token}`, dpop: once })).status).toBe(200);
    expect(await refusal(await get({ authorization: `DPoP ${token}`, dpop: once }))).toEqual(
      dpopRefusal(
        'invalid_dpop_proof',
        'The DPoP proof was already used. Sign a new proof for every request.',
      ),
    );
  });

  const cases: [string, () => Promise<Record<string, string>>, () => string][] = [
    [
      'ath of another token',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'GET', htu: `${api.url}/data`, ath: ath('other') }),
      }),
      () => "The DPoP proof is not valid: 'ath' is not the hash of the access token.",
    ],
    [
      'no ath',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'GET', htu: `${api.url}/data` }),
      }),
      () => "The DPoP proof is not valid: it has no 'ath' claim for the access token.",
    ],
    [
      'wrong htm',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'POST', htu: `${api.url}/data`, ath: ath(token) }),
      }),
      () => "The DPoP proof is not valid: 'htm' 'POST' is not the request's method GET.",
    ],
    [
      'wrong htu',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'GET', htu: `${api.url}/other`, ath: ath(token) }),
      }),
      () => `The DPoP proof is not valid: 'htu' is not the URL of this endpoint, ${api.url}/data.`,
    ],
    [
      'iat too old',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await proof(key, {
          htm: 'GET',
          htu: `${api.url}/data`,
          ath: ath(token),
          iat: Math.floor(Date.now() / 1000) - 400,
        }),
      }),
      () => "The DPoP proof is not valid: 'iat' is more than 300 seconds in the past.",
    ],
    [
      'no proof',
      () => Promise.resolve({ authorization: `DPoP ${token}` }),
      () => 'The request has no DPoP proof header.',
    ],
    [
      'typ JWT',
      async () => ({
        authorization: `DPoP ${token}`,
        dpop: await new SignJWT({ jti: randomUUID(), htm: 'GET', htu: `${api.url}/data`, ath: ath(token) })
          .setIssuedAt()
          .setProtectedHeader({ alg: 'ES256', typ: 'JWT', jwk: key.jwk })
          .sign(key.privateKey),
      }),
      () => "The DPoP proof is not valid: its header 'typ' must be 'dpop+jwt'.",
    ],
  ];
  it.each(cases)('refuses a proof with %s: invalid_dpop_proof', async (_case, headers, description) => {
    expect(await refusal(await get(await headers()))).toEqual(
      dpopRefusal('invalid_dpop_proof', description()),
    );
  });

  it('offers both challenges to a request without credentials', async () => {
    const response = await get({});
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="", DPoP algs="${ALGS}"`);
  });

  it('still accepts plain bearer tokens when DPoP is not required', async () => {
    const bearer = await appToken(server, s);
    expect((await get({ authorization: `Bearer ${bearer}` })).status).toBe(200);
  });
});

describe('dpop.required and adapters without DPoP', () => {
  it('an API that requires DPoP refuses bearer tokens with a DPoP challenge', async () => {
    const api = await adapters[0]![1](true);
    try {
      const bearer = await appToken(server, s);
      const response = await fetch(`${api.url}/data`, { headers: { authorization: `Bearer ${bearer}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        `DPoP realm="", error="invalid_token", error_description="This API accepts only DPoP-bound access tokens sent with the DPoP scheme.", algs="${ALGS}"`,
      );
    } finally {
      await api.close();
    }
  });

  it('an adapter without dpop options refuses a DPoP-bound token as Bearer and knows no DPoP scheme', async () => {
    const auth = createNodeAuthenticator({ validator });
    const handler = auth.protect({}, (_request, response) => {
      response.writeHead(200).end();
    });
    const api = await listen(
      createServer((request, response) => {
        void handler(request, response);
      }),
    );
    try {
      const key = await proofKey();
      const token = await dpopToken(key);
      const asBearer = await fetch(`${api.url}/data`, { headers: { authorization: `Bearer ${token}` } });
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers.get('www-authenticate')).toBe(
        'Bearer realm="", error="invalid_token", error_description="The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof."',
      );
      const asDpop = await fetch(`${api.url}/data`, { headers: { authorization: `DPoP ${token}` } });
      expect(asDpop.status).toBe(401);
      expect(asDpop.headers.get('www-authenticate')).toBe('Bearer realm=""');
    } finally {
      await api.close();
    }
  });

  it('the memory replay cache forgets keys after their expiry and stays bounded', () => {
    let now = 1000;
    const cache = new MemoryDpopReplayCache(3, () => now);
    expect(cache.use('a', 1010)).toBe(true);
    expect(cache.use('a', 1010)).toBe(false);
    now = 1011;
    expect(cache.use('a', 1020)).toBe(true);
    expect(cache.use('b', 1020)).toBe(true);
    expect(cache.use('c', 1020)).toBe(true);
    expect(cache.use('d', 1020)).toBe(true);
    expect(cache.use('d', 1020)).toBe(false);
  });
});
