import { X509Certificate, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a secret, hex; what the store keeps instead of the secret. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function secretHashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/**
 * A new client secret: 256 bits from the CSPRNG, base64url (43 characters, safe in forms and Basic headers
 * once form-encoded). Shown once; only its hash is stored.
 */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** An X.509 certificate parsed for registration as a `keyCredential`. */
export interface ParsedCertificate {
  /** base64url SHA-1 of the DER (`x5t`). */
  readonly thumbprintSha1: string;
  /** base64url SHA-256 of the DER (`x5t#S256`). */
  readonly thumbprintSha256: string;
  /** Normalised PEM. */
  readonly pem: string;
  /** Unix seconds. */
  readonly notBefore: number;
  /** Unix seconds. */
  readonly notAfter: number;
  readonly subject: string;
}

/**
 * Parses one PEM certificate.
 *
 * @throws Error when the text holds no valid X.509 certificate or one with an unsupported key type.
 */
export function parseCertificate(pem: string): ParsedCertificate {
  const cert = new X509Certificate(pem);
  const keyType = cert.publicKey.asymmetricKeyType;
  if (keyType !== 'rsa' && keyType !== 'ec') {
    throw new Error(`Unsupported certificate key type '${keyType ?? 'unknown'}': use RSA or EC.`);
  }
  return {
    thumbprintSha1: createHash('sha1').update(cert.raw).digest('base64url'),
    thumbprintSha256: createHash('sha256').update(cert.raw).digest('base64url'),
    pem: cert.toString(),
    notBefore: Math.floor(Date.parse(cert.validFrom) / 1000),
    notAfter: Math.floor(Date.parse(cert.validTo) / 1000),
    subject: cert.subject,
  };
}
