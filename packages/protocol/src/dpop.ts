import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';

/**
 * The JWS algorithms a DPoP proof may be signed with (RFC 9449 §4.2: asymmetric only, never `none` or a MAC): what
 * browsers' WebCrypto, oauth4webapi and openid-client sign with. The token endpoint advertises them as
 * `dpop_signing_alg_values_supported` (§5.1); an API answers them as its challenge's `algs` (§7.1).
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

/** The asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864): the only ones a proof may use. */
const ASYMMETRIC_ALGORITHM = /^(?:(?:RS|PS|ES)(?:256|384|512)|EdDSA|Ed25519)$/;

/** Largest DPoP proof accepted, in characters (a proof with an RSA-4096 key is about 1.5 KiB). */
const MAX_PROOF_CHARS = 8192;

/** Longest `jti` accepted, in characters. */
const MAX_JTI_CHARS = 256;

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * A DPoP proof that failed a check of RFC 9449 §4.3. `reason` completes "The DPoP proof is not valid: …" and names
 * the first check that failed; the token endpoint and the resource library each turn it into their own error
 * (`invalid_dpop_proof`).
 */
export class DpopProofError extends Error {
  constructor(readonly reason: string) {
    super(`The DPoP proof is not valid: ${reason}`);
    this.name = 'DpopProofError';
  }
}

/** What a proof must match (RFC 9449 §4.3 steps 8–12). */
export interface DpopProofExpectations {
  /** The request's method (`htm`). */
  readonly method: string;
  /** The request's URL as the client addressed it: public base URL + path (query and fragment are ignored). */
  readonly url: string;
  /** Unix seconds. */
  readonly nowSeconds: number;
  /** How far `iat` may lie before or after `nowSeconds`, in seconds. */
  readonly windowSeconds: number;
  /** Accepted `alg` values; only asymmetric ones count (RS, PS, ES with 256/384/512, EdDSA, Ed25519). */
  readonly algorithms: readonly string[];
  /**
   * With an access token (resource access, §7): the `ath` the proof must carry, the base64url SHA-256 of the
   * token's ASCII text (§4.2).
   */
  readonly accessTokenHash?: string | undefined;
}

/** A DPoP proof that passed every check of RFC 9449 §4.3 but its single use, which the caller records. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url: the `cnf.jkt` of bound tokens (§6.1). */
  readonly jkt: string;
  readonly jti: string;
  /** Unix seconds. */
  readonly iat: number;
  /** The server nonce the proof carries, if any (§8, §9): the caller checks it against its own. */
  readonly nonce: string | undefined;
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.2, §4.3) except its single use and its nonce, which the caller checks
 * against its own stores: compact JWS syntax; `typ` `dpop+jwt`; `alg` one of `expected.algorithms`; `jwk` a public
 * key (no private members) that verifies the signature (jose); `jti`, `htm`, `htu`, `iat` present and typed; `htm`
 * the request's method; `htu` the request's URL without query and fragment, both normalised
 * ({@link normalizeHtu}); `iat` within `windowSeconds` of now; `ath` when an access token hash is expected.
 *
 * @throws DpopProofError naming the first check that failed.
 */
export async function verifyDpopProof(
  proof: string,
  expected: DpopProofExpectations,
): Promise<VerifiedDpopProof> {
  if (proof.length > MAX_PROOF_CHARS) throw new DpopProofError('the proof is too large.');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw new DpopProofError('it is not a signed JWT in compact serialization.');
  }
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw new DpopProofError('its header is not valid JSON.');
  }
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') {
    throw new DpopProofError("its header 'typ' must be 'dpop+jwt'.");
  }
  const algorithms = expected.algorithms.filter((alg) => ASYMMETRIC_ALGORITHM.test(alg));
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new DpopProofError(
      `its 'alg' '${String(header.alg).slice(0, 32)}' is not one of ${algorithms.join(', ')}.`,
    );
  }
  const jwk: unknown = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new DpopProofError("its header has no 'jwk' public key.");
  }
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
    throw new DpopProofError("its 'jwk' contains private or symmetric key material.");
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      algorithms,
      typ: 'dpop+jwt',
      currentDate: new Date(expected.nowSeconds * 1000),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw new DpopProofError("its signature does not verify with its 'jwk'.");
    }
    if (error instanceof joseErrors.JWTExpired) throw new DpopProofError('it has expired.');
    throw new DpopProofError(
      "its 'jwk' is not a usable public key for its 'alg', or its payload is not a JWT.",
    );
  }
  const { jti, htm, htu, iat, ath, nonce } = payload as Record<string, unknown>;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_CHARS) {
    throw new DpopProofError(`'jti' must be a string of 1 to ${MAX_JTI_CHARS} characters.`);
  }
  if (typeof htm !== 'string') throw new DpopProofError("it has no 'htm' claim.");
  if (typeof htu !== 'string') throw new DpopProofError("it has no 'htu' claim.");
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw new DpopProofError("it has no numeric 'iat' claim.");
  }
  if (nonce !== undefined && typeof nonce !== 'string')
    throw new DpopProofError("its 'nonce' must be a string.");
  if (htm !== expected.method) {
    throw new DpopProofError(`'htm' '${htm.slice(0, 16)}' is not the request's method ${expected.method}.`);
  }
  const normalized = normalizeHtu(htu);
  if (normalized === undefined || normalized !== normalizeHtu(expected.url)) {
    throw new DpopProofError(`'htu' is not the URL of this endpoint, ${stripQuery(expected.url)}.`);
  }
  if (iat < expected.nowSeconds - expected.windowSeconds) {
    throw new DpopProofError(`'iat' is more than ${expected.windowSeconds} seconds in the past.`);
  }
  if (iat > expected.nowSeconds + expected.windowSeconds) {
    throw new DpopProofError(`'iat' is more than ${expected.windowSeconds} seconds in the future.`);
  }
  if (expected.accessTokenHash !== undefined) {
    if (typeof ath !== 'string') throw new DpopProofError("it has no 'ath' claim for the access token.");
    if (ath !== expected.accessTokenHash)
      throw new DpopProofError("'ath' is not the hash of the access token.");
  }
  return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, iat, nonce };
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
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

function stripQuery(url: string): string {
  return url.split(/[?#]/, 1)[0] ?? url;
}
