import { createPublicKey, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import type { SigningAlgorithm } from '../keys/algorithms.js';
import type { JWK, JWTPayload } from 'jose';
import type { KeyRing } from '../keys/key-ring.js';
import { issuerV1, issuerV2 } from './issuer.js';
import type { RevocationList } from './revocations.js';

/** Largest token verified, in characters. */
const MAX_TOKEN_LENGTH = 16_384;

/**
 * Why a token this server was shown is not one it accepts:
 * - `malformed`: not a JWT (three parts of canonical base64url, a JSON object header and payload), longer than
 *   16384 characters, without a string `tid`, or with an `iat` or `exp` that is not a number;
 * - `bad_signature`: not signed by a published key with RS256 / ES256 (RFC 7515 §5.2) under the protected header
 *   this server signs with (`typ`, `alg`, `kid`, `x5t` and no other member);
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
 * whose signature verified on its second presentation is remembered (per key ring, at most
 * {@link MAX_CACHED_VERIFIED_TOKENS}), so presenting it again skips the signature check; its lifetime, tenant and revocations are checked again on every call.
 *
 * Only what this server signs (`jws.ts`) is accepted: three parts of canonical unpadded base64url (RFC 7515 §2,
 * RFC 4648 §5, §3.5), a protected header of exactly `typ` (`at+jwt` or `JWT`), `alg` (RS256 or ES256, the published
 * key's), `kid` (a published key) and `x5t` (that key's certificate thumbprint) — any other member (`crit`, `jku`,
 * `jwk`, `b64`, ...) or algorithm (`none`, HS256, PS256, ...) is `bad_signature` — and a payload that is a JSON
 * object.
 *
 * The signature is checked with `node:crypto` (`crypto.verify`, ES256 as R‖S, RFC 7518 §3.4) against a public
 * `KeyObject` imported once per published key, not with jose's `jwtVerify`: jose 6 verifies through WebCrypto,
 * which cost about 90 µs per RS256 token against about 34 µs here, and every On-Behalf-Of and token exchange
 * verifies a new user token (bench:obo, 2026-12-02). Token signing does the same for the same reason (`jws.ts`).
 * The claims checks are jose's, in jose's order; jose stays for everything else JOSE, and the tests check this
 * verifier against tokens signed by jose.
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

/** The verification, synchronous: no step waits (the signature check is one `crypto.verify` call, ~34 µs). */
function verifyOwn(
  accepted: 'any' | 'access_token',
  ...args: Parameters<OwnTokenVerifier>
): Promise<OwnTokenVerification> {
  return Promise.resolve(verifyOwnNow(accepted, ...args));
}

function verifyOwnNow(
  accepted: 'any' | 'access_token',
  ...[keyRing, base, token, clockSkewSeconds, checks = {}]: Parameters<OwnTokenVerifier>
): OwnTokenVerification {
  const verified = verifyOwnJwt(keyRing, base, token, clockSkewSeconds);
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

/** A published key ready to check signatures: its algorithm, certificate thumbprint and `crypto.verify` key. */
interface VerificationKey {
  readonly alg: SigningAlgorithm;
  readonly x5t: string;
  readonly key: KeyObject | VerifyKeyObjectInput;
}

/** A protected header this server signs with, checked: its `typ` and the published key its `kid` names. */
interface CheckedHeader {
  readonly typ: string;
  readonly key: VerificationKey;
}

/** A JWT whose signature and issuer were verified: the token, its claims and its header's `typ`. */
interface VerifiedJwt {
  /** The whole token (the cache is keyed by its signature part only). */
  readonly token: string;
  readonly payload: JWTPayload;
  readonly typ: string | undefined;
  /** The public base URL its issuer was checked against. */
  readonly base: string;
}

/** What is derived from one published key list (one per key ring), and forgotten with it. */
interface KeyListState {
  /** Per `kid`: its key, or null when the key is unusable or its `kid` is published twice (never chosen). */
  readonly keys: ReadonlyMap<string, VerificationKey | null>;
  /** Encoded protected headers accepted, at most {@link ACCEPTED_HEADERS_KEPT} (emptied when full). */
  readonly headers: Map<string, CheckedHeader>;
  /**
   * Tokens whose signature verified, by their signature part: a shorter key to hash than the whole token, which
   * the entry holds and a hit must equal (a token with a remembered signature and other content is verified).
   */
  readonly verified: Map<string, VerifiedJwt>;
  /**
   * Tokens verified once and not remembered, by 16 bytes of their signature (at most
   * {@link MAX_CACHED_VERIFIED_TOKENS}; emptied when full): a token is remembered when it is verified again.
   */
  readonly seenOnce: Set<string>;
}

/** Most verified tokens remembered per published key list (the oldest is forgotten first). */
export const MAX_CACHED_VERIFIED_TOKENS = 4096;

/**
 * Accepted header segments kept per key list: the server signs with a few keys, each with two `typ`s, so every
 * token it issues carries one of a handful of header segments.
 */
const ACCEPTED_HEADERS_KEPT = 16;

/** Smallest RSA modulus accepted, in bits (RFC 7518 §3.3). */
const MIN_RSA_MODULUS_BITS = 2048;

/** The `typ`s this server signs with (`access-token.ts`, `user-tokens.ts`). */
const SIGNED_TYPS: ReadonlySet<string> = new Set(['at+jwt', 'JWT']);

/** The protected header members this server signs with (`jws.ts`). */
const SIGNED_HEADER_MEMBERS: ReadonlySet<string> = new Set(['typ', 'alg', 'kid', 'x5t']);

/**
 * Per published key list (one per key ring): its public keys, imported once, the header segments accepted and the
 * tokens verified. A client presents the same bearer token on every request for up to an hour (a Graph client
 * paging a collection, a middle tier trading one user's token for On-Behalf-Of), so the signature is checked twice,
 * not per request. A token is remembered only when it comes a second time: most tokens a middle tier trades come
 * once (MSAL caches the On-Behalf-Of result per assertion), and remembering those would keep thousands of claim
 * sets alive for nothing (garbage collector work on every request) and push the tokens that do come back out of
 * the cache. Only tokens whose signature verified are kept; a new key ring (a key retired from the published
 * set) starts with nothing remembered, so a token is never accepted under a key this server no longer publishes.
 * Lifetime (`exp`, `nbf` with the caller's clock skew) is checked again on every use, and tenant and revocations are
 * checked after the cache as before.
 */
const keyListStates = new WeakMap<readonly JWK[], KeyListState>();

function keyListState(keys: readonly JWK[]): KeyListState {
  let state = keyListStates.get(keys);
  if (state === undefined) {
    state = { keys: verificationKeys(keys), headers: new Map(), verified: new Map(), seenOnce: new Set() };
    keyListStates.set(keys, state);
  }
  return state;
}

/**
 * The published keys by `kid`, imported as public `KeyObject`s: an RS256 key must be RSA of at least 2048 bits,
 * an ES256 key EC on P-256, with `use` `sig` or none (RFC 7517 §4.2); a key that is not, or whose `kid` is not
 * unique, maps to null and verifies nothing (as jose's local key set refuses several matching keys).
 */
function verificationKeys(keys: readonly JWK[]): ReadonlyMap<string, VerificationKey | null> {
  const byKid = new Map<string, VerificationKey | null>();
  for (const jwk of keys) {
    if (typeof jwk.kid !== 'string') continue;
    const key = byKid.has(jwk.kid) ? null : verificationKey(jwk);
    byKid.set(jwk.kid, key);
  }
  return byKid;
}

function verificationKey(jwk: JWK): VerificationKey | null {
  const { x5t } = jwk;
  const alg: SigningAlgorithm | undefined =
    jwk.alg === 'RS256' ? 'RS256' : jwk.alg === 'ES256' ? 'ES256' : undefined;
  if (alg === undefined || typeof x5t !== 'string') return null;
  if (jwk.use !== undefined && jwk.use !== 'sig') return null;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return null;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  } catch {
    return null;
  }
  const details = key.asymmetricKeyDetails;
  if (alg === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa' || (details?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS) return null;
    return { alg, x5t, key };
  }
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') return null;
  return { alg, x5t, key: { key, dsaEncoding: 'ieee-p1363' } };
}

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

/**
 * The refusal of the claims of a token whose signature verified, checked as jose's `jwtVerify` checks them with
 * `issuer` and `clockTolerance`, in its order and with the reasons its errors stood for: `iss` present and one of
 * the two issuers, `iat` a number if present, `nbf` (a number, not after now plus the skew), `exp` (a number, after
 * now minus the skew).
 */
function claimsRefusal(
  payload: JWTPayload,
  base: string,
  tid: string,
  nowSeconds: number,
  clockSkewSeconds: number,
): OwnTokenRefusal | undefined {
  if (!Object.hasOwn(payload, 'iss')) return 'wrong_issuer';
  if (payload.iss !== issuerV2(base, tid) && payload.iss !== issuerV1(base, tid)) return 'wrong_issuer';
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return 'malformed';
  if (payload.nbf !== undefined && typeof payload.nbf !== 'number') return 'not_yet_valid';
  if (typeof payload.nbf === 'number' && payload.nbf > nowSeconds + clockSkewSeconds) return 'not_yet_valid';
  if (payload.exp !== undefined && typeof payload.exp !== 'number') return 'malformed';
  if (typeof payload.exp === 'number' && payload.exp <= nowSeconds - clockSkewSeconds) return 'expired';
  return undefined;
}

type JwtOutcome =
  | { readonly ok: true; readonly payload: JWTPayload; readonly typ: string | undefined }
  | { readonly ok: false; readonly reason: OwnTokenRefusal };

function verifyOwnJwt(
  keyRing: Pick<KeyRing, 'publishedKeys'>,
  base: string,
  token: string,
  clockSkewSeconds: number,
): JwtOutcome {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const state = keyListState(keyRing.publishedKeys);
  const cache = state.verified;
  const nowSeconds = Math.floor(Date.now() / 1000);
  const signaturePart = token.slice(token.lastIndexOf('.') + 1);
  const cached = cache.get(signaturePart);
  if (cached !== undefined && cached.token === token && cached.base === base) {
    const refusal = lifetimeRefusal(cached.payload, nowSeconds, clockSkewSeconds);
    if (refusal === undefined) return { ok: true, payload: cached.payload, typ: cached.typ };
    if (refusal === 'expired') cache.delete(signaturePart);
    return { ok: false, reason: refusal };
  }

  // Three parts of the base64url alphabet, the signature possibly empty (`alg: none` is then bad_signature).
  if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' };
  const dot = token.indexOf('.');
  const second = token.indexOf('.', dot + 1);
  if (
    !hasCanonicalLength(token, 0, dot) ||
    !hasCanonicalLength(token, dot + 1, second) ||
    (second + 1 < token.length && !hasCanonicalLength(token, second + 1, token.length))
  )
    return { ok: false, reason: 'malformed' };
  const payload = jsonObjectOf(token.slice(dot + 1, second));
  if (payload === undefined) return { ok: false, reason: 'malformed' };
  const tid = payload.tid;
  if (typeof tid !== 'string') return { ok: false, reason: 'malformed' };

  const segment = token.slice(0, dot);
  let header = state.headers.get(segment);
  if (header === undefined) {
    const checked = checkHeader(segment, state.keys);
    if (typeof checked === 'string') return { ok: false, reason: checked };
    header = checked;
    if (state.headers.size >= ACCEPTED_HEADERS_KEPT) state.headers.clear();
    state.headers.set(segment, header);
  }
  const signature = Buffer.from(token.slice(second + 1), 'base64url');
  if (!signatureVerifies(header.key, token, second, signature)) return { ok: false, reason: 'bad_signature' };

  const refusal = claimsRefusal(payload, base, tid, nowSeconds, clockSkewSeconds);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  const verified: VerifiedJwt = { token, payload: Object.freeze(payload), typ: header.typ, base };
  // A copy of 16 signature bytes, not a slice of the token: the mark must not keep the token (or the request body
  // it was cut from) alive.
  const mark = signature.toString('latin1', 0, 16);
  if (!state.seenOnce.delete(mark)) {
    if (state.seenOnce.size >= MAX_CACHED_VERIFIED_TOKENS) state.seenOnce.clear();
    state.seenOnce.add(mark);
    return { ok: true, payload: verified.payload, typ: verified.typ };
  }
  if (cache.size >= MAX_CACHED_VERIFIED_TOKENS && !cache.has(signaturePart)) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(signaturePart, verified);
  return { ok: true, payload: verified.payload, typ: verified.typ };
}

/** Whether `signature` (the decoded part after the dot at `second`) is `key`'s over `token`'s signing input. */
function signatureVerifies(key: VerificationKey, token: string, second: number, signature: Buffer): boolean {
  const signingInput = Buffer.from(token.slice(0, second), 'latin1');
  try {
    return verify('sha256', signingInput, key.key, signature);
  } catch {
    // A signature of the wrong length for the key, or a key node:crypto cannot use.
    return false;
  }
}

/**
 * Checks a protected header segment (canonical base64url already) against the one this server signs with:
 * `malformed` when it is not a JSON object, `bad_signature` when it has any member but `typ`, `alg`, `kid` and `x5t`,
 * a `typ` this server does not sign with, an `alg` other than the published key's (RS256 or ES256), a `kid` that is
 * not published, or an `x5t` that is not that key's.
 */
function checkHeader(
  segment: string,
  keys: ReadonlyMap<string, VerificationKey | null>,
): CheckedHeader | OwnTokenRefusal {
  const header = jsonObjectOf(segment);
  if (header === undefined) return 'malformed';
  for (const member of Object.keys(header)) if (!SIGNED_HEADER_MEMBERS.has(member)) return 'bad_signature';
  const { typ, alg, kid, x5t } = header;
  if (typeof typ !== 'string' || !SIGNED_TYPS.has(typ)) return 'bad_signature';
  if (typeof alg !== 'string' || typeof kid !== 'string' || typeof x5t !== 'string') return 'bad_signature';
  const key = keys.get(kid);
  if (key === undefined || key === null || key.alg !== alg || key.x5t !== x5t) return 'bad_signature';
  return { typ, key };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON object a base64url segment encodes (UTF-8, RFC 7519 §7.2 step 10), or undefined. */
function jsonObjectOf(segment: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A compact JWS in the base64url alphabet (RFC 4648 §5, no `=`): two non-empty parts and a signature part. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The value (0–63) of a base64url character (RFC 4648 §5): the token matched {@link COMPACT_JWS} already. */
function sextetOf(code: number): number {
  if (code >= 97) return code - 71; // a-z
  if (code >= 65) return code === 95 ? 63 : code - 65; // A-Z, _
  if (code >= 48) return code + 4; // 0-9
  return 62; // -
}

/**
 * Whether the base64url text `text[start, end)` (alphabet checked) is canonical unpadded base64url, the rule the
 * resource library's validator applies: a length that is not 1 mod 4, and zero pad bits in the last character
 * (RFC 4648 §3.5), i.e. exactly what encoding its bytes gives, so one token has one spelling.
 */
function hasCanonicalLength(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length % 4 === 1) return false;
  const last = sextetOf(text.charCodeAt(end - 1));
  if (length % 4 === 2) return (last & 0b1111) === 0;
  if (length % 4 === 3) return (last & 0b11) === 0;
  return true;
}
