import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PublishedJwk } from '../src/keys/key-ring.js';
import {
  MAX_CACHED_VERIFIED_TOKENS,
  verifyOwnAccessToken,
  verifyOwnToken,
  type OwnTokenChecks,
} from '../src/tokens/verify-own-token.js';

// A token verified a second time is remembered (the signature is not checked again; one seen once is not kept),
// and the cache never accepts what the full verification would refuse: lifetime, tenant, revocation, access-token
// shape, issuer base and key set are all decided again on every use.

const BASE = 'https://login.example';
const TID = '11111111-1111-1111-1111-111111111111';
const OTHER_TID = '22222222-2222-2222-2222-222222222222';
const SKEW_SECONDS = 300;

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let ring: { publishedKeys: PublishedJwk[] };
let signingKey: Key;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  ring = {
    publishedKeys: [
      { ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'ES256', x5t: 'x', x5c: [] },
    ],
  };
});

afterEach(() => {
  vi.useRealTimers();
});

let counter = 0;

/** A v2 access token of tenant TID, valid for `lifetimeSeconds` from now, unique (its own `uti`). */
function accessToken(changes: Record<string, unknown> = {}, typ = 'at+jwt'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  counter += 1;
  const claims: JWTPayload = {
    aud: 'api',
    iss: `${BASE}/${TID}/v2.0`,
    iat: now,
    nbf: now,
    exp: now + 3600,
    idtyp: 'user',
    tid: TID,
    uti: `u${counter}`,
    ver: '2.0',
    grant_id: 'g1',
    ...changes,
  };
  return new SignJWT(claims).setProtectedHeader({ typ, alg: 'ES256', kid: 'k1', x5t: 'x' }).sign(signingKey);
}

const verify = (token: string, checks?: OwnTokenChecks, base = BASE, skew = SKEW_SECONDS) =>
  verifyOwnAccessToken(ring, base, token, skew, checks);

/** Verifies `token` twice (the second time remembers it); the claims of the second verification. */
async function remember(
  token: string,
  verifier: (token: string) => ReturnType<typeof verify> = (t) => verify(t),
): Promise<JWTPayload> {
  expect((await verifier(token)).ok).toBe(true);
  const second = await verifier(token);
  expect(second.ok).toBe(true);
  return second.ok ? second.claims : {};
}

