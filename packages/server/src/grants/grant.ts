import type { TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import type { ResolvedTenantSegment } from '../directory/tenant-segment.js';

/** A token request after parsing: single-valued form parameters and the headers grants may need. */
export interface TokenRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  readonly tenantSegment: ResolvedTenantSegment;
  /** The `Origin` header: present on browsers' cross-origin requests (spa code redemption). */
  readonly origin: string | undefined;
}

/**
 * One `grant_type` of the token endpoint (RFC 6749 §4). Each grant lives in its own module and is registered in
 * `grants/index.ts`.
 */
export interface Grant {
  readonly grantType: string;
  /**
   * Handles a token request for this grant.
   *
   * @throws IdentityError for any refusal; the endpoint turns it into the error body.
   */
  handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse>;
}
