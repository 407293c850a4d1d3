import { BearerTokenError } from './errors.js';

/** Options of the challenge every adapter answers with. */
export interface ChallengeOptions {
  /**
   * The `realm` attribute (RFC 6750 §3, RFC 7235 §2.2). Default `''`, as the Microsoft identity platform sends it
   * (`Bearer realm=""`). Printable ASCII without `"` and `\`.
   */
  readonly realm?: string;
  /**
   * Where a client obtains a token that satisfies a claims challenge, sent as `authorization_uri` with
   * `insufficient_claims` (Microsoft's format), e.g. `https://host/{tenant}/oauth2/v2.0/authorize`. Default none.
   */
  readonly authorizationUri?: string;
  /**
   * Set by adapters with `dpop` options: the proof algorithms, sent as the `DPoP` challenge's `algs` (RFC 9449
   * §7.1). Undefined: no DPoP challenge.
   */
  readonly dpopAlgorithms?: readonly string[];
  /** Set by adapters whose `dpop.required` is true: no `Bearer` challenge is offered. */
  readonly dpopRequired?: boolean;
}

/** An error response, ready for any HTTP framework. */
export interface BearerErrorResponse {
  /** 400, 401, 403, or 503 (keys unavailable). */
  readonly status: number;
  /** `www-authenticate` (absent on 503), `cache-control: no-store`. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * `{ error, error_description }`: `error` is the RFC 6750 code, `unauthorized` for a request with no
   * credentials (whose challenge carries no error code), or `temporarily_unavailable`.
   */
  readonly body: { readonly error: string; readonly error_description: string };
}

/** RFC 6750 §3: characters allowed inside the challenge's quoted attribute values. */
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

/**
 * Checks challenge options once, where an adapter is created.
 *
 * @throws TypeError when `realm` or `authorizationUri` contains characters a quoted-string must not carry.
 */
export function assertChallengeOptions(options: ChallengeOptions): void {
  for (const [name, value] of Object.entries(options)) {
    if (typeof value === 'string' && !QUOTABLE.test(value)) {
      throw new TypeError(`"${name}" contains characters not allowed in a WWW-Authenticate challenge.`);
    }
  }
}

/**
 * The `WWW-Authenticate` value for a refusal: `Bearer realm="…"` alone for a request without credentials
 * (RFC 6750 §3.1 "SHOULD NOT include an error code"), else with `error` and `error_description`, plus `scope`
 * for `insufficient_scope` and `authorization_uri` + `claims` for `insufficient_claims`. Attribute values that
 * would break the quoted-string syntax are dropped, never sent.
 *
 * @example Bearer realm="", error="invalid_token", error_description="The access token has expired."
 * @see RFC 6750 §3, §3.1; RFC 7235 §4.1
 */
export function bearerChallenge(error: BearerTokenError, options: ChallengeOptions = {}): string {
  return challengeOf('Bearer', error, options);
}

/**
 * The `WWW-Authenticate` value for a refusal, in the scheme the request used (RFC 9449 §7.1): `DPoP` with `algs`
 * for DPoP requests and for APIs that require DPoP, else `Bearer` ({@link bearerChallenge}); an API that accepts
 * both adds `DPoP algs="…"` after a `Bearer` challenge, so clients learn that DPoP is available (RFC 7235 §4.1
 * allows several challenges).
 *
 * @example DPoP realm="", error="invalid_dpop_proof", error_description="…", algs="ES256 RS256"
 */
export function authenticateChallenge(error: BearerTokenError, options: ChallengeOptions = {}): string {
  const algs = options.dpopAlgorithms;
  if (algs === undefined) return bearerChallenge(error, options);
  if (error.scheme === 'DPoP' || options.dpopRequired === true) return challengeOf('DPoP', error, options);
  return `${bearerChallenge(error, options)}, DPoP algs="${algs.join(' ')}"`;
}

function challengeOf(scheme: 'Bearer' | 'DPoP', error: BearerTokenError, options: ChallengeOptions): string {
  const attributes: [string, string | undefined][] = [['realm', options.realm ?? '']];
  if (error.error !== undefined) {
    if (error.code === 'insufficient_claims')
      attributes.push(['authorization_uri', options.authorizationUri]);
    attributes.push(['error', error.error], ['error_description', error.description]);
    if (error.scope !== undefined) attributes.push(['scope', error.scope]);
    if (error.claims !== undefined) attributes.push(['claims', error.claims]);
  }
  if (scheme === 'DPoP') attributes.push(['algs', options.dpopAlgorithms?.join(' ')]);
  return `${scheme} ${attributes
    .filter((entry): entry is [string, string] => entry[1] !== undefined && QUOTABLE.test(entry[1]))
    .map(([name, value]) => `${name}="${value}"`)
    .join(', ')}`;
}

/**
 * Turns a refusal into the response every adapter sends: status per RFC 6750 §3.1 (400 `invalid_request`, 401
 * `invalid_token` or no credentials, 403 `insufficient_scope`), the challenge, `Cache-Control: no-store`, and a
 * JSON body with the same `error` and safe `error_description`. Nothing else leaves: not `detail`, not the cause,
 * never a stack trace.
 */
export function bearerErrorResponse(
  error: BearerTokenError,
  options: ChallengeOptions = {},
): BearerErrorResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (error.status !== 503) headers['www-authenticate'] = authenticateChallenge(error, options);
  return {
    status: error.status,
    headers,
    body: {
      error: error.error ?? 'unauthorized',
      error_description: error.description,
    },
  };
}

/** Narrowing helper for adapters: is this one of the library's refusals? */
export function isBearerTokenError(error: unknown): error is BearerTokenError {
  return error instanceof BearerTokenError;
}
