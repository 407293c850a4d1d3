import { createHash } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';

/**
 * The JWS algorithms DPoP proofs may be signed with, as advertised in discovery's
 * `dpop_signing_alg_values_supported` (RFC 9449 §5.1): asymmetric only (§4.2: never `none` or a MAC).
 */
export const DPOP_SIGNING_ALGORITHMS: readonly string[] = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'PS256',
  'EdDSA',
  'Ed25519',
];

/** Largest `DPoP` header value accepted, in characters (a proof with an RSA-4096 key is about 1.5 KiB). */
const MAX_PROOF_CHARS = 8192;

/** Longest `jti` accepted, in characters. */
const MAX_JTI_CHARS = 256;

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** A DPoP proof that passed every check of RFC 9449 §4.3. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url: the `cnf.jkt` of bound tokens (§6.1). */
  readonly jkt: string;
  readonly jti: string;
  /** Unix seconds. */
  readonly iat: number;
  /** The server nonce the proof carries, if any. */
  readonly nonce: string | undefined;
}

/** What a proof must match. */
export interface DpopProofExpectations {
  /** The request's method (`htm`). */
  readonly method: string;
  /** The request's URL as the client addressed it: public base URL + path (query and fragment are ignored). */
  readonly url: string;
  /** Unix seconds. */
  readonly now: number;
  /** How far `iat` may lie before or after `now`, seconds. */
  readonly windowSeconds: number;
  /** With an access token (resource access, §7): `ath` must be its base64url SHA-256. */
  readonly accessToken?: string | undefined;
}

/**
 * The one `DPoP` header value of a request (RFC 9449 §4.3 step 1), or undefined when there is none. Node joins
 * repeated headers with `, `; a compact JWS has no comma, so a comma means several headers.
 *
 * @param distinct the header's values as `IncomingMessage.headersDistinct` gives them.
 * @throws IdentityError 9100300 for several `DPoP` headers or an empty one.
 */
export function dpopHeaderOf(distinct: readonly string[] | undefined): string | undefined {
  if (distinct === undefined || distinct.length === 0) return undefined;
  const [value] = distinct;
  if (distinct.length > 1 || value === undefined || value.includes(',')) {
    throw invalid('the request carries more than one DPoP header.');
  }
  if (value.trim() === '') throw invalid('the DPoP header is empty.');
  return value.trim();
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.2, §4.3) except its single use, which the caller records
 * ({@link dpopReplayKey}), and its nonce, which the caller checks against its own: compact JWS syntax; `typ`
 * `dpop+jwt`; `alg` one of {@link DPOP_SIGNING_ALGORITHMS}; `jwk` a public key (no private members) that verifies
 * the signature (jose); `jti`, `htm`, `htu`, `iat` present and typed; `htm` the request's method; `htu` the
 * request's URL without query and fragment, both normalised per RFC 3986 §6.2.2–6.2.3 ({@link normalizeHtu});
 * `iat` within `windowSeconds` of `now`; `ath` the hash of the access token when one is given.
 *
 * @throws IdentityError 9100300 (`invalid_dpop_proof`, 400) naming the first check that failed.
 */
export async function verifyDpopProof(
  proof: string,
  expected: DpopProofExpectations,
): Promise<VerifiedDpopProof> {
  if (proof.length > MAX_PROOF_CHARS) throw invalid('the proof is too large.');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw invalid('it is not a signed JWT in compact serialization.');
  }
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid('its header is not valid JSON.');
  }
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') {
    throw invalid("its header 'typ' must be 'dpop+jwt'.");
  }
  if (typeof header.alg !== 'string' || !DPOP_SIGNING_ALGORITHMS.includes(header.alg)) {
    throw invalid(
      `its 'alg' '${String(header.alg).slice(0, 32)}' is not one of ${DPOP_SIGNING_ALGORITHMS.join(', ')}.`,
    );
  }
  const jwk: unknown = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw invalid("its header has no 'jwk' public key.");
  }
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
    throw invalid("its 'jwk' contains private or symmetric key material.");
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      algorithms: [...DPOP_SIGNING_ALGORITHMS],
      typ: 'dpop+jwt',
      currentDate: new Date(expected.now * 1000),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw invalid("its signature does not verify with its 'jwk'.");
    }
    if (error instanceof joseErrors.JWTExpired) throw invalid('it has expired.');
    throw invalid("its 'jwk' is not a usable public key for its 'alg', or its payload is not a JWT.");
  }
  const { jti, htm, htu, iat, ath, nonce } = payload as Record<string, unknown>;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_CHARS) {
    throw invalid(`'jti' must be a string of 1 to ${MAX_JTI_CHARS} characters.`);
  }
  if (typeof htm !== 'string') throw invalid("it has no 'htm' claim.");
  if (typeof htu !== 'string') throw invalid("it has no 'htu' claim.");
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid("it has no numeric 'iat' claim.");
  if (nonce !== undefined && typeof nonce !== 'string') throw invalid("its 'nonce' must be a string.");
  if (htm !== expected.method) {
    throw invalid(`'htm' '${htm.slice(0, 16)}' is not the request's method ${expected.method}.`);
  }
  const normalized = normalizeHtu(htu);
  if (normalized === undefined || normalized !== normalizeHtu(expected.url)) {
    throw invalid(`'htu' is not the URL of this endpoint, ${stripQuery(expected.url)}.`);
  }
  if (iat < expected.now - expected.windowSeconds) {
    throw invalid(`'iat' is more than ${expected.windowSeconds} seconds in the past.`);
  }
  if (iat > expected.now + expected.windowSeconds) {
    throw invalid(`'iat' is more than ${expected.windowSeconds} seconds in the future.`);
  }
  if (expected.accessToken !== undefined) {
    if (typeof ath !== 'string') throw invalid("it has no 'ath' claim for the access token.");
    if (ath !== accessTokenHash(expected.accessToken)) {
      throw invalid("'ath' is not the hash of the access token.");
    }
  }
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    jti,
    iat,
    nonce,
  };
}

/** The `ath` of an access token (RFC 9449 §4.2): base64url SHA-256 of its ASCII text. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * The replay cache key of a proof: hex SHA-256 of `{jkt}:{jti}`, so `jti`s of different keys never collide and
 * the stored id has a fixed size.
 */
export function dpopReplayKey(proof: VerifiedDpopProof): string {
  return createHash('sha256').update(`${proof.jkt}:${proof.jti}`).digest('hex');
}

/**
 * An `htu` (or the request's URL) compared per RFC 9449 §4.3 step 9: query and fragment dropped, then RFC 3986
 * §6.2.2 syntax-based normalisation (case of scheme and host, percent-encoded unreserved characters decoded, hex
 * digits upper-cased, dot segments removed) and §6.2.3 scheme-based normalisation (default port dropped, empty path
 * as `/`), as the WHATWG URL parser does most of it. Undefined for text that is no absolute http(s) URL.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  url.search = '';
  url.hash = '';
  url.username = '';
  url.password = '';
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

function stripQuery(url: string): string {
  return url.split(/[?#]/, 1)[0] ?? url;
}

function invalid(reason: string): IdentityError {
  return new IdentityError(9100300, { reason });
}
