import type { AccessTokenVersion } from '../claims.js';
import { TENANT_ID_PLACEHOLDER, tenantOfIssuer } from './issuer.js';

/**
 * Asymmetric JWS algorithms the validator can accept (RFC 7518 §3). HMAC (`HS*`) and `none` are not in the type
 * and are refused at construction: a resource server holds no shared secret with the authority, and accepting
 * HMAC is how algorithm confusion attacks work (RFC 8725 §2.1, §3.1).
 */
export type AsymmetricAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set<AsymmetricAlgorithm>([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** Options of {@link createTokenValidator}. Give `authority`, or `jwksUri` with `issuer`, or all three. */
export interface TokenValidatorOptions {
  /**
   * The authority the tokens come from, `https://{host}/{tenant}` where `{tenant}` is a tenant GUID, a verified
   * domain, or `common` / `organizations` / `consumers` (multi-tenant). What is not given explicitly (`issuer`,
   * `jwksUri`) is read once from `{authority}/v2.0/.well-known/openid-configuration` on first use; the v1.0
   * issuer is derived from the v2.0 one (`…/{tid}/v2.0` → `…/{tid}/`). Discovery's `issuer` and `jwks_uri` must
   * be on the authority's origin.
   */
  readonly authority?: string;
  /** The JWKS URL (RFC 7517 §5). Default: discovery's `jwks_uri`. */
  readonly jwksUri?: string;
  /**
   * Accepted issuers, compared exactly. An exact issuer names its tenant (`https://{host}/{tenant id}/v2.0` or
   * `…/{tenant id}/`, a GUID), and a token matching it must carry that `tid`. A value containing `{tenantid}` is a
   * multi-tenant template: the token's `iss` must equal the template with `{tenantid}` replaced by the token's own
   * `tid` (a GUID), as Microsoft.Identity.Web's `AadIssuerValidator` does. Default (with `authority`): discovery's
   * `issuer` and its v1.0 form.
   */
  readonly issuer?: string | readonly string[];
  /** Accepted `aud` values: the API's appId and any of its App ID URIs (v1.0 tokens carry the one requested). */
  readonly audience: string | readonly string[];
  /**
   * Tenants whose tokens are accepted (`tid` GUIDs), or `'all'`. Required (this or `isTenantAllowed`) in
   * multi-tenant mode, so that accepting every tenant is a written decision. Default: no tenant restriction in
   * single-tenant mode.
   */
  readonly allowedTenants?: readonly string[] | 'all';
  /**
   * Asked after every other check passed, e.g. "has this tenant signed up / consented?". When both this and
   * `allowedTenants` are given, both must accept. A throw refuses the token (`validation_failed`).
   */
  readonly isTenantAllowed?: (tenantId: string) => boolean | Promise<boolean>;
  /** Accepted `alg` values. Default `['RS256', 'ES256']` (what Tessera signs with). */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /** Token versions accepted (`ver`). Default both `1.0` and `2.0`. */
  readonly tokenVersions?: readonly AccessTokenVersion[];
  /**
   * Tolerance applied to `exp`, `nbf` and `iat`, in seconds: 0 to {@link MAX_CLOCK_SKEW_SECONDS} (300). Default 60
   * (RFC 7519 §4.1.4 allows "a small leeway, usually no more than a few minutes"; 60 s matches the server's
   * `clockSkewSeconds`). A larger value would accept tokens long expired, so it is refused at construction.
   */
  readonly clockSkewSeconds?: number;
  /** Largest token accepted, in bytes, checked before any parsing. Default 16384 (16 KiB). */
  readonly maxTokenBytes?: number;
  /**
   * How long a fetched JWKS is used before it is fetched again, in milliseconds: 0 to
   * {@link MAX_JWKS_CACHE_MAX_AGE_MS} (24 h). Default 300000 (5 min, the `max-age` Tessera's JWKS endpoint sends).
   * A key removed from the JWKS (rotated out or compromised) keeps validating up to this long, hence the bound.
   */
  readonly jwksCacheMaxAgeMs?: number;
  /**
   * Minimum time between two JWKS fetches caused by an unknown `kid`, in milliseconds. Default 30000. A token
   * with an unknown `kid` triggers at most one refresh per cooldown, so random `kid`s cannot make the API hammer
   * the authority.
   */
  readonly jwksCooldownMs?: number;
  /** Timeout of discovery and JWKS requests, in milliseconds. Default 5000. */
  readonly httpTimeoutMs?: number;
  /** Current time, for `exp` / `nbf` / `iat` checks (tests freeze it). Default `() => new Date()`. */
  readonly clock?: () => Date;
}

/** Options after defaults and checks. */
export interface ResolvedValidatorOptions {
  readonly authority: URL | undefined;
  readonly jwksUri: URL | undefined;
  readonly issuers: readonly string[] | undefined;
  readonly audiences: readonly string[];
  readonly allowedTenants: ReadonlySet<string> | 'all' | undefined;
  readonly isTenantAllowed: ((tenantId: string) => boolean | Promise<boolean>) | undefined;
  readonly algorithms: readonly AsymmetricAlgorithm[];
  readonly tokenVersions: ReadonlySet<AccessTokenVersion>;
  readonly clockSkewSeconds: number;
  readonly maxTokenBytes: number;
  readonly jwksCacheMaxAgeMs: number;
  readonly jwksCooldownMs: number;
  readonly httpTimeoutMs: number;
  readonly clock: (() => Date) | undefined;
}

/** Largest accepted `clockSkewSeconds`: RFC 7519 §4.1.4's "a few minutes". */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Largest accepted `jwksCacheMaxAgeMs` (24 h): a key removed from the JWKS stops validating within this time. */
export const MAX_JWKS_CACHE_MAX_AGE_MS = 86_400_000;

/** Tenant segments of an authority whose tokens come from many tenants. */
const MULTI_TENANT_SEGMENTS: ReadonlySet<string> = new Set(['common', 'organizations', 'consumers']);

/**
 * Applies defaults and refuses unsafe or incomplete configurations.
 *
 * @throws TypeError for a missing audience, no way to find keys or issuers, a non-HTTPS URL (loopback hosts
 *   excepted), an exact issuer that names no tenant GUID, an algorithm outside {@link AsymmetricAlgorithm}, a
 *   multi-tenant configuration without a tenant policy, a negative / non-finite number, `clockSkewSeconds` above
 *   {@link MAX_CLOCK_SKEW_SECONDS} or `jwksCacheMaxAgeMs` above {@link MAX_JWKS_CACHE_MAX_AGE_MS}.
 */
export function resolveValidatorOptions(options: TokenValidatorOptions): ResolvedValidatorOptions {
  const authority =
    options.authority === undefined
      ? undefined
      : secureUrl(options.authority.replace(/\/+$/, ''), 'authority');
  const jwksUri = options.jwksUri === undefined ? undefined : secureUrl(options.jwksUri, 'jwksUri');
  const issuers = options.issuer === undefined ? undefined : toList(options.issuer, 'issuer');
  for (const issuer of issuers ?? []) {
    if (!issuer.includes(TENANT_ID_PLACEHOLDER) && tenantOfIssuer(issuer) === undefined) {
      throw new TypeError(
        `"issuer" must name its tenant (https://{host}/{tenant id}/v2.0 or …/{tenant id}/, a GUID): ${issuer}`,
      );
    }
  }
  if (authority === undefined && (jwksUri === undefined || issuers === undefined)) {
    throw new TypeError('Give "authority", or both "jwksUri" and "issuer".');
  }
  const audiences = toList(options.audience, 'audience');

  const segment = authority?.pathname.split('/').filter((part) => part.length > 0)[0];
  const multiTenant =
    (issuers === undefined && segment !== undefined && MULTI_TENANT_SEGMENTS.has(segment.toLowerCase())) ||
    (issuers ?? []).some((issuer) => issuer.includes(TENANT_ID_PLACEHOLDER));
  if (multiTenant && options.allowedTenants === undefined && options.isTenantAllowed === undefined) {
    throw new TypeError(
      'Multi-tenant validation needs "allowedTenants" (a list, or \'all\') or "isTenantAllowed".',
    );
  }

  const algorithms = options.algorithms ?? ['RS256', 'ES256'];
  if (algorithms.length === 0) throw new TypeError('"algorithms" must not be empty.');
  for (const alg of algorithms as readonly string[]) {
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw new TypeError(`Algorithm "${alg}" is not allowed: only asymmetric JWS algorithms are.`);
    }
  }
  const tokenVersions = new Set<AccessTokenVersion>(options.tokenVersions ?? ['1.0', '2.0']);
  if (tokenVersions.size === 0) throw new TypeError('"tokenVersions" must not be empty.');

  return {
    authority,
    jwksUri,
    issuers,
    audiences,
    allowedTenants:
      options.allowedTenants === undefined || options.allowedTenants === 'all'
        ? options.allowedTenants
        : new Set(options.allowedTenants.map((tenant) => tenant.toLowerCase())),
    isTenantAllowed: options.isTenantAllowed,
    algorithms,
    tokenVersions,
    clockSkewSeconds: bounded(
      options.clockSkewSeconds ?? 60,
      'clockSkewSeconds',
      MAX_CLOCK_SKEW_SECONDS,
      'seconds',
    ),
    maxTokenBytes: nonNegative(options.maxTokenBytes ?? 16_384, 'maxTokenBytes'),
    jwksCacheMaxAgeMs: bounded(
      options.jwksCacheMaxAgeMs ?? 300_000,
      'jwksCacheMaxAgeMs',
      MAX_JWKS_CACHE_MAX_AGE_MS,
      'milliseconds',
    ),
    jwksCooldownMs: nonNegative(options.jwksCooldownMs ?? 30_000, 'jwksCooldownMs'),
    httpTimeoutMs: nonNegative(options.httpTimeoutMs ?? 5_000, 'httpTimeoutMs'),
    clock: options.clock,
  };
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Parses a URL that must be HTTPS, except on a loopback host (development, tests, benchmarks). */
export function secureUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`"${name}" is not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new TypeError(`"${name}" must use https (plain http only on a loopback host): ${value}`);
  }
  return url;
}

function toList(value: string | readonly string[], name: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : [...value];
  if (list.length === 0 || list.some((item) => item.length === 0)) {
    throw new TypeError(`"${name}" must be a non-empty string or a non-empty list of them.`);
  }
  return list;
}

function bounded(value: number, name: string, max: number, unit: string): number {
  nonNegative(value, name);
  if (value > max) throw new TypeError(`"${name}" must be at most ${max} ${unit}: ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`"${name}" must be a non-negative number.`);
  return value;
}
