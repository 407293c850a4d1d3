import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import type { DirectoryStore, StoredSigningKey } from '../store/directory-store.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
import { decryptWithMasterKey, encryptWithMasterKey } from './master-key.js';
import { createSelfSignedKey } from './x509.js';

/** Validity of a signing key's self-signed certificate, in days. */
const SIGNING_CERT_VALID_DAYS = 5 * 365;

/** The key currently used to sign tokens of one algorithm. */
export interface ActiveSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** base64url SHA-1 thumbprint of the certificate (JWS `x5t`). */
  readonly x5t: string;
  readonly privateKey: KeyObject;
}

/** A JWK as published at `/discovery/v2.0/keys` (RFC 7517 §4 plus the platform's `issuer`). */
export type PublishedJwk = JWK & {
  kid: string;
  use: 'sig';
  alg: SigningAlgorithm;
  x5t: string;
  x5c: string[];
};

/**
 * The signing keys in memory: the current key per algorithm (private, decrypted once) and the public keys to
 * publish: current ones and retired ones whose tokens may still be alive.
 */
export class KeyRing {
  private constructor(
    private readonly active: ReadonlyMap<SigningAlgorithm, ActiveSigningKey>,
    /** Keys to publish, newest first. */
    readonly publishedKeys: readonly PublishedJwk[],
  ) {}

  /**
   * Loads keys from the store.
   *
   * @param retentionSeconds how long a retired key stays published: the access token lifetime plus clock skew.
   * @throws Error when the master key cannot decrypt a current key, or an algorithm has no current key.
   */
  static async load(
    store: DirectoryStore,
    masterKey: Buffer,
    retentionSeconds: number,
    nowSeconds: number,
  ): Promise<KeyRing> {
    const stored = await store.listSigningKeys();
    const active = new Map<SigningAlgorithm, ActiveSigningKey>();
    const published: PublishedJwk[] = [];
    for (const key of stored) {
      const current = key.retiredAt === null;
      if (key.retiredAt !== null && key.retiredAt + retentionSeconds <= nowSeconds) continue;
      const cert = new X509Certificate(key.certificatePem);
      const x5t = createHash('sha1').update(cert.raw).digest('base64url');
      const jwk = await exportJWK(cert.publicKey);
      published.push({
        ...jwk,
        kid: key.kid,
        use: 'sig',
        alg: key.alg,
        x5t,
        x5c: [cert.raw.toString('base64')],
      });
      if (current && !active.has(key.alg)) {
        const der = decryptWithMasterKey(masterKey, key.privateKeyEncrypted, key.kid);
        active.set(key.alg, {
          kid: key.kid,
          alg: key.alg,
          x5t,
          privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
        });
      }
    }
    for (const alg of SIGNING_ALGORITHMS) {
      if (!active.has(alg))
        throw new Error(`No current ${alg} signing key; run the server once or 'tessera keys rotate'.`);
    }
    return new KeyRing(active, published);
  }

  /** The current key for `alg`. */
  signingKey(alg: SigningAlgorithm): ActiveSigningKey {
    const key = this.active.get(alg);
    if (key === undefined) throw new Error(`No current ${alg} signing key`);
    return key;
  }
}

async function generateStoredKey(
  alg: SigningAlgorithm,
  masterKey: Buffer,
  nowSeconds: number,
): Promise<StoredSigningKey> {
  const generated = await createSelfSignedKey(
    alg,
    `CN=Tessera token signing ${alg}`,
    SIGNING_CERT_VALID_DAYS,
  );
  const cert = new X509Certificate(generated.certificatePem);
  // Like the Microsoft identity platform, the key id is the certificate's SHA-1 thumbprint (= x5t).
  const kid = createHash('sha1').update(cert.raw).digest('base64url');
  return {
    kid,
    alg,
    privateKeyEncrypted: encryptWithMasterKey(masterKey, generated.privateKeyPkcs8, kid),
    certificatePem: generated.certificatePem,
    createdAt: nowSeconds,
    retiredAt: null,
  };
}

/**
 * Generates a key for each algorithm that has no current key (first start). Safe to call on every start.
 *
 * @returns the algorithms a key was generated for.
 */
export async function ensureSigningKeys(
  store: DirectoryStore,
  masterKey: Buffer,
  nowSeconds: number,
): Promise<SigningAlgorithm[]> {
  const stored = await store.listSigningKeys();
  const missing = SIGNING_ALGORITHMS.filter(
    (alg) => !stored.some((key) => key.alg === alg && key.retiredAt === null),
  );
  for (const alg of missing) {
    const key = await generateStoredKey(alg, masterKey, nowSeconds);
    await store.write((trx) => store.insertSigningKey(trx, key));
  }
  return missing;
}

/**
 * Adds a new current key for each of `algorithms`; the previous current key is retired but stays published for
 * `retentionSeconds`. Keys retired longer ago than that are deleted.
 *
 * @returns the new keys' `kid`s.
 */
export async function rotateSigningKeys(
  store: DirectoryStore,
  masterKey: Buffer,
  algorithms: readonly SigningAlgorithm[],
  retentionSeconds: number,
  nowSeconds: number,
): Promise<{ alg: SigningAlgorithm; kid: string }[]> {
  const rotated: { alg: SigningAlgorithm; kid: string }[] = [];
  for (const alg of algorithms) {
    const key = await generateStoredKey(alg, masterKey, nowSeconds);
    rotated.push({ alg, kid: key.kid });
    await store.write(async (trx) => {
      await store.insertSigningKey(trx, key);
      await store.deleteSigningKeysRetiredBefore(trx, nowSeconds - retentionSeconds);
    });
  }
  return rotated;
}

export { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
