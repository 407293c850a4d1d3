import { createHash } from 'node:crypto';
import { DPOP_SIGNING_ALGORITHMS, DpopProofError, normalizeHtu, verifyDpopProof } from '@tessera/protocol';
import { BearerTokenError } from '../errors.js';
import type { AsymmetricAlgorithm } from './options.js';

/** Default `algorithms` of {@link DpopOptions}: what browsers' WebCrypto, oauth4webapi and openid-client sign with. */
export const DEFAULT_DPOP_ALGORITHMS = DPOP_SIGNING_ALGORITHMS as readonly AsymmetricAlgorithm[];

/**
 * Where proof `jti`s are remembered (RFC 9449 §11.1). The default is {@link MemoryDpopReplayCache} (one process);
 * an API on several nodes plugs in a shared store (Redis `SET key 1 NX EXAT expiresAt`, a database row with a
 * unique key).
 */
export interface DpopReplayCache {
  /**
   * Records `key` until `expiresAtSeconds` (Unix seconds) and says whether it was new.
   *
   * @returns false when `key` is already recorded and unexpired (a replay). Must be atomic across the nodes that
   *   share the cache.
   */
  use(key: string, expiresAtSeconds: number): boolean | Promise<boolean>;
}

/**
 * An in-memory {@link DpopReplayCache} with expiry: at most `maxEntries` keys (default 100000); when full, expired
 * keys are dropped first, then the oldest.
 */
export class MemoryDpopReplayCache implements DpopReplayCache {
  private readonly entries = new Map<string, number>();

  /**
   * @param maxEntries keys kept at most, default 100000.
   * @param nowSeconds the clock, Unix seconds (tests freeze it).
   */
  constructor(
    private readonly maxEntries = 100_000,
    private readonly nowSeconds: () => number = () => Date.now() / 1000,
  ) {}

  use(key: string, expiresAtSeconds: number): boolean {
    const now = this.nowSeconds();
    const seen = this.entries.get(key);
    if (seen !== undefined && seen >= now) return false;
    if (this.entries.size >= this.maxEntries) this.evict(now);
    this.entries.delete(key);
    this.entries.set(key, expiresAtSeconds);
    return true;
  }

  private evict(now: number): void {
    for (const [key, expiresAt] of this.entries) if (expiresAt < now) this.entries.delete(key);
    // Insertion order is age order: drop the oldest tenth when nothing had expired.
    if (this.entries.size >= this.maxEntries) {
      let drop = Math.ceil(this.maxEntries / 10);
      for (const key of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(key);
      }
    }
  }
}

/** Options of DPoP (RFC 9449) at the API, given to an adapter as `dpop`. */
export interface DpopOptions {
  /**
   * Only DPoP-bound tokens with the `DPoP` scheme are accepted; `Authorization: Bearer` is refused
   * (`dpop_required`). Default false: both schemes are accepted, but a DPoP-bound token is never accepted as a
   * bearer token (RFC 9449 §7.2).
   */
  readonly required?: boolean;
  /**
   * The API's public base URL, `https://api.contoso.test` (scheme, host, port; a path prefix if a proxy adds one):
   * the proof's `htu` must be this followed by the request's path. Default: the request's own scheme and `Host`
   * header, which is wrong behind a TLS-terminating proxy or a gateway, so set it there.
   */
  readonly publicUrl?: string;
  /** Accepted proof `alg` values (asymmetric only), sent as the challenge's `algs`. Default {@link DEFAULT_DPOP_ALGORITHMS}. */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /**
   * How far a proof's `iat` may lie before or after the clock, in seconds: 1 to 600. Default 300. Each `jti` is
   * remembered until `iat` plus this window.
   */
  readonly proofWindowSeconds?: number;
  /** Where `jti`s are remembered. Default a {@link MemoryDpopReplayCache} per adapter. */
  readonly replayCache?: DpopReplayCache;
  /** Current time (tests freeze it). Default `() => new Date()`. */
  readonly clock?: () => Date;
}

