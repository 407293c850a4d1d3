/**
 * The one catalogue of resource-server failures: every way a bearer request can be refused, keyed by a stable
 * `code`, each with the RFC 6750 `error`, the HTTP status and a safe `error_description`.
 *
 * Why not `@tessera/protocol`'s catalogue: that one is keyed by the identity platform's numeric codes (AADSTS
 * numbers) and carries the token endpoint's OAuth errors (RFC 6749 §5.2) and wire body (`error_codes`,
 * `trace_id`, …). A resource server answers RFC 6750 challenges instead (`invalid_token`, `insufficient_scope`,
 * `WWW-Authenticate`), and its failures have no platform number (Entra's resource-side validators have none
 * either). Mixing them would mean inventing numbers and widening the protocol's error union for conditions the
 * STS never raises. A test keeps this catalogue, the code union and the table in `docs/resource.md` in step.
 *
 * @see RFC 6750 §3.1 (error codes), RFC 6749 §4.1.2.1 (`temporarily_unavailable`), Microsoft identity platform
 *   claims challenges (`insufficient_claims`)
 */

/** `error` values a resource server sends (RFC 6750 §3.1, plus Microsoft's `insufficient_claims` step-up). */
export type BearerErrorName =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_claims'
  | 'temporarily_unavailable'
  /** RFC 9449 §7.1: the DPoP proof of a request is missing or invalid. */
  | 'invalid_dpop_proof';

/** One catalogue entry. */
export interface BearerErrorDefinition {
  /**
   * The `error` attribute of the challenge; `undefined` when the request carried no credentials at all, where
   * RFC 6750 §3.1 says the challenge SHOULD NOT include an error code.
   */
  readonly error: BearerErrorName | undefined;
  /**
   * HTTP status: 400 `invalid_request`, 401 `invalid_token` / `invalid_dpop_proof` / no credentials, 403
   * `insufficient_scope`.
   */
  readonly status: 400 | 401 | 403 | 503;
  /**
   * Safe text for `error_description`. Only the characters RFC 6750 §3 allows in that attribute
   * (%x20-21 / %x23-5B / %x5D-7E: printable ASCII without `"` and `\`).
   */
  readonly description: string;
  /** When it is raised; rendered into the docs table. */
  readonly when: string;
}

export const bearerErrorCatalogue = {
  token_missing: {
    error: undefined,
    status: 401,
    description: 'The request has no bearer access token.',
    when: 'No `Authorization` header, or a scheme other than `Bearer`.',
  },
  request_malformed: {
    error: 'invalid_request',
    status: 400,
    description: 'The Authorization header is not a valid Bearer credential.',
    when: '`Authorization: Bearer` with no token, or a value that is not RFC 6750 §2.1 `b64token` syntax.',
  },
  token_too_large: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is larger than this API accepts.',
    when: 'The token is longer than `maxTokenBytes`; checked before any parsing.',
  },
  token_malformed: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is not a well-formed signed JWT.',
    when: 'Not three parts of canonical base64url (no `=` padding, no `+` or `/`, zero pad bits), header or payload not JSON objects, unencoded payload, JWE.',
  },
  algorithm_not_allowed: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is signed with an algorithm this API does not accept.',
    when: '`alg` not in `algorithms` (e.g. `none`, `HS256`): refused before any key is looked up.',
  },
  key_algorithm_mismatch: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token algorithm does not match its signing key.',
    when: 'The `kid` names a published key whose `alg` / `kty` differs from the header `alg` (algorithm confusion).',
  },
  key_not_found: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is signed with an unknown key.',
    when: 'No `kid`, or a `kid` absent from the JWKS even after one refresh (at most one per `jwksCooldownMs`).',
  },
  signature_invalid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token signature is invalid.',
    when: 'The signature does not verify with the published key (forged or altered token).',
  },
  type_not_allowed: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token type is not accepted.',
    when: 'Header `typ` missing or other than `at+jwt` / `JWT`; or a v2.0 token not typed `at+jwt`.',
  },
  not_an_access_token: {
    error: 'invalid_token',
    status: 401,
    description: 'The token is not an access token.',
    when: 'No `ver`; `nonce`, `at_hash` or `c_hash` present; or neither `idtyp=app` nor a `scp` claim (id_tokens).',
  },
  issuer_invalid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token issuer is not accepted.',
    when: '`iss` matches no configured issuer; `tid` is not the tenant an exact issuer names; for a `{tenantid}` template, `iss` differs from the template filled with `tid`.',
  },
  tenant_not_allowed: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token was issued in a tenant this API does not accept.',
    when: '`tid` not in `allowedTenants`, or `isTenantAllowed(tid)` returned false.',
  },
  audience_invalid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is not meant for this API.',
    when: '`aud` matches none of `audience`.',
  },
  token_expired: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token has expired.',
    when: '`exp` is more than `clockSkewSeconds` in the past.',
  },
  token_not_yet_valid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is not valid yet.',
    when: '`nbf` or `iat` is more than `clockSkewSeconds` in the future.',
  },
  lifetime_invalid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token lifetime is not valid.',
    when: '`iat` or `nbf` is at or after `exp`: a token that is never valid.',
  },
  claim_invalid: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token lacks a required claim or has a claim of the wrong type.',
    when: 'Missing `exp`, `iat`, `sub`, `tid`, or the client id (`azp` v2 / `appid` v1); a mistyped claim; a `ver` not in `tokenVersions`.',
  },
  validation_failed: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token could not be validated.',
    when: 'Any other failure during validation (for example `isTenantAllowed` threw); the cause is kept for logs.',
  },
  metadata_unavailable: {
    error: 'temporarily_unavailable',
    status: 503,
    description: 'The token signing keys are unavailable. Try again later.',
    when: 'Discovery or the JWKS could not be fetched or parsed (timeout, non-200, invalid JSON). No challenge.',
  },
  insufficient_scope: {
    error: 'insufficient_scope',
    status: 403,
    description: 'The access token does not grant the permission this operation requires.',
    when: 'A delegated token without any accepted `scp` value, or an app token without any accepted `roles` value.',
  },
  client_not_allowed: {
    error: 'insufficient_scope',
    status: 403,
    description: 'The calling application is not allowed to use this operation.',
    when: 'The `azp` / `appid` and `iss` pair is not in the access control list.',
  },
  insufficient_claims: {
    error: 'insufficient_claims',
    status: 401,
    description: 'The access token does not meet the authentication requirements of this operation.',
    when: 'Step-up: the token lacks the required authentication context (`acrs`); the challenge carries `claims`.',
  },
  dpop_proof_invalid: {
    error: 'invalid_dpop_proof',
    status: 401,
    description: 'The DPoP proof is not valid.',
    when: '`Authorization: DPoP` without exactly one `DPoP` header, or a proof failing a check of RFC 9449 §4.3 (`typ`, `alg`, public `jwk`, signature, `htm`, `htu`, `iat` window, `ath`); the description names the check.',
  },
  dpop_proof_replayed: {
    error: 'invalid_dpop_proof',
    status: 401,
    description: 'The DPoP proof was already used. Sign a new proof for every request.',
    when: 'A proof whose `jti` (for its key) the replay cache has seen within `proofWindowSeconds` (RFC 9449 §11.1).',
  },
  dpop_key_mismatch: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is bound to another key than the one that signed the DPoP proof.',
    when: "The token's `cnf.jkt` is not the RFC 7638 thumbprint of the proof's `jwk` (a stolen token with the thief's own proof).",
  },
  dpop_token_not_bound: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is not DPoP-bound: send it with the Bearer scheme.',
    when: '`Authorization: DPoP` with a token that has no `cnf.jkt`.',
  },
  dpop_bound_token_as_bearer: {
    error: 'invalid_token',
    status: 401,
    description: 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.',
    when: '`Authorization: Bearer` with a token that has `cnf.jkt` (RFC 9449 §7.2), whatever the `dpop` options.',
  },
  dpop_required: {
    error: 'invalid_token',
    status: 401,
    description: 'This API accepts only DPoP-bound access tokens sent with the DPoP scheme.',
    when: '`Authorization: Bearer` while `dpop.required` is true.',
  },
} as const satisfies Record<string, BearerErrorDefinition>;

