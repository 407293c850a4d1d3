/**
 * Issuer and endpoint URLs, all rooted at the public base URL (`https://host:port`, no trailing slash).
 *
 * v1 `https://{host}/{tid}/`, v2 `https://{host}/{tid}/v2.0`, as the Microsoft identity platform's.
 *
 * @see docs/endpoints.md (Access tokens), RFC 8414 §2 (`issuer`)
 */

/** v2.0 issuer of a tenant; with `{tenantid}` as `tenantId` it is the multi-tenant template. */
export function issuerV2(base: string, tenantId: string): string {
  return `${base}/${tenantId}/v2.0`;
}

/** v1.0 issuer of a tenant. */
export function issuerV1(base: string, tenantId: string): string {
  return `${base}/${tenantId}/`;
}

/** Token endpoint for a `{tenant}` path segment. */
export function tokenEndpoint(base: string, tenantSegment: string): string {
  return `${base}/${tenantSegment}/oauth2/v2.0/token`;
}

/** JWKS URI for a `{tenant}` path segment. */
export function jwksUri(base: string, tenantSegment: string): string {
  return `${base}/${tenantSegment}/discovery/v2.0/keys`;
}
