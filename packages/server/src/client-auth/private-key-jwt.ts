import { createPublicKey, type KeyObject } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import {
  compactVerify,
  decodeProtectedHeader,
  errors as joseErrors,
  type ProtectedHeaderParameters,
} from 'jose';
import type { Application, KeyCredential } from '../directory/model.js';

/** Largest client assertion accepted, in bytes; checked before any parsing. */
export const MAX_CLIENT_ASSERTION_BYTES = 16 * 1024;

/** Signature algorithms accepted per certificate key type (RFC 7518 §3). */
const ALGORITHMS_BY_KEY_TYPE: Readonly<Record<string, readonly string[]>> = {
  rsa: ['RS256', 'PS256'],
  ec: ['ES256'],
};

/** What a client assertion is checked against. */
export interface ClientAssertionPolicy {
  /** Every accepted `aud` value, lower-case: the tenant's token endpoint under each of its names, and its issuer. */
  readonly audiences: ReadonlySet<string>;
  /** Unix seconds. */
  readonly now: number;
  /** Seconds of tolerance on `nbf` and `exp`. */
  readonly clockSkewSeconds: number;
  /** Seconds; the longest `exp − nbf` (or `exp − iat`) accepted. */
  readonly maxLifetimeSeconds: number;
}

/** A verified assertion's replay key and expiry (Unix seconds), for strict single-use mode. */
export interface VerifiedClientAssertion {
  readonly jti: string;
  readonly exp: number;
}

const publicKeys = new WeakMap<KeyCredential, KeyObject>();

function publicKeyOf(credential: KeyCredential): KeyObject {
  let key = publicKeys.get(credential);
  if (key === undefined) {
    key = createPublicKey(credential.certificatePem);
    publicKeys.set(credential, key);
  }
  return key;
}

function findKeyCredential(
  application: Application,
  header: ProtectedHeaderParameters,
): KeyCredential | undefined {
  const s256 = header['x5t#S256'];
  const x5t = header.x5t;
  const kid = header.kid;
  const credentials = application.keyCredentials;
  if (typeof s256 === 'string') return credentials.find((c) => c.thumbprintSha256 === s256);
  if (typeof x5t === 'string') return credentials.find((c) => c.thumbprintSha1 === x5t);
  if (typeof kid === 'string') {
    // Clients name the key by its keyId, its base64url thumbprint, or its hex SHA-1 thumbprint.
    const hex = Buffer.from(kid, 'hex');
    const kidAsSha1 =
      hex.length === 20 && /^[0-9a-fA-F]{40}$/.test(kid) ? hex.toString('base64url') : undefined;
    return credentials.find(
      (c) =>
        c.keyId === kid ||
        c.thumbprintSha1 === kid ||
        c.thumbprintSha256 === kid ||
        c.thumbprintSha1 === kidAsSha1,
    );
  }
  return undefined;
}

/**
 * Verifies a private_key_jwt client assertion: a JWS signed (RS256, PS256, or ES256 for EC keys) by a certificate
 * registered on the application, found by `x5t#S256`, `x5t` or `kid`; `iss` = `sub` = `client_id`; `aud` a
 * single value among the policy's audiences (draft-ietf-oauth-rfc7523bis); `exp` in the future and `nbf` in the
 * past (within skew); lifetime bounded; `jti` present.
 *
 * @throws IdentityError 50027 (not a JWS / too large), 700027 (key not found, expired certificate, algorithm not
 *   allowed, bad signature), 700021 (`iss`/`sub` ≠ client), 50012 (`aud` not one value naming this tenant), 700024 (time range or lifetime),
 *   9100003 (missing or malformed claims).
 * @see RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9
 */
