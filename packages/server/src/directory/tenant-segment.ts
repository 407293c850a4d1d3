import { IdentityError } from '@tessera/protocol';
import type { DirectoryCache } from './directory-cache.js';
import { DOMAIN_PATTERN, GUID_PATTERN } from './identifiers.js';
import type { Tenant } from './model.js';

/** `{tenant}` path segments that name no single tenant. */
export type TenantAlias = 'common' | 'organizations' | 'consumers';

/** What a `{tenant}` segment resolved to. */
export type ResolvedTenantSegment =
  | { readonly kind: 'tenant'; readonly tenant: Tenant; readonly segment: string }
  | { readonly kind: 'alias'; readonly alias: TenantAlias; readonly segment: string };

const ALIASES: ReadonlySet<string> = new Set(['common', 'organizations', 'consumers']);

/**
 * Longest `{tenant}` path segment routed, in characters: a DNS name is at most 253 (RFC 1035 §2.3.4), so every
 * verified domain fits. Longer segments are refused with 900023 before routing.
 */
export const TENANT_SEGMENT_MAX_CHARS = 256;

/**
 * Resolves the `{tenant}` path segment: a tenant GUID, a verified domain (case-insensitive), or one of the
 * aliases `common`, `organizations`, `consumers`.
 *
 * @throws IdentityError 900023 for a segment that is neither a GUID nor a domain name, 90002 for an unknown tenant.
 */
export async function resolveTenantSegment(
  segment: string,
  cache: DirectoryCache,
): Promise<ResolvedTenantSegment> {
  const key = segment.toLowerCase();
  if (ALIASES.has(key)) return { kind: 'alias', alias: key as TenantAlias, segment: key };
  if (!GUID_PATTERN.test(key) && !DOMAIN_PATTERN.test(key))
    throw new IdentityError(900023, { tenant: segment.slice(0, 256) });
  const tenant = await cache.tenant(key);
  if (tenant === undefined) throw new IdentityError(90002, { tenant: segment });
  return { kind: 'tenant', tenant, segment: key };
}

/**
 * Whether the token endpoint of `segment` may redeem a code or refresh token of a user of `tenantId`: that
 * tenant's own endpoint, `common` or `organizations`; never another tenant's, nor `consumers` (no tenant's
 * account is a consumer account). The tenant path is a boundary for public clients too, which name no tenant
 * by authenticating.
 */
export function segmentAdmitsTenant(segment: ResolvedTenantSegment, tenantId: string): boolean {
  return segment.kind === 'tenant' ? segment.tenant.id === tenantId : segment.alias !== 'consumers';
}
