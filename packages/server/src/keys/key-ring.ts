import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import type { DirectoryStore } from '../store/directory-store.js';
import type { StoredSigningKey } from '../store/repositories/signing-keys.js';
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

/** A signing key with the time it starts signing (Unix seconds). */
interface ScheduledSigningKey extends ActiveSigningKey {
  readonly activatesAt: number;
}

/**
 * The signing keys in memory: the signing keys per algorithm (private, decrypted once) — the current one and a
 * *next* one pre-published by `keys rotate` that starts signing at its activation time — and the public keys to
 * publish: current, next, and retired ones whose tokens may still be alive.
 */
export class KeyRing {
  private constructor(
    /** Per algorithm, newest activation first. */
    private readonly scheduled: ReadonlyMap<SigningAlgorithm, readonly ScheduledSigningKey[]>,
    /** Keys to publish, newest first. */
    readonly publishedKeys: readonly PublishedJwk[],
  ) {}

  /**
   * Loads keys from the store.
   *
   * @param retentionSeconds how long a retired key stays published: the access token lifetime plus clock skew.
   * @throws Error when the master key cannot decrypt a current or next key, or an algorithm has no current key.
   */
  static async load(
    store: DirectoryStore,
    masterKey: Buffer,
    retentionSeconds: number,
    nowSeconds: number,
  ): Promise<KeyRing> {
    const stored = await store.signingKeys.list();
    const scheduled = new Map<SigningAlgorithm, ScheduledSigningKey[]>();
    const published: PublishedJwk[] = [];
    for (const key of stored) {
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
      // Still signing now or later: current (retired_at null or in the future) or next.
      if (key.retiredAt === null || key.retiredAt > nowSeconds) {
        const der = decryptWithMasterKey(masterKey, key.privateKeyEncrypted, key.kid);
        const list = scheduled.get(key.alg) ?? [];
        list.push({
          kid: key.kid,
          alg: key.alg,
          x5t,
          privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
          activatesAt: key.activatesAt ?? key.createdAt,
        });
        scheduled.set(key.alg, list);
      }
    }
    for (const list of scheduled.values()) list.sort((a, b) => b.activatesAt - a.activatesAt);
    for (const alg of SIGNING_ALGORITHMS) {
      if (!scheduled.get(alg)?.some((key) => key.activatesAt <= nowSeconds))
        throw new Error(`No current ${alg} signing key; run the server once or 'tessera keys rotate --now'.`);
    }
    return new KeyRing(scheduled, published);
  }

  /**
   * The key that signs `alg` tokens at `nowSeconds`: the latest one whose activation time has passed, so a next
   * key takes over at its activation time without a reload.
   */
  signingKey(alg: SigningAlgorithm, nowSeconds: number = Math.floor(Date.now() / 1000)): ActiveSigningKey {
    const keys = this.scheduled.get(alg) ?? [];
    const key = keys.find((k) => k.activatesAt <= nowSeconds) ?? keys.at(-1);
    if (key === undefined) throw new Error(`No current ${alg} signing key`);
    // The stored entry itself (not a copy): callers such as the JWS header cache key on its identity.
    return key;
  }
}

async function generateStoredKey(
  alg: SigningAlgorithm,
  masterKey: Buffer,
  nowSeconds: number,
  activatesAt: number | null = null,
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
    activatesAt,
  };
}

/**
 * Creates a key for each algorithm that has none (first start). Safe to call on every start, and from several
 * nodes starting at once: each key is stored by one guarded statement, so exactly one node's key per algorithm is
 * stored and the others' are discarded; every node then loads the same keys ({@link KeyRing.load}).
 *
 * @returns the algorithms this call stored a key for.
 */
export async function ensureSigningKeys(
  store: DirectoryStore,
  masterKey: Buffer,
  nowSeconds: number,
): Promise<SigningAlgorithm[]> {
  const stored = await store.signingKeys.list();
  // Only a hint, to skip generating keys on an ordinary start: the guarded insert decides.
  const missing = SIGNING_ALGORITHMS.filter(
    (alg) => !stored.some((key) => key.alg === alg && key.retiredAt === null),
  );
  const created: SigningAlgorithm[] = [];
  for (const alg of missing) {
    const key = await generateStoredKey(alg, masterKey, nowSeconds);
    if (await store.write((trx) => store.signingKeys.insertIfNoneUnretired(trx, key))) created.push(alg);
  }
  return created;
}

/**
 * Adds a new key for each of `algorithms`. With `activationDelaySeconds` 0 (the default) it signs at once and
 * the previous current key is retired now (for a compromised key); otherwise it is published at once as the
 * *next* key and starts signing `activationDelaySeconds` later, when the previous key retires — so validators
 * that cached the JWKS have fetched the new key before they meet a token signed with it. A retired key stays
 * published for `retentionSeconds`; keys retired longer ago than that are deleted.
 *
 * @returns the new keys' `kid`s and activation times (Unix seconds).
 */
export async function rotateSigningKeys(
  store: DirectoryStore,
  masterKey: Buffer,
  algorithms: readonly SigningAlgorithm[],
  retentionSeconds: number,
  nowSeconds: number,
  activationDelaySeconds = 0,
): Promise<{ alg: SigningAlgorithm; kid: string; activatesAt: number }[]> {
  const activatesAt = nowSeconds + activationDelaySeconds;
  const keys: StoredSigningKey[] = [];
  for (const alg of algorithms) {
    keys.push(
      await generateStoredKey(alg, masterKey, nowSeconds, activationDelaySeconds > 0 ? activatesAt : null),
    );
  }
  // One write for the whole rotation: a node that reloads its key ring sees all of it or none of it, never a
  // JWKS with the new RS256 key and the old ES256 one.
  await store.write(async (trx) => {
    for (const key of keys) await store.signingKeys.insert(trx, key);
    await store.signingKeys.deleteRetiredBefore(trx, nowSeconds - retentionSeconds);
  });
  return keys.map((key) => ({ alg: key.alg, kid: key.kid, activatesAt }));
}

export { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
