import { authorize, type AuthRequirement } from '../authorization/requirement.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import type { DpopVerifier } from '../validation/dpop.js';
import type { TokenValidator } from '../validation/validator.js';

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Extracts the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
 * case-insensitive, RFC 7235 §2.1). Only the header is read: tokens in URI query parameters end up in logs and
 * are not accepted (RFC 6750 §2.3, §5.3).
 *
 * @throws BearerTokenError `token_missing` (no header, or another scheme such as `Basic`), `request_malformed`
 *   (`Bearer` without a token, several headers, or a value that is not `b64token` syntax).
 */
export function bearerTokenOf(authorization: string | readonly string[] | undefined): string {
  if (authorization === undefined || authorization === '') throw new BearerTokenError('token_missing');
  if (typeof authorization !== 'string') {
    throw new BearerTokenError('request_malformed', { detail: 'several Authorization headers' });
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer')
    throw new BearerTokenError('token_missing', { detail: 'not Bearer' });
  const token = space === -1 ? '' : authorization.slice(space + 1).trim();
  if (!B64TOKEN.test(token)) throw new BearerTokenError('request_malformed', { detail: 'not a b64token' });
  return token;
}

/**
 * Bearer only (RFC 6750): read the bearer token, validate it, refuse it when it is DPoP-bound (RFC 9449 §7.2),
 * apply the route's requirement. The adapters use {@link authenticateRequest}, which accepts DPoP too.
 *
 * @returns the validated claims.
 * @throws BearerTokenError for every refusal; other errors only from a requirement's custom `check`.
 */
export async function authenticateBearer(
  validator: TokenValidator,
  authorization: string | readonly string[] | undefined,
  requirement: AuthRequirement | undefined,
): Promise<AccessTokenClaims> {
  const claims = await validator.validate(bearerTokenOf(authorization));
  // RFC 9449 §7.2: a DPoP-bound token is never a bearer token.
  if (boundKeyOf(claims) !== undefined) throw new BearerTokenError('dpop_bound_token_as_bearer');
  if (requirement !== undefined) await authorize(claims, requirement);
  return claims;
}

/**
 * The `DPoP` header values of a Node request, each repeated header apart (`headersDistinct`, Node 18.3+; injected
 * requests may lack it, then the joined `headers.dpop`).
 */
export function dpopHeaderValues(request: {
  readonly headersDistinct?: Readonly<Record<string, string[] | undefined>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}): readonly string[] {
  const distinct = request.headersDistinct?.dpop;
  if (distinct !== undefined) return distinct;
  const joined = request.headers.dpop;
  return joined === undefined ? [] : typeof joined === 'string' ? [joined] : joined;
}

/** A request as {@link authenticateRequest} reads it. */
export interface ResourceRequest {
  readonly authorization: string | readonly string[] | undefined;
  /** The `DPoP` header's values, in order (`IncomingMessage.headersDistinct.dpop`; empty when absent). */
  readonly dpop: readonly string[];
  readonly method: string;
  /**
   * The URL the client addressed, absolute: the API's public base URL (or the request's scheme and `Host`) and
   * the request's path and query. Compared with a DPoP proof's `htu` (query ignored).
   */
  readonly url: string;
}

/**
 * The scheme and token of an `Authorization` header: `Bearer` (RFC 6750 §2.1) or, when `dpop` is enabled,
 * `DPoP` (RFC 9449 §7.1), both case-insensitive, both `b64token` syntax.
 *
 * @throws BearerTokenError as {@link bearerTokenOf}: `token_missing` (no header, another scheme),
 *   `request_malformed`.
 */
export function credentialsOf(
  authorization: string | readonly string[] | undefined,
  dpopEnabled: boolean,
): { readonly scheme: 'Bearer' | 'DPoP'; readonly token: string } {
  if (dpopEnabled && typeof authorization === 'string' && /^dpop(\s|$)/i.test(authorization)) {
    const token = authorization.slice(4).trim();
    if (!B64TOKEN.test(token)) {
      throw new BearerTokenError('request_malformed', { detail: 'DPoP not a b64token', scheme: 'DPoP' });
    }
    return { scheme: 'DPoP', token };
  }
  return { scheme: 'Bearer', token: bearerTokenOf(authorization) };
}

/** The `cnf.jkt` of validated claims (RFC 9449 §6.1), or undefined. */
function boundKeyOf(claims: AccessTokenClaims): string | undefined {
  const cnf: unknown = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const jkt: unknown = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' ? jkt : undefined;
}

/**
 * What every adapter does, DPoP included (RFC 9449 §7): reads `Authorization`; for `DPoP <token>` validates the
 * token, verifies the request's one proof against the method, the URL and the token (`ath`), and requires the
 * token's `cnf.jkt` to be the proof key's thumbprint; for `Bearer <token>` validates the token and refuses it
 * when it is DPoP-bound (§7.2) or when `dpop.required`; then applies the route's requirement.
 *
 * @param dpop the adapter's DPoP verifier; undefined: the `DPoP` scheme is not accepted (`token_missing`), and
 *   DPoP-bound tokens are still refused as bearer tokens.
 * @returns the validated claims.
 * @throws BearerTokenError for every refusal (`scheme` `DPoP` for a DPoP request, so the challenge answers in
 *   that scheme); other errors only from a requirement's custom `check`.
 */
export async function authenticateRequest(
  validator: TokenValidator,
  request: ResourceRequest,
  requirement: AuthRequirement | undefined,
  dpop: DpopVerifier | undefined,
): Promise<AccessTokenClaims> {
  const { scheme, token } = credentialsOf(request.authorization, dpop !== undefined);
  let claims: AccessTokenClaims;
  if (scheme === 'DPoP' && dpop !== undefined) {
    try {
      claims = await validator.validate(token);
      const jkt = await dpop.verify({
        proofs: request.dpop,
        method: request.method,
        url: request.url,
        accessToken: token,
      });
      const bound = boundKeyOf(claims);
      if (bound === undefined) throw new BearerTokenError('dpop_token_not_bound');
      if (bound !== jkt) throw new BearerTokenError('dpop_key_mismatch', { detail: `proof key ${jkt}` });
    } catch (error) {
      throw inScheme(error, 'DPoP');
    }
  } else {
    if (dpop?.required === true) throw new BearerTokenError('dpop_required', { scheme: 'DPoP' });
    claims = await validator.validate(token);
    if (boundKeyOf(claims) !== undefined) {
      throw new BearerTokenError('dpop_bound_token_as_bearer', {
        scheme: dpop === undefined ? 'Bearer' : 'DPoP',
      });
    }
  }
  if (requirement !== undefined) {
    try {
      await authorize(claims, requirement);
    } catch (error) {
      throw inScheme(error, scheme);
    }
  }
  return claims;
}

/** The same refusal answered in `scheme`'s challenge; anything that is not a refusal unchanged. */
function inScheme(error: unknown, scheme: 'Bearer' | 'DPoP'): unknown {
  if (!(error instanceof BearerTokenError) || error.scheme === scheme) return error;
  return new BearerTokenError(error.code, {
    description: error.description,
    ...(error.detail === undefined ? {} : { detail: error.detail }),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.scope === undefined ? {} : { scope: error.scope }),
    ...(error.claims === undefined ? {} : { claims: error.claims }),
    scheme,
  });
}
