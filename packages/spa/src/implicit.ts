import { AuthenticationError } from './errors.js';

/**
 * The implicit flow (`response_type=id_token token`, tokens in the fragment), which oidc-client-ts 3 no longer
 * implements. Kept for apps that cannot use code + PKCE; its limits (docs/spa.md): no refresh token (renewal needs
 * the hidden iframe and therefore third-party cookies), the access token passes through the browser history and
 * the address bar, and no sender constraint (DPoP) is possible.
 *
 * @see OpenID Connect Core 1.0 §3.2 (implicit flow), §3.2.2.9–11 (validation); RFC 9207 (`iss`); RFC 9700 §2.1.2
 */

/** What is stored, under the `state` value, for one implicit request: single use. */
export interface ImplicitRequestState {
  readonly nonce: string;
  /** Seconds since the epoch, when the request was made (stale entries are cleaned after `staleStateAgeInSeconds`). */
  readonly createdSeconds: number;
  /** Application data round-tripped with the request (the return URL). */
  readonly data?: unknown;
}

/** A JSON Web Key as a JWKS lists it. */
export interface PublicJwk extends JsonWebKey {
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
}

/** What the implicit callback yields once every check passed. */
export interface ImplicitTokens {
  readonly idToken: string;
  readonly accessToken: string;
  readonly tokenType: string;
  readonly scope: string | undefined;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  /** The ID token's claims, without `nonce` and `at_hash`. */
  readonly profile: Record<string, unknown>;
}

/** Inputs of {@link validateImplicitResponse}. */
export interface ImplicitValidationInput {
  /** The callback URL's fragment parameters. */
  readonly fragment: URLSearchParams;
  /** The state entry stored for the `state` the fragment carries (already removed: single use), or null. */
  readonly stored: ImplicitRequestState | null;
  /** The authority's issuer, e.g. `https://login.example/{tenant}/v2.0`. */
  readonly issuer: string;
  readonly clientId: string;
  /** The issuer's signing keys (`jwks_uri`). */
  readonly keys: readonly PublicJwk[];
  /** Now, in seconds since the epoch. */
  readonly nowSeconds: number;
  /** Tolerated clock difference, in seconds; default 300. */
  readonly clockSkewSeconds?: number;
}

const ALGORITHMS: Readonly<
  Record<
    string,
    {
      import: RsaHashedImportParams | EcKeyImportParams;
      verify: AlgorithmIdentifier | EcdsaParams | RsaPssParams;
      hash: string;
    }
  >
> = {
  RS256: {
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    verify: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
  },
  RS384: {
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
    verify: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-384',
  },
  RS512: {
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
    verify: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-512',
  },
  PS256: {
    import: { name: 'RSA-PSS', hash: 'SHA-256' },
    verify: { name: 'RSA-PSS', saltLength: 32 },
    hash: 'SHA-256',
  },
  ES256: {
    import: { name: 'ECDSA', namedCurve: 'P-256' },
    verify: { name: 'ECDSA', hash: 'SHA-256' },
    hash: 'SHA-256',
  },
  ES384: {
    import: { name: 'ECDSA', namedCurve: 'P-384' },
    verify: { name: 'ECDSA', hash: 'SHA-384' },
    hash: 'SHA-384',
  },
};

/** Base64url without padding of `bytes`. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A random URL-safe value of `byteLength` random bytes (state, nonce). */
export function randomValue(byteLength = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(byteLength)));
}

function invalid(message: string): AuthenticationError {
  return new AuthenticationError('invalid_id_token', message);
}

/**
 * Verifies a compact JWS against `keys` with WebCrypto and returns its header and claims.
 *
 * @throws AuthenticationError `invalid_id_token` when malformed, signed with an unsupported algorithm, by no
 *   listed key, or the signature does not verify.
 */
