import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PublishedJwk } from '../src/keys/key-ring.js';
import {
  verifyOwnAccessToken,
  verifyOwnToken,
  type OwnTokenChecks,
  type OwnTokenVerification,
} from '../src/tokens/verify-own-token.js';

// Why a token of this server is refused: the reasons the On-Behalf-Of grant will answer 50013 / 500133 by.

const BASE = 'https://login.example';
const TID = '11111111-1111-1111-1111-111111111111';
const OTHER_TID = '22222222-2222-2222-2222-222222222222';
const NOW = Math.floor(Date.now() / 1000);
const SKEW_SECONDS = 300;

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let published: PublishedJwk[];
let signingKey: Key;
let unpublishedKey: Key;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  unpublishedKey = (await generateKeyPair('RS256')).privateKey;
  published = [
    { ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'RS256', x5t: 'x', x5c: [] },
  ];
});

/** A v2 access token as the server issues it, with `changes` applied (undefined removes a claim). */
function accessClaims(changes: Record<string, unknown> = {}): JWTPayload {
  const claims: Record<string, unknown> = {
    aud: 'api',
    iss: `${BASE}/${TID}/v2.0`,
    iat: NOW,
    nbf: NOW,
    exp: NOW + 3600,
    idtyp: 'user',
    tid: TID,
    uti: 'u1',
    ver: '2.0',
    grant_id: 'g1',
  };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) Reflect.deleteProperty(claims, name);
    else claims[name] = value;
  }
  return claims;
}

const idTokenClaims = (): JWTPayload =>
  accessClaims({ idtyp: undefined, uti: undefined, grant_id: undefined, auth_time: NOW });

async function sign(
  claims: JWTPayload,
  header: { typ?: string; kid?: string } = {},
  key: Key = signingKey,
): Promise<string> {
  return (
    new SignJWT(claims)
      // The header shape this server signs with (jws.ts): typ, alg, kid and the key's x5t.
      .setProtectedHeader({ typ: header.typ ?? 'at+jwt', alg: 'RS256', kid: header.kid ?? 'k1', x5t: 'x' })
      .sign(key)
  );
}

const revokedGrant: OwnTokenChecks['revocations'] = { isRevoked: (claims) => claims.grant_id === 'g1' };

interface Case {
  name: string;
  token: () => Promise<string>;
  accessToken?: boolean;
  checks?: OwnTokenChecks;
  expected: OwnTokenVerification['ok'] | Exclude<OwnTokenVerification, { ok: true }>['reason'];
}

const cases: Case[] = [
  { name: 'a valid access token', token: () => sign(accessClaims()), expected: true },
  { name: 'not a JWT', token: () => Promise.resolve('not.a.jwt'), expected: 'malformed' },
  {
    name: 'longer than 16384 characters',
    token: async () => `${await sign(accessClaims())}${'A'.repeat(16_384)}`,
    expected: 'malformed',
  },
  { name: 'without tid', token: () => sign(accessClaims({ tid: undefined })), expected: 'malformed' },
  {
    name: 'signed by a key this server does not publish',
    token: () => sign(accessClaims(), {}, unpublishedKey),
    expected: 'bad_signature',
  },
  {
    name: 'naming a key id this server does not publish',
    token: () => sign(accessClaims(), { kid: 'k2' }),
    expected: 'bad_signature',
  },
  {
    name: 'expired beyond the clock skew',
    token: () => sign(accessClaims({ exp: NOW - SKEW_SECONDS - 10 })),
    expected: 'expired',
  },
  {
    name: 'expired within the clock skew',
    token: () => sign(accessClaims({ exp: NOW - 10 })),
    expected: true,
  },
  {
    name: 'not yet valid',
    token: () => sign(accessClaims({ nbf: NOW + SKEW_SECONDS + 60 })),
    expected: 'not_yet_valid',
  },
  {
    name: 'the issuer of another tenant than its tid',
    token: () => sign(accessClaims({ iss: `${BASE}/${OTHER_TID}/v2.0` })),
    expected: 'wrong_issuer',
  },
  {
    name: 'another server’s issuer',
    token: () => sign(accessClaims({ iss: `https://elsewhere.example/${TID}/v2.0` })),
    expected: 'wrong_issuer',
  },
  {
    name: 'issued in another tenant than the one required',
    token: () => sign(accessClaims()),
    checks: { tenantId: OTHER_TID },
    expected: 'wrong_tenant',
  },
  {
    name: 'issued in the tenant required',
    token: () => sign(accessClaims()),
    checks: { tenantId: TID },
    expected: true,
  },
  {
    name: 'its grant revoked',
    token: () => sign(accessClaims()),
    checks: { revocations: revokedGrant },
    expected: 'revoked',
  },
  {
    name: 'an ID token shown as an access token',
    token: () => sign(idTokenClaims(), { typ: 'JWT' }),
    expected: 'not_access_token',
  },
  {
    name: 'a v2 access token whose header says JWT',
    token: () => sign(accessClaims(), { typ: 'JWT' }),
    expected: 'not_access_token',
  },
  {
    name: 'an ID token, where any token of this server will do',
    token: () => sign(idTokenClaims(), { typ: 'JWT' }),
    accessToken: false,
    expected: true,
  },
];

describe('verifying a token of this server', () => {
  it.each(cases)('$name', async ({ token, checks, accessToken, expected }) => {
    const verify = accessToken === false ? verifyOwnToken : verifyOwnAccessToken;
    const result = await verify({ publishedKeys: published }, BASE, await token(), SKEW_SECONDS, checks);
    expect(result.ok ? true : result.reason).toBe(expected);
  });
});