describe('the verified-token cache', () => {
  it('answers a token verified twice before with the same claims, without verifying it again', async () => {
    const token = await accessToken();
    const first = await verify(token);
    const second = await verify(token);
    const third = await verify(token);
    expect([first.ok, second.ok, third.ok]).toEqual([true, true, true]);
    if (!first.ok || !second.ok || !third.ok) return;
    // Seen once, not remembered: the second answer was verified afresh (a new claims object).
    expect(second.claims).not.toBe(first.claims);
    expect(second.claims).toEqual(first.claims);
    // The same (frozen) claims object: the third answer came from the cache.
    expect(third.claims).toBe(second.claims);
    expect(Object.isFrozen(third.claims)).toBe(true);
  });

  it('tokens seen once are not remembered, and do not push out the tokens that come back', async () => {
    const own = { publishedKeys: ring.publishedKeys.map((key) => ({ ...key })) };
    const verifyOwn = (t: string) => verifyOwnAccessToken(own, BASE, t, SKEW_SECONDS);
    const hot = await accessToken();
    const claims = await remember(hot, verifyOwn);
    for (let i = 0; i < MAX_CACHED_VERIFIED_TOKENS + 10; i += 1) {
      expect((await verifyOwn(await accessToken())).ok).toBe(true);
    }
    const again = await verifyOwn(hot);
    expect(again.ok && again.claims === claims).toBe(true);
  }, 60_000);

  it('refuses a cached token once it expires beyond the clock skew, and forgets it', async () => {
    const token = await accessToken();
    await remember(token);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (3600 + SKEW_SECONDS - 5) * 1000);
    expect((await verify(token)).ok).toBe(true);
    // The skew of this call, not of the call that filled the cache (introspection verifies with none).
    expect(await verify(token, {}, BASE, 0)).toEqual({ ok: false, reason: 'expired' });
    vi.setSystemTime(Date.now() + 10_000);
    expect(await verify(token)).toEqual({ ok: false, reason: 'expired' });
    expect(await verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a cached token whose clock moved back before its nbf', async () => {
    const token = await accessToken();
    await remember(token);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - (SKEW_SECONDS + 60) * 1000);
    expect(await verify(token)).toEqual({ ok: false, reason: 'not_yet_valid' });
  });

  it('checks revocations on every use, also of a cached token', async () => {
    const token = await accessToken();
    await remember(token, (t) => verify(t, { revocations: { isRevoked: () => false } }));
    expect(await verify(token, { revocations: { isRevoked: (claims) => claims.grant_id === 'g1' } })).toEqual(
      {
        ok: false,
        reason: 'revoked',
      },
    );
  });

  it('checks the required tenant on every use, also of a cached token', async () => {
    const token = await accessToken();
    await remember(token, (t) => verify(t, { tenantId: TID }));
    expect(await verify(token, { tenantId: OTHER_TID })).toEqual({ ok: false, reason: 'wrong_tenant' });
  });

  it('never takes a cached ID token for an access token', async () => {
    const idToken = await accessToken({ idtyp: undefined, uti: undefined, grant_id: undefined }, 'JWT');
    await remember(idToken, (t) => verifyOwnToken(ring, BASE, t, SKEW_SECONDS));
    expect(await verify(idToken)).toEqual({ ok: false, reason: 'not_access_token' });
  });

  it('does not use an entry verified under another issuer base', async () => {
    const token = await accessToken();
    await remember(token);
    expect(await verify(token, {}, 'https://elsewhere.example')).toEqual({
      ok: false,
      reason: 'wrong_issuer',
    });
  });

  it('refuses a cached token once its key is no longer published (a new key ring)', async () => {
    const token = await accessToken();
    await remember(token);
    const other = (await generateKeyPair('ES256')).publicKey;
    const rotated = {
      publishedKeys: [
        { ...(await exportJWK(other)), kid: 'k2', use: 'sig', alg: 'ES256', x5t: 'y', x5c: [] },
      ] as PublishedJwk[],
    };
    expect(await verifyOwnAccessToken(rotated, BASE, token, SKEW_SECONDS)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('a token carrying a remembered signature over other content is verified, and refused', async () => {
    const token = await accessToken();
    const claimsOf = await remember(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, oid: 'someone-else' })).toString('base64url');
    expect(await verify(`${header}.${forged}.${signature}`)).toEqual({ ok: false, reason: 'bad_signature' });
    // The genuine token is still the one remembered.
    const again = await verify(token);
    expect(again.ok && again.claims === claimsOf).toBe(true);
  });

  it('keeps no refused token: a token refused once is verified again, and refused again', async () => {
    const expired = await accessToken({ exp: Math.floor(Date.now() / 1000) - SKEW_SECONDS - 10 });
    expect(await verify(expired)).toEqual({ ok: false, reason: 'expired' });
    expect(await verify(expired)).toEqual({ ok: false, reason: 'expired' });
    const tampered = `${(await accessToken()).slice(0, -4)}AAAA`;
    expect(await verify(tampered)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verify(tampered)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it(`holds at most ${MAX_CACHED_VERIFIED_TOKENS} tokens per key ring, forgetting the oldest first`, async () => {
    const own = { publishedKeys: ring.publishedKeys.map((key) => ({ ...key })) };
    const verifyOwn = (t: string) => verifyOwnAccessToken(own, BASE, t, SKEW_SECONDS);
    const oldest = await accessToken();
    const first = await remember(oldest, verifyOwn);
    for (let i = 0; i < MAX_CACHED_VERIFIED_TOKENS; i += 1) await remember(await accessToken(), verifyOwn);
    const again = await verifyOwn(oldest);
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    // Verified afresh (a new claims object), and correctly.
    expect(again.claims).not.toBe(first);
    expect(again.claims).toEqual(first);
  }, 60_000);
});