/** A request as the DPoP check needs it. */
export interface DpopRequest {
  /** The `DPoP` header's values (several when the request repeated it). */
  readonly proofs: readonly string[];
  readonly method: string;
  /** The URL the client addressed: public base URL + path (the query is ignored). */
  readonly url: string;
  /** The access token of `Authorization: DPoP`. */
  readonly accessToken: string;
}

/** Verifies the DPoP proofs of resource requests; made by {@link createDpopVerifier}. */
export interface DpopVerifier {
  readonly required: boolean;
  /** Accepted `alg` values, for the challenge's `algs` attribute. */
  readonly algorithms: readonly AsymmetricAlgorithm[];
  /** The public base URL option, if configured. */
  readonly publicUrl: string | undefined;
  /**
   * Checks a request's proof (RFC 9449 §4.3, §7.1) and records its `jti`.
   *
   * @returns the RFC 7638 thumbprint of the proof's key, for comparison with the token's `cnf.jkt`.
   * @throws BearerTokenError `dpop_proof_invalid` (naming the check), `dpop_proof_replayed`.
   */
  verify(request: DpopRequest): Promise<string>;
}

/**
 * Creates the DPoP proof check of an adapter: exactly one `DPoP` header; compact JWS; `typ` `dpop+jwt`; `alg` in
 * `algorithms`; a public `jwk` (no private members) that verifies the signature (jose); `jti`, `htm`, `htu`,
 * `iat`, `ath` present; `htm` the request's method; `htu` the request's URL without query and fragment, both
 * normalised per RFC 3986 §6.2.2–6.2.3; `iat` within `proofWindowSeconds`; `ath` the base64url SHA-256 of the
 * access token; last the `jti` (per key) recorded in the replay cache.
 *
 * @throws TypeError at construction for an `algorithms` entry that is not asymmetric, or a window outside 1–600.
 * @see RFC 9449 §4.3, §7, §11.1
 */
export function createDpopVerifier(options: DpopOptions = {}): DpopVerifier {
  const algorithms = options.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  for (const alg of algorithms) {
    if (!DEFAULT_DPOP_ALGORITHMS.includes(alg) && !/^(RS|PS|ES)(256|384|512)$/.test(alg)) {
      throw new TypeError(`DPoP algorithm ${alg} is not an asymmetric JWS algorithm.`);
    }
  }
  const windowSeconds = options.proofWindowSeconds ?? 300;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 600) {
    throw new TypeError('dpop.proofWindowSeconds must be an integer from 1 to 600.');
  }
  if (options.publicUrl !== undefined && normalizeHtu(options.publicUrl) === undefined) {
    throw new TypeError('dpop.publicUrl must be an absolute http(s) URL.');
  }
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const replayCache = options.replayCache ?? new MemoryDpopReplayCache();
  const clock = options.clock ?? (() => new Date());
  const allowed: readonly string[] = algorithms;

  const verify = async (request: DpopRequest): Promise<string> => {
    if (request.proofs.length !== 1 || request.proofs[0]?.includes(',') !== false) {
      throw invalid(
        request.proofs.length === 0
          ? 'The request has no DPoP proof header.'
          : 'The request carries more than one DPoP header.',
      );
    }
    const proof = request.proofs[0].trim();
    let verified;
    try {
      verified = await verifyDpopProof(proof, {
        method: request.method,
        url: request.url,
        nowSeconds: clock().getTime() / 1000,
        windowSeconds,
        algorithms: allowed,
        accessTokenHash: accessTokenHash(request.accessToken),
      });
    } catch (error) {
      if (error instanceof DpopProofError) throw invalid(error.message);
      throw error;
    }
    const { jkt, jti, iat } = verified;
    const key = createHash('sha256').update(`${jkt}:${jti}`).digest('base64url');
    if (!(await replayCache.use(key, iat + windowSeconds))) {
      throw new BearerTokenError('dpop_proof_replayed', { detail: `jti ${jti.slice(0, 64)}` });
    }
    return jkt;
  };

  return { required: options.required === true, algorithms, publicUrl, verify };
}

/** The `ath` of an access token (RFC 9449 §4.2): base64url SHA-256 of its ASCII text. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

function invalid(description: string): BearerTokenError {
  return new BearerTokenError('dpop_proof_invalid', { description, detail: description });
}
