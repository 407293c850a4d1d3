import { IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import type { Application, User } from '../directory/model.js';
import type { ResolvedTenantSegment } from '../directory/tenant-segment.js';
import type { VerifiedDpopProof } from '../dpop/proof.js';

/**
 * A token request after parsing through its grant's descriptor: the parameters the grant declares and the
 * headers grants may need.
 */
export interface TokenRequest {
  /**
   * Single-valued form parameters: those the grant declares ({@link GrantDescriptor.parameters}) and the client
   * authentication ones ({@link CLIENT_AUTHENTICATION_PARAMETERS}); nothing else reaches the grant.
   */
  readonly params: Readonly<Record<string, string>>;
  /**
   * Every value of each parameter the grant lets repeat ({@link GrantDescriptor.allowRepeated}) that the request
   * carried, in body order (one value is a list of one).
   */
  readonly repeatedParams: Readonly<Record<string, readonly string[]>>;
  readonly authorization: string | undefined;
  readonly tenantSegment: ResolvedTenantSegment;
  /** The `Origin` header: present on browsers' cross-origin requests (spa code redemption). */
  readonly origin: string | undefined;
  /**
   * The request's DPoP proof (RFC 9449 §5), already verified by the endpoint (signature, `htm` / `htu`, `iat`,
   * nonce, single use); absent without a `DPoP` header. Grants that issue DPoP-bound tokens bind them to its
   * `jkt`.
   */
  readonly dpop?: VerifiedDpopProof | undefined;
  /**
   * Told, once, who the issued access token is for, as soon as the grant issued it: the token endpoint builds the
   * sign-in record from this instead of decoding the token it just signed. A grant that does not call it gets its
   * sign-in built from the token's claims.
   */
  readonly issued?: ((token: IssuedAccessToken) => void) | undefined;
}

/**
 * Whom an issued access token is about, from the directory objects the grant already read (no further lookups):
 * the token's tenant (`tid`), its client (`appid` / `azp`), its resource (`aud`) and, delegated, its user (`oid`).
 */
export interface IssuedAccessToken {
  readonly tenantId: string;
  readonly client: Application;
  readonly resource: Application;
  /** The signed-in user; absent for an app-only token. */
  readonly user?: User | undefined;
}

/**
 * Refuses a token request without a DPoP proof from an application that requires DPoP (the Tessera property
 * `dpopBoundAccessTokens`, after RFC 9449 §5.2's client metadata of that name: "the authorization server MUST
 * reject token requests from this client that do not contain the DPoP header").
 *
 * @throws IdentityError 9100303 (`invalid_request`).
 */
export function assertDpopRequirement(application: Application, request: TokenRequest): void {
  if (application.dpopBoundAccessTokens === true && request.dpop === undefined) {
    throw new IdentityError(9100303, { clientId: application.appId });
  }
}

/**
 * Form parameters of client authentication at the token endpoint (RFC 6749 §2.3.1, RFC 7521 §4.2): every grant
 * receives them.
 */
export const CLIENT_AUTHENTICATION_PARAMETERS: readonly string[] = [
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
];

/**
 * One `grant_type` of the token endpoint (RFC 6749 §4), as node-oidc-provider describes its grants: the grant type,
 * the form parameters it reads and the handler. Each grant lives in its own module and is registered in
 * `grants/index.ts`.
 */
export interface GrantDescriptor {
  /** The `grant_type` value (a URI for extension grants, RFC 6749 §4.5). */
  readonly grantType: string;
  /** Form parameters the grant reads besides `grant_type` and client authentication's. */
  readonly parameters: readonly string[];
  /**
   * Those of {@link parameters} that may appear more than once (RFC 8693 §2.1 `resource` and `audience`); every
   * other parameter given twice is refused (RFC 6749 §3.2). Empty for the grants of RFC 6749.
   */
  readonly allowRepeated: readonly string[];
  /**
   * Handles a token request for this grant.
   *
   * @throws IdentityError for any refusal; the endpoint turns it into the error body.
   */
  handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse>;
}
