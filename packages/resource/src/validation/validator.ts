import { jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { assertAccessToken } from './access-token-rules.js';
import {
  createIssuerRule,
  TENANT_ID_PLACEHOLDER,
  tenantOfIssuer,
  v1IssuerOf,
  type IssuerRule,
} from './issuer.js';
import { createKeyResolver, type KeyResolver } from './key-resolver.js';
import { fetchAuthorityMetadata } from './metadata.js';
import { createHeaderCheck } from './header.js';
import { fromJoseError } from './jose-errors.js';
import {
  resolveValidatorOptions,
  type ResolvedValidatorOptions,
  type TokenValidatorOptions,
} from './options.js';

/** Validates bearer access tokens; made by {@link createTokenValidator}. */
export interface TokenValidator {
  /**
   * Validates a compact JWS access token and returns its verified claims.
   *
   * @param token the token alone, without the `Bearer ` prefix.
   * @throws BearerTokenError with one of the validation codes of the catalogue (never another error type).
   */
  validate(token: string): Promise<AccessTokenClaims>;
}

/** Issuers and keys, known at construction or after discovery. */
interface Trust {
  readonly issuerRule: IssuerRule;
  readonly keys: KeyResolver;
}

/**
 * Creates a validator for access tokens of the Microsoft identity platform v2.0 wire format (v1.0 and v2.0
 * tokens). Checks, in order: size (before parsing), `alg` in the allow-list, `typ` and `kid` in the header, the
 * key (cached JWKS; algorithm per key), the canonical base64url spelling of every part, the signature (jose
 * `jwtVerify` with the resolved key), `aud`, `nbf` / `exp` with `clockSkewSeconds`, a consistent lifetime (`iat`
 * not in the future beyond the skew, `iat` and `nbf` before `exp`), the issuer and tenant (`iss` exact with `tid`
 * the tenant it names, or a `{tenantid}` template filled with `tid`), that it is an access token (see
 * `assertAccessToken`), and last the tenant policy (`allowedTenants`, `isTenantAllowed`).
 *
 * Discovery (when `authority` leaves `issuer` or `jwksUri` open) happens on first use, not here; a failed
 * discovery is retried on a later call, at most once per `jwksCooldownMs`.
 *
 * @throws TypeError at construction for an unsafe or incomplete configuration (see `resolveValidatorOptions`).
 * @see RFC 8725 (JWT BCP), RFC 9068 §4 (validating JWT access tokens), RFC 7519 §7.2
 */
export function createTokenValidator(options: TokenValidatorOptions): TokenValidator {
  const resolved = resolveValidatorOptions(options);
  const baseVerifyOptions: JWTVerifyOptions = {
    algorithms: [...resolved.algorithms],
    audience: [...resolved.audiences],
    clockTolerance: resolved.clockSkewSeconds,
    requiredClaims: ['exp'],
  };
  const { clock } = resolved;
  const checkHeader = createHeaderCheck(new Set(resolved.algorithms));
  const hasTenantPolicy = resolved.allowedTenants !== undefined || resolved.isTenantAllowed !== undefined;

  let trust: Trust | undefined =
    resolved.issuers !== undefined && resolved.jwksUri !== undefined
      ? { issuerRule: createIssuerRule(resolved.issuers), keys: keyResolver(resolved.jwksUri, resolved) }
      : undefined;
  let pendingTrust: Promise<Trust> | undefined;
  let lastDiscoveryFailureMs = Number.NEGATIVE_INFINITY;

  const discoverTrust = (): Promise<Trust> => {
    if (Date.now() - lastDiscoveryFailureMs < resolved.jwksCooldownMs) {
      return Promise.reject(
        new BearerTokenError('metadata_unavailable', { detail: 'discovery cooling down' }),
      );
    }
    pendingTrust ??= trustFromDiscovery(resolved).then(
      (discovered) => {
        trust = discovered;
        return discovered;
      },
      (error: unknown) => {
        lastDiscoveryFailureMs = Date.now();
        pendingTrust = undefined;
        throw error;
      },
    );
    return pendingTrust;
  };

  const validate = async (token: string): Promise<AccessTokenClaims> => {
    try {
      if (typeof token !== 'string') {
        throw new BearerTokenError('token_malformed', { detail: 'not a string' });
      }
      // A JWT is ASCII, so length is its size; measure bytes only when multi-byte characters could matter.
      if (
        token.length > resolved.maxTokenBytes ||
        (token.length * 3 > resolved.maxTokenBytes &&
          Buffer.byteLength(token, 'utf8') > resolved.maxTokenBytes)
      ) {
        throw new BearerTokenError('token_too_large', { detail: `${token.length} characters` });
      }
      const header = checkHeader(token);
      const current = trust ?? (await discoverTrust());
      const keyOrPromise = current.keys.resolve(header);
      const key = keyOrPromise instanceof Promise ? await keyOrPromise : keyOrPromise;
      const now = clock?.();
      const { payload } = await jwtVerify(
        token,
        key,
        now === undefined ? baseVerifyOptions : { ...baseVerifyOptions, currentDate: now },
      );
      assertLifetime(payload, (now?.getTime() ?? Date.now()) / 1000, resolved.clockSkewSeconds);
      if (typeof payload.tid !== 'string') throw new BearerTokenError('claim_invalid', { detail: 'tid' });
      if (!current.issuerRule(payload.iss, payload.tid)) {
        throw new BearerTokenError('issuer_invalid', {
          detail: `iss ${String(payload.iss)} with tid ${payload.tid}`,
        });
      }
      assertAccessToken(payload, header.typ, resolved.tokenVersions);
      if (hasTenantPolicy) await checkTenant(resolved, payload.tid);
      return payload;
    } catch (error) {
      // jose's failures get their codes; anything unexpected fails closed as validation_failed (cause kept).
      throw fromJoseError(error);
    }
  };

  return { validate };
}

/**
 * Checks what jose leaves open about the lifetime (after it checked `exp` and `nbf` against the clock): `iat` is
 * not later than now + skew (a token cannot be issued in the future), and `iat` and `nbf` are before `exp` (a token
 * that is never valid is not a token the authority issued). RFC 7519 §4.1.4–4.1.6.
 *
 * @param nowSeconds current time, seconds since the epoch.
 * @throws BearerTokenError `token_not_yet_valid` (`iat` in the future), `lifetime_invalid`.
 */
function assertLifetime(payload: JWTPayload, nowSeconds: number, skewSeconds: number): void {
  const { iat, nbf, exp } = payload;
  if (typeof iat === 'number' && iat > nowSeconds + skewSeconds) {
    throw new BearerTokenError('token_not_yet_valid', { detail: `iat ${iat} is in the future` });
  }
  if (typeof exp !== 'number') return; // jose requires exp; kept for the types
  for (const [name, value] of [
    ['iat', iat],
    ['nbf', nbf],
  ] as const) {
    if (typeof value === 'number' && value >= exp) {
      throw new BearerTokenError('lifetime_invalid', { detail: `${name} ${value} not before exp ${exp}` });
    }
  }
}

function keyResolver(jwksUri: URL, resolved: ResolvedValidatorOptions): KeyResolver {
  return createKeyResolver(jwksUri, {
    cacheMaxAgeMs: resolved.jwksCacheMaxAgeMs,
    cooldownMs: resolved.jwksCooldownMs,
    timeoutMs: resolved.httpTimeoutMs,
  });
}

async function trustFromDiscovery(resolved: ResolvedValidatorOptions): Promise<Trust> {
  // resolveValidatorOptions guarantees an authority whenever issuers or jwksUri are missing.
  const authority = resolved.authority as URL;
  const metadata = await fetchAuthorityMetadata(authority, resolved.httpTimeoutMs);
  let issuers = resolved.issuers;
  if (issuers === undefined) {
    const v1 = v1IssuerOf(metadata.issuer);
    issuers = v1 === undefined ? [metadata.issuer] : [metadata.issuer, v1];
    const template = metadata.issuer.includes(TENANT_ID_PLACEHOLDER);
    if (!template && tenantOfIssuer(metadata.issuer) === undefined) {
      // Fail closed: an exact issuer must name the tenant that tid is compared with.
      throw new BearerTokenError('metadata_unavailable', {
        detail: `discovered issuer ${metadata.issuer} names no tenant GUID`,
      });
    }
    if (template && resolved.allowedTenants === undefined && resolved.isTenantAllowed === undefined) {
      // Fail closed: the authority turned out multi-tenant but no tenant policy was configured.
      throw new BearerTokenError('metadata_unavailable', {
        detail: 'multi-tenant issuer template discovered but no allowedTenants / isTenantAllowed configured',
      });
    }
  }
  return {
    issuerRule: createIssuerRule(issuers),
    keys: keyResolver(resolved.jwksUri ?? metadata.jwksUri, resolved),
  };
}

async function checkTenant(resolved: ResolvedValidatorOptions, tenantId: string): Promise<void> {
  const { allowedTenants, isTenantAllowed } = resolved;
  if (
    allowedTenants !== undefined &&
    allowedTenants !== 'all' &&
    !allowedTenants.has(tenantId.toLowerCase())
  ) {
    throw new BearerTokenError('tenant_not_allowed', { detail: `tid ${tenantId}` });
  }
  if (isTenantAllowed === undefined) return;
  let allowed: boolean;
  try {
    allowed = await isTenantAllowed(tenantId);
  } catch (cause) {
    throw new BearerTokenError('validation_failed', { detail: 'isTenantAllowed threw', cause });
  }
  if (!allowed) throw new BearerTokenError('tenant_not_allowed', { detail: `tid ${tenantId}` });
}
