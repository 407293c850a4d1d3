import { createHmac, createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { CompactSign, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator, type TokenValidator } from '@tessera/resource';
import { createNodeAuthenticator } from '@tessera/resource/node-http';
import { startLocalIssuer, type LocalIssuer } from './support/local-issuer.js';
import { appToken, compact, partsOf } from './support/tokens.js';

// Every JWT refusal of SPEC §4 tried as an attack against a real server's tokens and keys, through the node:http
// adapter over real HTTP, asserting the exact status, WWW-Authenticate challenge and JSON body. Attacks that need a
// valid signature on claims the server would never issue are signed with a local key served by a real local JWKS
// endpoint (support/local-issuer.ts).

const REALM = 'api';
const challenge = (error: string, description: string) =>
  `Bearer realm="${REALM}", error="${error}", error_description="${description}"`;

const MALFORMED = 'The access token is not a well-formed signed JWT.';
const TOO_LARGE = 'The access token is larger than this API accepts.';
const ALG_NOT_ALLOWED = 'The access token is signed with an algorithm this API does not accept.';
const ALG_KEY_MISMATCH = 'The access token algorithm does not match its signing key.';
const UNKNOWN_KEY = 'The access token is signed with an unknown key.';
const BAD_SIGNATURE = 'The access token signature is invalid.';
const BAD_TYPE = 'The access token type is not accepted.';
const NOT_ACCESS_TOKEN = 'The token is not an access token.';
const BAD_ISSUER = 'The access token issuer is not accepted.';
const BAD_TENANT = 'The access token was issued in a tenant this API does not accept.';
const BAD_AUDIENCE = 'The access token is not meant for this API.';
const EXPIRED = 'The access token has expired.';
const NOT_YET_VALID = 'The access token is not valid yet.';

describe('SPEC §4 JWT refusals, as attacks through the node:http adapter', () => {
  let server: TestServer;
  let a: ClientCredentialsScenario;
  let b: ClientCredentialsScenario;
  let local: LocalIssuer;
  let api: Server;
  let apiUrl: string;
  let token: string;
  let tokenB: string;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  let signature: string;
  let jwks: JWK[];
  let clockMs = Date.now();

  beforeAll(async () => {
    server = await startTestServer();
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    local = await startLocalIssuer();
    token = await appToken(server, a);
    tokenB = await appToken(server, b);
    ({ header, payload, signature } = partsOf(token));
    jwks = (
      (await (await fetch(`${server.url}/${a.tenantId}/discovery/v2.0/keys`)).json()) as { keys: JWK[] }
    ).keys;

    const authorityA = `${server.url}/${a.tenantId}`;
    const audience = [a.api.appId, a.api.identifierUri];
    const issuersA = [`${server.url}/${a.tenantId}/v2.0`, `${server.url}/${a.tenantId}/`];
    const validators: Record<string, TokenValidator> = {
      real: createTokenValidator({ authority: authorityA, audience }),
      clock: createTokenValidator({ authority: authorityA, audience, clock: () => new Date(clockMs) }),
      'issuer-b': createTokenValidator({
        jwksUri: `${authorityA}/discovery/v2.0/keys`,
        issuer: `${server.url}/${b.tenantId}/v2.0`,
        audience,
      }),
      'other-audience': createTokenValidator({ authority: authorityA, audience: 'api://someone-else' }),
      organizations: createTokenValidator({
        authority: `${server.url}/organizations`,
        audience: [...audience, b.api.appId],
        allowedTenants: [a.tenantId],
      }),
      local: createTokenValidator({ jwksUri: local.jwksUri, issuer: issuersA, audience }),
      'local-multi': createTokenValidator({
        jwksUri: local.jwksUri,
        issuer: `${server.url}/{tenantid}/v2.0`,
        audience: [...audience, b.api.appId],
        allowedTenants: [a.tenantId, b.tenantId],
      }),
    };
    const handlers = new Map(
      Object.entries(validators).map(([name, validator]) => [
        `/${name}`,
        createNodeAuthenticator({ validator, realm: REALM }).protect({}, (_request, response, claims) => {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims));
        }),
      ]),
    );
    // Node's default 16 KiB header limit would answer 431 before the validator sees an oversized token.
    api = createServer({ maxHeaderSize: 64 * 1024 }, (request, response) => {
      const handler = handlers.get(request.url ?? '');
      if (handler === undefined) response.writeHead(404).end();
      else void handler(request, response);
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => api.close(resolve));
    await local.close();
    await server.close();
  });

  async function call(path: string, authorization: string | undefined) {
    const response = await fetch(`${apiUrl}/${path}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  async function expectRefusal(path: string, bearer: string, description: string) {
    expect(await call(path, `Bearer ${bearer}`)).toEqual({
      status: 401,
      challenge: challenge('invalid_token', description),
      body: { error: 'invalid_token', error_description: description },
    });
  }

  async function expectAccepted(path: string, bearer: string) {
    const result = await call(path, `Bearer ${bearer}`);
    expect(result.status).toBe(200);
    expect(result.challenge).toBeNull();
    return result.body;
  }

  const serverKey = (kty: string) => jwks.find((key) => key.kty === kty)!;

  it('controls: the untouched tokens are accepted by every validator they are meant for', async () => {
    expect(await expectAccepted('real', token)).toMatchObject({ azp: a.daemon.appId, tid: a.tenantId });
    expect(await expectAccepted('clock', token)).toMatchObject({ tid: a.tenantId });
    expect(await expectAccepted('organizations', token)).toMatchObject({ tid: a.tenantId });
    expect(await expectAccepted('local', await local.sign(payload))).toMatchObject({ tid: a.tenantId });
    expect(await expectAccepted('local-multi', await local.sign(payload))).toMatchObject({ tid: a.tenantId });
    const fromB = { ...payload, iss: `${server.url}/${b.tenantId}/v2.0`, tid: b.tenantId };
    expect(await expectAccepted('local-multi', await local.sign(fromB))).toMatchObject({ tid: b.tenantId });
    await expectAccepted('local', await local.sign(payload, { typ: 'application/at+jwt' }));
  });

  it('no credentials: 401 with a bare challenge and no error code (RFC 6750 §3.1)', async () => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
      expect(await call('real', authorization)).toEqual({
        status: 401,
        challenge: `Bearer realm="${REALM}"`,
        body: { error: 'unauthorized', error_description: 'The request has no bearer access token.' },
      });
    }
  });

  it.each([['Bearer'], ['Bearer '], ['Bearer a b'], ['Bearer ab"c']])(
    'a malformed Authorization header (%j) is a 400 invalid_request',
    async (authorization) => {
      const description = 'The Authorization header is not a valid Bearer credential.';
      expect(await call('real', authorization)).toEqual({
        status: 400,
        challenge: challenge('invalid_request', description),
        body: { error: 'invalid_request', error_description: description },
      });
    },
  );

  it.each([
    ['not a JWT', () => 'abc'],
    ['two parts', () => 'e30.e30'],
    ['bad base64url in the header', () => 'eyJ+/.e30.c2ln'],
    ['a header that is not JSON', () => `${Buffer.from('not json').toString('base64url')}.e30.c2ln`],
    ['five parts (JWE)', () => 'a.b.c.d.e'],
  ])('malformed: %s', async (_name, make) => {
    await expectRefusal('real', make(), MALFORMED);
  });

  it('malformed: a validly signed payload that is not a JSON object', async () => {
    for (const text of ['[1', '"a"', 'not json']) {
      const jws = await new CompactSign(new TextEncoder().encode(text))
        .setProtectedHeader({ alg: 'RS256', kid: local.rsa.kid, typ: 'at+jwt' })
        .sign(local.rsa.privateKey);
      await expectRefusal('local', jws, MALFORMED);
    }
  });

  it('oversized: refused before parsing, whether garbage or a validly signed token', async () => {
    await expectRefusal('real', 'a'.repeat(16_385), TOO_LARGE);
    const big = await local.sign({ ...payload, padding: 'x'.repeat(16_500) });
    await expectRefusal('local', big, TOO_LARGE);
  });

  it('alg none', async () => {
    await expectRefusal('real', compact({ ...header, alg: 'none' }, payload, ''), ALG_NOT_ALLOWED);
  });

  it('HS256 signed with the server RSA public key as the HMAC secret (algorithm confusion)', async () => {
    const rsa = serverKey('RSA');
    const pem = createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [pem, JSON.stringify(rsa)]) {
      const forgedHeader = { alg: 'HS256', typ: 'at+jwt', kid: rsa.kid };
      const input = compact(forgedHeader, payload, '').slice(0, -1);
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      await expectRefusal('real', `${input}.${mac}`, ALG_NOT_ALLOWED);
    }
  });

  it('RS256 header on the ES256 key, and ES256 header on the RSA key', async () => {
    await expectRefusal(
      'real',
      compact({ ...header, kid: serverKey('EC').kid }, payload, signature),
      ALG_KEY_MISMATCH,
    );
    await expectRefusal('real', compact({ ...header, alg: 'ES256' }, payload, signature), ALG_KEY_MISMATCH);
  });

  it('forged: claims altered under the original signature', async () => {
    const escalated = { ...payload, roles: ['Data.Read.All', 'Data.Write.All'] };
    await expectRefusal('real', compact(header, escalated, signature), BAD_SIGNATURE);
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    await expectRefusal('real', compact(header, payload, flipped), BAD_SIGNATURE);
  });

  it("wrong key: the attacker's own key under the server's kid", async () => {
    const forged = await local.sign(payload, { kid: header.kid, x5t: header.x5t });
    await expectRefusal('real', forged, BAD_SIGNATURE);
  });

  it('wrong key with a kid the JWKS lacks, with or without an embedded jwk header', async () => {
    await expectRefusal('real', await local.sign(payload, { kid: 'attacker-key' }), UNKNOWN_KEY);
    await expectRefusal(
      'real',
      await local.sign(payload, { kid: 'attacker-key', jwk: local.rsa.publicJwk }),
      UNKNOWN_KEY,
    );
    await expectRefusal(
      'real',
      await local.sign(payload, { kid: undefined, jwk: local.rsa.publicJwk }),
      UNKNOWN_KEY,
    );
  });

  it('unknown kid on a genuine token', async () => {
    await expectRefusal('real', compact({ ...header, kid: 'no-such-kid' }, payload, signature), UNKNOWN_KEY);
  });

  it('wrong issuer: another tenant, another host', async () => {
    await expectRefusal('issuer-b', token, BAD_ISSUER);
    await expectRefusal(
      'local',
      await local.sign({ ...payload, iss: `${server.url}/${b.tenantId}/v2.0` }),
      BAD_ISSUER,
    );
    const otherHost = { ...payload, iss: `https://evil.example/${a.tenantId}/v2.0` };
    await expectRefusal('local', await local.sign(otherHost), BAD_ISSUER);
    await expectRefusal('local-multi', await local.sign(otherHost), BAD_ISSUER);
  });

  it('wrong tenant: tid differs from the tenant in iss (multi-tenant template)', async () => {
    await expectRefusal('local-multi', await local.sign({ ...payload, tid: b.tenantId }), BAD_ISSUER);
    const notGuid = { ...payload, iss: `${server.url}/contoso/v2.0`, tid: 'contoso' };
    await expectRefusal('local-multi', await local.sign(notGuid), BAD_ISSUER);
  });

  it('wrong tenant: a genuine token from a tenant outside the allow-list (organizations authority)', async () => {
    await expectRefusal('organizations', tokenB, BAD_TENANT);
  });

  it('wrong audience', async () => {
    await expectRefusal('other-audience', token, BAD_AUDIENCE);
    await expectRefusal('real', tokenB, BAD_AUDIENCE);
  });

  it('expired and not yet valid, beyond and within the 60 s skew', async () => {
    const exp = payload.exp as number;
    const nbf = payload.nbf as number;
    clockMs = (exp + 59) * 1000;
    await expectAccepted('clock', token);
    clockMs = (exp + 61) * 1000;
    await expectRefusal('clock', token, EXPIRED);
    clockMs = (nbf - 59) * 1000;
    await expectAccepted('clock', token);
    clockMs = (nbf - 61) * 1000;
    await expectRefusal('clock', token, NOT_YET_VALID);
    clockMs = Date.now();
  });

  it.each([['JWT'], ['id_token+jwt'], ['jose'], [undefined]])('wrong typ %j on a v2.0 token', async (typ) => {
    await expectRefusal('local', await local.sign(payload, { typ }), BAD_TYPE);
  });

  it.each([['id_token+jwt'], ['dpop+jwt'], [undefined]])('wrong typ %j on a v1.0 token', async (typ) => {
    const v1 = { ...payload, iss: `${server.url}/${a.tenantId}/`, ver: '1.0', appid: a.daemon.appId };
    await expectAccepted('local', await local.sign(v1, { typ: 'JWT' }));
    await expectRefusal('local', await local.sign(v1, { typ }), BAD_TYPE);
  });

  it('id_tokens and other non-access tokens', async () => {
    const { idtyp: _idtyp, roles: _roles, ...user } = payload;
    // A v2.0 id_token issued to the API acting as a client: typ JWT (refused on typ), or retyped at+jwt (nonce).
    const idToken = { ...user, nonce: 'n-0S6_WzA2Mj', preferred_username: 'ada@contoso.test' };
    await expectRefusal('local', await local.sign(idToken, { typ: 'JWT' }), BAD_TYPE);
    await expectRefusal('local', await local.sign(idToken), NOT_ACCESS_TOKEN);
    await expectRefusal(
      'local',
      await local.sign({ ...user, at_hash: 'x', scp: 'User.Read' }),
      NOT_ACCESS_TOKEN,
    );
    // v1.0 id_token shape: typ JWT, no scp, no idtyp.
    const v1 = { ...user, iss: `${server.url}/${a.tenantId}/`, ver: '1.0', appid: a.daemon.appId };
    await expectRefusal('local', await local.sign(v1, { typ: 'JWT' }), NOT_ACCESS_TOKEN);
    const { ver: _ver, ...noVersion } = payload;
    await expectRefusal('local', await local.sign(noVersion), NOT_ACCESS_TOKEN);
    await expectRefusal('local', await local.sign({ ...payload, scp: 'User.Read' }), NOT_ACCESS_TOKEN);
  });
});
