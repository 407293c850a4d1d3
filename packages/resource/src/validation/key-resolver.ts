import { createRemoteJWKSet, errors, type CryptoKey, type RemoteJWKSet } from 'jose';
import { BearerTokenError } from '../errors.js';

/** Options of {@link createKeyResolver}; all in milliseconds. */
export interface KeyResolverOptions {
  readonly cacheMaxAgeMs: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
}

/** Resolves the verification key of a checked header. */
export interface KeyResolver {
  /** The key for `kid` usable with `alg`, from the cache when possible. */
  resolve(header: { readonly alg: string; readonly kid: string }): CryptoKey | Promise<CryptoKey>;
}

/**
 * Resolves verification keys from a remote JWKS through jose's `createRemoteJWKSet`, which caches the set for
 * `cacheMaxAgeMs` and, on a `kid` it does not know, refetches once unless it fetched less than `cooldownMs` ago.
 * So key rotation is picked up without a restart and without a fetch per request, and random `kid`s cannot make
 * the API hammer the authority.
 *
 * jose only returns a key whose `kty` (and `alg`, when the JWK has one) fits the header `alg`, so one key is never
 * used with two algorithms (RFC 8725 §3.1); when the `kid` exists with another algorithm the refusal says so.
 *
 * On top, the imported keys are remembered per (`alg`, `kid`) while jose's set is fresh, so the hot path skips
 * jose's lookup. Every call into jose (a miss, or a stale set about to be reloaded) first forgets them all, and a
 * result is remembered only if no other call into jose started meanwhile, so a remembered key always comes from
 * jose's current set and disappears with it.
 *
 * @throws BearerTokenError `key_not_found`, `key_algorithm_mismatch`, `metadata_unavailable` (fetch, timeout,
 *   non-200, invalid JWKS).
 * @see RFC 7517 §5, RFC 7515 §4.1.4 (`kid`), RFC 8725 §3.1; jose `src/jwks/remote.ts`
 */
export function createKeyResolver(jwksUri: URL, options: KeyResolverOptions): KeyResolver {
  const jwks = createRemoteJWKSet(jwksUri, {
    cacheMaxAge: options.cacheMaxAgeMs,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs,
  });
  const remembered = new Map<string, CryptoKey>();
  let generation = 0;

  const fromJose = async (alg: string, kid: string, memoKey: string): Promise<CryptoKey> => {
    generation += 1;
    const mine = generation;
    remembered.clear();
    let key: CryptoKey;
    try {
      key = await jwks({ alg, kid });
    } catch (error) {
      throw keyError(error, jwks, kid, alg);
    }
    if (generation === mine) remembered.set(memoKey, key);
    return key;
  };

  return {
    resolve({ alg, kid }) {
      // `alg` comes from the allow-list (no spaces), so "alg kid" is unambiguous.
      const memoKey = `${alg} ${kid}`;
      if (jwks.fresh) {
        const key = remembered.get(memoKey);
        if (key !== undefined) return key;
      }
      return fromJose(alg, kid, memoKey);
    },
  };
}

function keyError(error: unknown, jwks: RemoteJWKSet, kid: string, alg: string): BearerTokenError {
  if (error instanceof errors.JWKSNoMatchingKey) {
    const published = jwks.jwks()?.keys.find((key) => key.kid === kid);
    return published === undefined
      ? new BearerTokenError('key_not_found', { detail: `kid ${kid} not in the JWKS` })
      : new BearerTokenError('key_algorithm_mismatch', {
          detail: `kid ${kid} is ${String(published.alg ?? published.kty)}, header alg ${alg}`,
        });
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return new BearerTokenError('key_not_found', { detail: `kid ${kid} is ambiguous in the JWKS` });
  }
  return new BearerTokenError('metadata_unavailable', {
    detail: 'JWKS fetch or import failed',
    cause: error,
  });
}
