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
import { createTokenValidator, type TokenValidator, type TokenValidatorOptions } from '@tessera/resource';
import { createNodeAuthenticator } from '@tessera/resource/node-http';
import { startLocalIssuer, type LocalIssuer } from './support/local-issuer.js';
import { appToken, compact, partsOf } from './support/tokens.js';

// Every JWT refusal of docs/resource.md tried as an attack against a real server's tokens and keys, through the node:http
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
const BAD_LIFETIME = 'The access token lifetime is not valid.';
const BAD_CLAIM = 'The access token lacks a required claim or has a claim of the wrong type.';

describe('JWT refusals (RFC 8725, docs/resource.md), as attacks through the node:http adapter', () => {
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
  let validators: Record<string, TokenValidator>;
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
    validators = {
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
      // Issuers from discovery (single tenant A), keys from the local JWKS.
      'local-discovered': createTokenValidator({ authority: authorityA, jwksUri: local.jwksUri, audience }),
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

  // Class: a lifetime that no token the authority issues has — issued in the future, or never valid. jose checks
  // `exp` and `nbf` against the clock only; `iat` and the order of the three are ours (60 s skew).
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  it.each<[string, () => Record<string, number>, string]>([
    ['iat 90 s in the future (skew 60 s)', () => ({ iat: nowSeconds() + 90 }), NOT_YET_VALID],
    [
      'iat an hour in the future, nbf now',
      () => ({ iat: nowSeconds() + 3600, nbf: nowSeconds() }),
      NOT_YET_VALID,
    ],
    ['iat a year in the future, no nbf', () => ({ iat: nowSeconds() + 31_536_000, nbf: -1 }), NOT_YET_VALID],
    [
      'iat after exp (exp within the skew)',
      () => ({ iat: nowSeconds() - 5, nbf: nowSeconds() - 20, exp: nowSeconds() - 10 }),
      BAD_LIFETIME,
    ],
    [
      'iat equal to exp',
      () => ({ iat: nowSeconds() + 30, nbf: nowSeconds(), exp: nowSeconds() + 30 }),
      BAD_LIFETIME,
    ],
    [
      'nbf after exp (both within the skew)',
      () => ({ iat: nowSeconds() - 30, nbf: nowSeconds() - 5, exp: nowSeconds() - 10 }),
      BAD_LIFETIME,
    ],
  ])('lifetime: %s', async (_name, times, description) => {
    const claims: Record<string, unknown> = { ...payload, ...times() };
    if (claims.nbf === -1) delete claims.nbf;
    await expectRefusal('local', await local.sign(claims), description);
    await expectRefusal('local-discovered', await local.sign(claims), description);
  });

  it('lifetime controls: iat within the skew, nbf before iat', async () => {
    await expectAccepted('local', await local.sign({ ...payload, iat: nowSeconds() + 50 }));
    await expectAccepted(
      'local',
      await local.sign({ ...payload, iat: nowSeconds(), nbf: nowSeconds() - 300 }),
    );
  });

  // Class: a tenant that is not the issuer's. All tenants share the signing keys, so in single-tenant mode (exact
  // issuers, configured or discovered) `tid` must be the tenant the matched `iss` names.
  it.each<[string, () => Record<string, unknown>, string]>([
    ['v2.0 iss of A with tid of B', () => ({ tid: b.tenantId }), BAD_ISSUER],
    [
      'v1.0 iss of A with tid of B',
      () => ({ iss: `${server.url}/${a.tenantId}/`, ver: '1.0', appid: a.daemon.appId, tid: b.tenantId }),
      BAD_ISSUER,
    ],
    ['tid not a GUID', () => ({ tid: 'contoso.test' }), BAD_ISSUER],
    ['tid empty', () => ({ tid: '' }), BAD_ISSUER],
    ['tid missing', () => ({ tid: undefined }), BAD_CLAIM],
    ['tid a number', () => ({ tid: 7 }), BAD_CLAIM],
  ])('single tenant: %s', async (_name, claims, description) => {
    const forged = { ...payload, ...claims() };
    const typ = forged.ver === '1.0' ? 'JWT' : 'at+jwt';
    await expectRefusal('local', await local.sign(forged, { typ }), description);
    await expectRefusal('local-discovered', await local.sign(forged, { typ }), description);
  });

  it('single tenant control: the same claims with tid of A are accepted on both validators', async () => {
    await expectAccepted('local-discovered', await local.sign(payload));
    const v1 = { ...payload, iss: `${server.url}/${a.tenantId}/`, ver: '1.0', appid: a.daemon.appId };
    await expectAccepted('local-discovered', await local.sign(v1, { typ: 'JWT' }));
  });

  // Class: another spelling of the same signed bytes. Lenient base64url decoders accept padding, the base64
  // alphabet and non-zero pad bits; one token must have one spelling (RFC 7515 §2, RFC 4648 §3.5).
  describe('one token, one spelling', () => {
    let parts: [string, string, string];

    beforeAll(async () => {
      // Pad the header and payload so that neither is a multiple of 3 bytes (pad bits exist), and find a signature
      // and payload that hold '-' or '_' (so the base64 alphabet can be substituted).
      for (let attempt = 0; ; attempt += 1) {
        if (attempt > 200) throw new Error('no suitable token');
        // Three '?' in a row: one of them is the last byte of a 3-byte group, which base64url spells '_'.
        const jti = `???-${attempt}${'x'.repeat(Math.floor(attempt / 3) % 3)}`;
        const jws = await local.sign({ ...payload, jti }, { fill: 'x'.repeat(attempt % 3) });
        const [h = '', p = '', sig = ''] = jws.split('.');
        if (h.length % 4 !== 0 && p.length % 4 !== 0 && /[-_]/.test(p) && /[-_]/.test(sig)) {
          parts = [h, p, sig];
          break;
        }
      }
      await expectAccepted('local', parts.join('.'));
    });

    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    /** The same bytes with the last character's unused bits set (a decoder that ignores them decodes the same). */
    const dirtyPadBits = (part: string) => {
      const last = ALPHABET.indexOf(part.at(-1)!);
      return `${part.slice(0, -1)}${ALPHABET[last + 1]!}`;
    };
    const padded = (part: string) => `${part}${'='.repeat((4 - (part.length % 4)) % 4 || 2)}`;
    const base64Alphabet = (part: string) => part.replaceAll('-', '+').replaceAll('_', '/');
    const respell = (index: 0 | 1 | 2, change: (part: string) => string) =>
      parts.map((part, i) => (i === index ? change(part) : part)).join('.');

    it.each<[string, 0 | 1 | 2, (part: string) => string]>([
      ['header with = padding', 0, padded],
      ['payload with = padding', 1, padded],
      ['signature with = padding', 2, padded],
      ['signature with == appended', 2, (part) => `${part}==`],
      ['payload in the base64 alphabet (+ /)', 1, base64Alphabet],
      ['signature in the base64 alphabet (+ /)', 2, base64Alphabet],
      ['header with non-zero pad bits', 0, dirtyPadBits],
      ['payload with non-zero pad bits', 1, dirtyPadBits],
      ['signature with non-zero pad bits', 2, dirtyPadBits],
      [
        'payload of a length no base64 has',
        1,
        (part) => `${part.slice(0, part.length - (part.length % 4))}A`,
      ],
    ])('%s is refused as malformed', async (_name, index, change) => {
      const token = respell(index, change);
      // The validator refuses every spelling (the hub calls it directly, with tokens from the query string).
      expect(await validators.local!.validate(token).catch((error: unknown) => error)).toMatchObject({
        code: 'token_malformed',
      });
      if (/=[^=]/.test(token)) {
        // '=' inside the header value is not RFC 6750 b64token syntax: the adapter refuses it before validating.
        const description = 'The Authorization header is not a valid Bearer credential.';
        expect(await call('local', `Bearer ${token}`)).toEqual({
          status: 400,
          challenge: challenge('invalid_request', description),
          body: { error: 'invalid_request', error_description: description },
        });
      } else {
        await expectRefusal('local', token, MALFORMED);
      }
    });
  });
});

// Class: a configuration that widens what is accepted beyond what the security model allows. Refused when the
// validator is created, with the exact message.
describe('configuration bounds', () => {
  const base = {
    jwksUri: 'https://login.tessera.test/keys',
    issuer: 'https://login.tessera.test/0b7c2a4e-9d1f-4e2b-8a6c-3f5e7d9b1a2c/v2.0',
    audience: 'api://x',
  };

  it.each<[string, Partial<TokenValidatorOptions>, string]>([
    ['a skew of 301 s', { clockSkewSeconds: 301 }, '"clockSkewSeconds" must be at most 300 seconds: 301'],
    [
      'a skew of one year',
      { clockSkewSeconds: 31_536_000 },
      '"clockSkewSeconds" must be at most 300 seconds: 31536000',
    ],
    ['an infinite skew', { clockSkewSeconds: Infinity }, '"clockSkewSeconds" must be a non-negative number.'],
    ['a negative skew', { clockSkewSeconds: -1 }, '"clockSkewSeconds" must be a non-negative number.'],
    ['a NaN skew', { clockSkewSeconds: NaN }, '"clockSkewSeconds" must be a non-negative number.'],
    [
      'a JWKS cached over a day',
      { jwksCacheMaxAgeMs: 86_400_001 },
      '"jwksCacheMaxAgeMs" must be at most 86400000 milliseconds: 86400001',
    ],
    [
      'an exact issuer naming no tenant',
      { issuer: 'https://login.tessera.test/contoso/v2.0' },
      '"issuer" must name its tenant (https://{host}/{tenant id}/v2.0 or …/{tenant id}/, a GUID): https://login.tessera.test/contoso/v2.0',
    ],
    [
      'an exact issuer without a path',
      {
        issuer: [
          'https://login.tessera.test/0b7c2a4e-9d1f-4e2b-8a6c-3f5e7d9b1a2c/',
          'https://login.tessera.test',
        ],
      },
      '"issuer" must name its tenant (https://{host}/{tenant id}/v2.0 or …/{tenant id}/, a GUID): https://login.tessera.test',
    ],
  ])('refuses %s', (_name, override, message) => {
    expect(() => createTokenValidator({ ...base, ...override })).toThrow(new TypeError(message));
  });

  it('accepts the bounds themselves', () => {
    for (const override of [
      { clockSkewSeconds: 0 },
      { clockSkewSeconds: 300 },
      { jwksCacheMaxAgeMs: 86_400_000 },
    ]) {
      expect(() => createTokenValidator({ ...base, ...override })).not.toThrow();
    }
  });
});
