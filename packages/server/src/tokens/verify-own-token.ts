import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { KeyRing } from '../keys/key-ring.js';
import { issuerV1, issuerV2 } from './issuer.js';
import type { RevocationList } from './revocations.js';

/** Largest token verified, in characters. */
const MAX_TOKEN_LENGTH = 16_384;

/**
 * Why a token this server was shown is not one it accepts:
 * - `malformed`: not a JWT, longer than 16384 characters, or without a string `tid`;
 * - `bad_signature`: not signed by a published key with RS256 / ES256 (RFC 7515 §5.2);
 * - `expired` / `not_yet_valid`: outside `nbf`..`exp`, beyond the clock skew (RFC 7519 §4.1.4, §4.1.5);
 * - `wrong_issuer`: `iss` is not the v1 or v2 issuer of its own `tid`;
 * - `wrong_tenant`: issued in another tenant than the one required;
 * - `revoked`: the token or its grant is revoked;
 * - `not_access_token`: a valid token of this server, but not an access token (an ID token, RFC 9068 §4).
 *
 * The On-Behalf-Of grant tells expired assertions (500133) from invalid ones (50013) by these.
 */
export type OwnTokenRefusal =
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_tenant'
  | 'revoked'
  | 'not_access_token';

/** The outcome of verifying a token of this server: its claims, or why it is refused. */
export type OwnTokenVerification =
  | { readonly ok: true; readonly claims: JWTPayload }
  | { readonly ok: false; readonly reason: OwnTokenRefusal };

/** What a verification checks beyond signature, issuer and lifetime. */
export interface OwnTokenChecks {
  /** The tenant the token must be issued in (its `tid`); any tenant when absent. */
  readonly tenantId?: string | undefined;
  /** Revocations to consult (the token's `uti` and its `grant_id`); not consulted when absent. */
  readonly revocations?: Pick<RevocationList, 'isRevoked'> | undefined;
}

/**
 * A verification of a token this server issued. Never throws.
 *
 * @param keyRing the keys this server publishes (only they verify).
 * @param base the public base URL the issuers are rooted at.
 * @param clockSkewSeconds tolerance on `exp` and `nbf`, seconds.
 * @param checks tenant and revocation checks; none by default.
 */
export type OwnTokenVerifier = (
  keyRing: Pick<KeyRing, 'publishedKeys'>,
  base: string,
  token: string,
  clockSkewSeconds: number,
  checks?: OwnTokenChecks,
) => Promise<OwnTokenVerification>;

/**
 * Verifies a JWT this server issued (access or ID token): signature by a published key (RS256 / ES256 only), `iss`
 * the v1 or v2 issuer of its own `tid`, lifetime with `clockSkewSeconds` tolerance, then the optional checks. A token
 * whose signature verified is remembered (per key ring, at most {@link MAX_CACHED_VERIFIED_TOKENS}), so presenting
 * it again skips the signature check; its lifetime, tenant and revocations are checked again on every call.
 *
 * @see RFC 7519 §7.2, RFC 7515 §5.2
 */
export const verifyOwnToken: OwnTokenVerifier = (...args) => verifyOwn('any', ...args);

/**
 * Verifies an access token this server issued, as {@link verifyOwnToken} does, and refuses every other JWT it
 * signs (`not_access_token`): an access token says `idtyp` `user` or `app`, carries a `uti`, and its header `typ`
 * matches its version (`at+jwt` for `ver: "2.0"`, RFC 9068 §2.1; `JWT` for `ver: "1.0"`). ID tokens carry none of
 * these, so they are never taken for access tokens (RFC 7662 §2.2 `active`, OIDC Core §5.3.1).
 */
export const verifyOwnAccessToken: OwnTokenVerifier = (...args) => verifyOwn('access_token', ...args);

async function verifyOwn(
  accepted: 'any' | 'access_token',
  ...[keyRing, base, token, clockSkewSeconds, checks = {}]: Parameters<OwnTokenVerifier>
): Promise<OwnTokenVerification> {
  const verified = await verifyOwnJwt(keyRing, base, token, clockSkewSeconds);
  if (!verified.ok) return verified;
  const { payload, typ } = verified;
  if (accepted === 'access_token' && !isAccessToken(payload, typ))
    return { ok: false, reason: 'not_access_token' };
  if (checks.tenantId !== undefined && payload.tid !== checks.tenantId)
    return { ok: false, reason: 'wrong_tenant' };
  if (checks.revocations?.isRevoked(payload) === true) return { ok: false, reason: 'revoked' };
  return { ok: true, claims: payload };
}