export async function verifyJws(
  jwt: string,
  keys: readonly PublicJwk[],
): Promise<{ header: { alg: string; kid?: string }; claims: Record<string, unknown> }> {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw invalid('The ID token is not a compact JWS.');
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  let header: { alg?: unknown; kid?: unknown };
  let claims: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(fromBase64url(encodedHeader))) as {
      alg?: unknown;
      kid?: unknown;
    };
    claims = JSON.parse(new TextDecoder().decode(fromBase64url(encodedPayload)));
  } catch {
    throw invalid('The ID token is not valid JSON.');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw invalid('The ID token has no claims.');
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const algorithm = ALGORITHMS[alg];
  if (algorithm === undefined) throw invalid(`The ID token's algorithm ${alg || '(none)'} is not accepted.`);
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const candidates = keys.filter(
    (key) => (kid === undefined || key.kid === kid) && (key.use === undefined || key.use === 'sig'),
  );
  const data = new TextEncoder().encode(`${encodedHeader}.${encodedPayload}`);
  const signature = fromBase64url(encodedSignature);
  for (const jwk of candidates) {
    let key: CryptoKey;
    try {
      const { kid: _kid, alg: _alg, use: _use, ...material } = jwk;
      key = await crypto.subtle.importKey('jwk', material, algorithm.import, false, ['verify']);
    } catch {
      continue; // a key of another type than the token's algorithm
    }
    if (await crypto.subtle.verify(algorithm.verify, key, signature, data)) {
      return {
        header: { alg, ...(kid === undefined ? {} : { kid }) },
        claims: claims as Record<string, unknown>,
      };
    }
  }
  throw invalid('The ID token signature does not verify with any key of the issuer.');
}

/**
 * The `at_hash` of an access token for a JWS algorithm: base64url of the left half of its hash.
 *
 * @see OpenID Connect Core 1.0 §3.2.2.9
 */
export async function accessTokenHash(accessToken: string, alg: string): Promise<string> {
  const hash = ALGORITHMS[alg]?.hash ?? 'SHA-256';
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(accessToken)));
  return base64url(digest.subarray(0, digest.length / 2));
}

/**
 * Checks an implicit `id_token token` callback: the error it may carry, `state` (a stored single-use entry),
 * RFC 9207 `iss`, the ID token's signature (against the issuer's JWKS), `iss`, `aud`, `azp`, `exp`, `iat`,
 * `nonce`, and `at_hash` binding the access token to it.
 *
 * @throws AuthenticationError `authorization_error` (the server's `error`, with its trace id), `state_mismatch`,
 *   `issuer_mismatch`, `invalid_id_token`.
 */
export async function validateImplicitResponse(input: ImplicitValidationInput): Promise<ImplicitTokens> {
  const { fragment, stored } = input;
  const skew = input.clockSkewSeconds ?? 300;
  if (stored === null) {
    throw new AuthenticationError(
      'state_mismatch',
      'The sign-in response matches no request of this browser.',
    );
  }
  const responseIssuer = fragment.get('iss');
  if (responseIssuer !== null && responseIssuer !== input.issuer) {
    throw new AuthenticationError(
      'issuer_mismatch',
      `The response comes from another issuer (${responseIssuer}).`,
    );
  }
  const error = fragment.get('error');
  if (error !== null) {
    const errorDescription = fragment.get('error_description') ?? undefined;
    throw new AuthenticationError('authorization_error', errorDescription?.split(/\r?\n/)[0] ?? error, {
      error,
      errorDescription,
    });
  }
  const idToken = fragment.get('id_token');
  const accessToken = fragment.get('access_token');
  if (idToken === null || accessToken === null)
    throw invalid('The response lacks the ID token or the access token.');
  const { header, claims } = await verifyJws(idToken, input.keys);
  if (claims.iss !== input.issuer) {
    throw new AuthenticationError('issuer_mismatch', 'The ID token was issued by another issuer.');
  }
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(input.clientId)) throw invalid('The ID token is not for this app (aud).');
  if (audience.length > 1 && claims.azp !== input.clientId)
    throw invalid('The ID token is not for this app (azp).');
  if (typeof claims.exp !== 'number' || claims.exp + skew < input.nowSeconds)
    throw invalid('The ID token has expired.');
  if (typeof claims.iat === 'number' && claims.iat - skew > input.nowSeconds)
    throw invalid('The ID token is issued in the future.');
  if (typeof claims.nonce !== 'string' || claims.nonce !== stored.nonce) {
    throw invalid('The ID token nonce does not match the request.');
  }
  if (
    typeof claims.at_hash !== 'string' ||
    claims.at_hash !== (await accessTokenHash(accessToken, header.alg))
  ) {
    throw invalid('The access token does not match the ID token (at_hash).');
  }
  const { nonce: _nonce, at_hash: _atHash, ...profile } = claims;
  const expiresIn = Number(fragment.get('expires_in') ?? '0');
  return {
    idToken,
    accessToken,
    tokenType: fragment.get('token_type') ?? 'Bearer',
    scope: fragment.get('scope') ?? undefined,
    expiresAt: input.nowSeconds + (Number.isFinite(expiresIn) ? expiresIn : 0),
    profile,
  };
}