/** Every stable failure code; switch on it rather than on descriptions. */
export type BearerErrorCode = keyof typeof bearerErrorCatalogue;

/** Options of a {@link BearerTokenError} beyond its code. */
export interface BearerTokenErrorOptions {
  /** Internal detail for logs; never sent. */
  readonly detail?: string;
  /** The underlying error, for logs; never sent. */
  readonly cause?: unknown;
  /** Overrides the catalogue's safe description (must stay within RFC 6750 §3 characters). */
  readonly description?: string;
  /** Space-separated scope (or app role) values that would satisfy the request: the challenge's `scope`. */
  readonly scope?: string;
  /** Base64 claims challenge for `insufficient_claims` (the challenge's `claims` attribute). */
  readonly claims?: string;
  /**
   * The authentication scheme of the refused request, which the challenge answers in: `DPoP` for `Authorization:
   * DPoP` (RFC 9449 §7.1). Default: `DPoP` for the `dpop_proof_*` codes, else `Bearer`.
   */
  readonly scheme?: 'Bearer' | 'DPoP';
}

/**
 * The one error type of the resource library, made only from {@link bearerErrorCatalogue} so that `error`,
 * `status` and the safe `description` always agree. `detail` and `cause` are for logs only.
 *
 * @example throw new BearerTokenError('insufficient_scope', { scope: 'Files.Read' })
 */
export class BearerTokenError extends Error {
  override readonly name = 'BearerTokenError';
  readonly code: BearerErrorCode;
  /** RFC 6750 `error`, or `undefined` for a request without credentials. */
  readonly error: BearerErrorName | undefined;
  readonly status: 400 | 401 | 403 | 503;
  /** Safe text for `error_description`. */
  readonly description: string;
  readonly scope: string | undefined;
  readonly claims: string | undefined;
  readonly detail: string | undefined;
  /** The scheme the challenge answers in (RFC 6750 `Bearer` or RFC 9449 `DPoP`). */
  readonly scheme: 'Bearer' | 'DPoP';

  constructor(code: BearerErrorCode, options: BearerTokenErrorOptions = {}) {
    const definition: BearerErrorDefinition = bearerErrorCatalogue[code];
    const description = options.description ?? definition.description;
    super(
      options.detail === undefined ? `${code}: ${description}` : `${code}: ${options.detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.error = definition.error;
    this.status = definition.status;
    this.description = description;
    this.scope = options.scope;
    this.claims = options.claims;
    this.detail = options.detail;
    this.scheme = options.scheme ?? (code.startsWith('dpop_proof_') ? 'DPoP' : 'Bearer');
  }
}
