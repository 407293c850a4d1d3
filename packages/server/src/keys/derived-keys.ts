import { hkdfSync } from 'node:crypto';

/** Purpose-bound keys derived from the master key, the same on every node of a cluster. */
export interface DerivedKeys {
  /** HMAC-SHA256 key sealing sign-in interactions and anti-CSRF tokens. */
  readonly interaction: Buffer;
  /** HMAC-SHA256 key authenticating refresh tokens (reuse detection without storing old tokens). */
  readonly refreshToken: Buffer;
  /** HMAC-SHA256 key of pairwise subject identifiers (`sub`). */
  readonly pairwise: Buffer;
  /** HMAC-SHA256 key of stateless DPoP nonces (RFC 9449 §8). */
  readonly dpopNonce: Buffer;
}

/**
 * Derives the server's purpose-bound 256-bit keys from the master key with HKDF-SHA256 (RFC 5869), so a leak of
 * one derived key exposes nothing else and the master key itself is never used for more than one purpose.
 */
export function deriveKeys(masterKey: Buffer): DerivedKeys {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `tessera ${info} v1`, 32));
  return {
    interaction: derive('interaction'),
    refreshToken: derive('refresh-token'),
    pairwise: derive('pairwise'),
    dpopNonce: derive('dpop-nonce'),
  };
}
