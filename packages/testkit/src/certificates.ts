import { X509Certificate, createHash, createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { createSelfSignedKey } from '@tessera/server';
import { SignJWT, type JWTPayload } from 'jose';

/** A client certificate with its private key, for `private_key_jwt` client assertions (RFC 7523 §2.2). */
export interface ClientCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly privateKey: KeyObject;
  /** base64url SHA-1 (`x5t`). */
  readonly x5t: string;
  /** base64url SHA-256 (`x5t#S256`). */
  readonly x5tS256: string;
  /** Hex SHA-1, as MSAL's `thumbprint`. */
  readonly thumbprintHex: string;
  /** Hex SHA-256, as MSAL's `thumbprintSha256`. */
  readonly thumbprintSha256Hex: string;
}

/**
 * Makes a self-signed client certificate (RSA unless `ES256`), subject `CN=test client {uuid}` unless given, valid
 * from a minute ago for `validDays` (default 30; a negative number makes one that has already expired).
 */
export async function createClientCertificate(
  alg: 'RS256' | 'ES256' = 'RS256',
  options: { readonly subject?: string; readonly validDays?: number } = {},
): Promise<ClientCertificate> {
  const generated = await createSelfSignedKey(
    alg,
    options.subject ?? `CN=test client ${randomUUID()}`,
    options.validDays ?? 30,
  );
  const raw = new X509Certificate(generated.certificatePem).raw;
  const privateKey = createPrivateKey({ key: generated.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  return {
    certificatePem: generated.certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey,
    x5t: createHash('sha1').update(raw).digest('base64url'),
    x5tS256: createHash('sha256').update(raw).digest('base64url'),
    thumbprintHex: createHash('sha1').update(raw).digest('hex'),
    thumbprintSha256Hex: createHash('sha256').update(raw).digest('hex'),
  };
}

/** `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2). */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Options of {@link signClientAssertion}; every claim and header field can be overridden to build attacks. */
export interface ClientAssertionOptions {
  readonly clientId: string;
  readonly audience: string | string[];
  readonly key: KeyObject;
  /** Default PS256 with `x5t#S256` (what MSAL sends for `thumbprintSha256`). */
  readonly alg?: string;
  readonly header?: Record<string, unknown>;
  /** Claims merged over the defaults (`iss`, `sub`, `aud`, `jti`, `nbf`, `iat`, `exp` = now + 600). */
  readonly claims?: Record<string, unknown>;
  /** Unix seconds; default now. */
  readonly now?: number;
}

/** Signs a client assertion (RFC 7523 §2.2) as MSAL builds it, with overridable parts. */
export async function signClientAssertion(options: ClientAssertionOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    aud: options.audience,
    iss: options.clientId,
    sub: options.clientId,
    jti: randomUUID(),
    nbf: now,
    iat: now,
    exp: now + 600,
    ...options.claims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'PS256', typ: 'JWT', ...options.header })
    .sign(options.key);
}