export async function verifyClientAssertion(
  application: Application,
  assertion: string,
  policy: ClientAssertionPolicy,
): Promise<VerifiedClientAssertion> {
  if (assertion.length > MAX_CLIENT_ASSERTION_BYTES) {
    throw new IdentityError(50027, { reason: 'The client assertion is too large.' });
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    throw new IdentityError(50027, { reason: 'The client assertion is not a well-formed JWS.' });
  }
  if (assertion.split('.').length !== 3) {
    throw new IdentityError(50027, { reason: 'The client assertion must be a signed JWT in compact form.' });
  }
  const credential = findKeyCredential(application, header);
  if (credential === undefined) {
    throw new IdentityError(
      700027,
      { reason: 'The key was not found.' },
      { detail: `header ${JSON.stringify(header)}` },
    );
  }
  if (policy.now < credential.startAt || policy.now >= credential.endAt) {
    throw new IdentityError(700027, {
      reason: 'The certificate used to sign the assertion is not valid at this time.',
    });
  }
  const key = publicKeyOf(credential);
  const allowed = ALGORITHMS_BY_KEY_TYPE[key.asymmetricKeyType ?? ''] ?? [];
  if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) {
    throw new IdentityError(700027, {
      reason: `The algorithm '${String(header.alg)}' is not allowed for this key.`,
    });
  }
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(assertion, key, { algorithms: [...allowed] }));
  } catch (error) {
    const reason =
      error instanceof joseErrors.JWSSignatureVerificationFailed
        ? 'The signature is invalid.'
        : 'The JWS could not be verified.';
    throw new IdentityError(700027, { reason }, { cause: error });
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder().decode(payloadBytes));
  } catch {
    throw new IdentityError(50027, { reason: 'The client assertion payload is not JSON.' });
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new IdentityError(50027, { reason: 'The client assertion payload is not a JSON object.' });
  }
  return checkAssertionClaims(application.appId, claims as Record<string, unknown>, policy);
}

function checkAssertionClaims(
  clientId: string,
  claims: Record<string, unknown>,
  policy: ClientAssertionPolicy,
): VerifiedClientAssertion {
  // appIds are GUIDs, compared case-insensitively (clients copy the configured id, in any case, into iss and sub).
  if (!sameGuid(claims.iss, clientId) || !sameGuid(claims.sub, clientId)) throw new IdentityError(700021);
  checkAssertionAudience(claims.aud, policy.audiences);
  const { exp, nbf, iat, jti } = claims;
  if (!isNumericDate(exp))
    throw new IdentityError(9100003, { reason: "'exp' is required and must be a NumericDate." });
  if (nbf !== undefined && !isNumericDate(nbf))
    throw new IdentityError(9100003, { reason: "'nbf' must be a NumericDate." });
  if (iat !== undefined && !isNumericDate(iat))
    throw new IdentityError(9100003, { reason: "'iat' must be a NumericDate." });
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw new IdentityError(9100003, {
      reason: "'jti' is required and must be a string of at most 256 characters.",
    });
  }
  // Strict replay detection stores the jti, and PostgreSQL text holds no NUL: refused alike on every store.
  if (jti.includes('\u0000'))
    throw new IdentityError(9100003, { reason: "'jti' must not contain a NUL character." });
  const start = nbf ?? iat;
  const times = `Current time: ${policy.now}, assertion valid from ${String(start ?? '(unset)')}, expiry time of assertion ${exp}.`;
  if (
    exp + policy.clockSkewSeconds <= policy.now ||
    (start !== undefined && start - policy.clockSkewSeconds > policy.now)
  ) {
    throw new IdentityError(700024, { reason: times });
  }
  if (start === undefined || exp - start > policy.maxLifetimeSeconds) {
    throw new IdentityError(700024, {
      reason: `The assertion must carry 'nbf' or 'iat' and live at most ${policy.maxLifetimeSeconds} seconds. ${times}`,
    });
  }
  return { jti, exp };
}

/**
 * The audience-injection defence of draft-ietf-oauth-rfc7523bis (client assertion audience values): `aud` is exactly one value — a string, or
 * an array holding exactly one string — and that value names this server (the tenant's issuer or token endpoint).
 * An array that also names another party is refused even when one member is ours: a client tricked into signing
 * such an assertion for another server must not have it replayed here, nor ours there.
 *
 * @throws IdentityError 50012 for a missing, multi-valued, non-string or foreign `aud`.
 */
function checkAssertionAudience(aud: unknown, audiences: ReadonlySet<string>): void {
  const single = Array.isArray(aud) ? (aud.length === 1 ? (aud[0] as unknown) : undefined) : aud;
  if (typeof single !== 'string') {
    throw new IdentityError(
      50012,
      { reason: "The 'aud' claim must be a single value: this tenant's token endpoint or issuer." },
      { detail: `aud ${jsonText(aud).slice(0, 512)}` },
    );
  }
  if (!audiences.has(single.toLowerCase())) {
    throw new IdentityError(
      50012,
      { reason: "The 'aud' claim must be this tenant's token endpoint or issuer." },
      { detail: `aud ${JSON.stringify(single.slice(0, 512))}` },
    );
  }
}

/** `JSON.stringify` for logs: `undefined` (which it returns for `undefined`) spelled out. */
function jsonText(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  return text ?? 'undefined';
}

function sameGuid(value: unknown, appId: string): boolean {
  return typeof value === 'string' && value.toLowerCase() === appId.toLowerCase();
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