/** Whether a verified JWT of this server is one of its access tokens (see {@link verifyOwnAccessToken}). */
function isAccessToken(payload: JWTPayload, typ: string | undefined): boolean {
  const expectedTyp = payload.ver === '2.0' ? 'at+jwt' : payload.ver === '1.0' ? 'JWT' : undefined;
  return (
    (payload.idtyp === 'user' || payload.idtyp === 'app') &&
    typeof payload.uti === 'string' &&
    payload.uti !== '' &&
    expectedTyp !== undefined &&
    typ === expectedTyp
  );
}

/** The key set of each published key list (one per key ring), so each key is imported once, not per token. */
const keySets = new WeakMap<readonly JWK[], ReturnType<typeof createLocalJWKSet>>();

/**
 * jose's local key set of `keys`, made on first use and kept while the list lives: the set caches each imported
 * key, so verifying a token does not import the RSA or EC key again (an import costs more than the signature
 * check).
 */
function localKeySet(keys: readonly JWK[]): ReturnType<typeof createLocalJWKSet> {
  let set = keySets.get(keys);
  if (set === undefined) {
    set = createLocalJWKSet({ keys: keys.map((key) => ({ ...key })) });
    keySets.set(keys, set);
  }
  return set;
}

/** A JWT whose signature and issuer were verified: its claims and its header's `typ`. */
interface VerifiedJwt {
  readonly payload: JWTPayload;
  readonly typ: string | undefined;
  /** The public base URL its issuer was checked against. */
  readonly base: string;
}

/** Most verified tokens remembered per published key list (the oldest is forgotten first). */
export const MAX_CACHED_VERIFIED_TOKENS = 4096;

/**
 * Tokens already verified, per published key list (one per key ring): the whole token string → its verified
 * claims. A client presents the same bearer token on every request for up to an hour (a Graph client paging a
 * collection, a middle tier trading one user's token for On-Behalf-Of), so the signature is checked once, not per
 * request. Only tokens whose signature verified are kept; a new key ring (a key retired from the published set)
 * starts an empty cache, so a token is never accepted under a key this server no longer publishes. Lifetime
 * (`exp`, `nbf` with the caller's clock skew) is checked again on every use, and tenant and revocations are checked
 * after the cache as before.
 */
const verifiedTokens = new WeakMap<readonly JWK[], Map<string, VerifiedJwt>>();

/** The lifetime refusal of verified claims at `nowSeconds`, as jose's `jwtVerify` decides it (RFC 7519 §4.1.4–5). */
function lifetimeRefusal(
  payload: JWTPayload,
  nowSeconds: number,
  clockSkewSeconds: number,
): OwnTokenRefusal | undefined {
  if (typeof payload.nbf === 'number' && payload.nbf > nowSeconds + clockSkewSeconds) return 'not_yet_valid';
  if (typeof payload.exp === 'number' && payload.exp <= nowSeconds - clockSkewSeconds) return 'expired';
  return undefined;
}

async function verifyOwnJwt(
  keyRing: Pick<KeyRing, 'publishedKeys'>,
  base: string,
  token: string,
  clockSkewSeconds: number,
): Promise<
  | { readonly ok: true; readonly payload: JWTPayload; readonly typ: string | undefined }
  | { readonly ok: false; readonly reason: OwnTokenRefusal }
> {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  let cache = verifiedTokens.get(keyRing.publishedKeys);
  const cached = cache?.get(token);
  if (cached !== undefined && cached.base === base) {
    const refusal = lifetimeRefusal(cached.payload, Math.floor(Date.now() / 1000), clockSkewSeconds);
    if (refusal === undefined) return { ok: true, payload: cached.payload, typ: cached.typ };
    if (refusal === 'expired') cache?.delete(token);
    return { ok: false, reason: refusal };
  }
  let tid: unknown;
  try {
    tid = decodeJwt(token).tid;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof tid !== 'string') return { ok: false, reason: 'malformed' };
  let verified: VerifiedJwt;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, localKeySet(keyRing.publishedKeys), {
      issuer: [issuerV2(base, tid), issuerV1(base, tid)],
      algorithms: ['RS256', 'ES256'],
      clockTolerance: clockSkewSeconds,
    });
    verified = { payload: Object.freeze(payload), typ: protectedHeader.typ, base };
  } catch (error) {
    return { ok: false, reason: refusalOf(error) };
  }
  if (cache === undefined) {
    cache = new Map();
    verifiedTokens.set(keyRing.publishedKeys, cache);
  }
  if (cache.size >= MAX_CACHED_VERIFIED_TOKENS) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(token, verified);
  return { ok: true, payload: verified.payload, typ: verified.typ };
}

/** The refusal a jose verification error stands for. */
function refusalOf(error: unknown): OwnTokenRefusal {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'iss') return 'wrong_issuer';
    return 'malformed';
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return 'malformed';
  // A signature that does not verify, a key this server does not publish, an algorithm it does not sign with.
  return 'bad_signature';
}
