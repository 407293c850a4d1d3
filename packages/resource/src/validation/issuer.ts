/**
 * Issuer rules: exact issuers (single tenant) and `{tenantid}` templates (multi-tenant).
 *
 * All tenants of an authority share its signing keys, so `iss` and `tid` together are the tenant boundary, and
 * both must name the same tenant. A multi-tenant API cannot list every issuer, and accepting any `iss` on the
 * authority's host would accept a token whose `iss` names one tenant and whose `tid` names another. The rule
 * (Microsoft.Identity.Web's `AadIssuerValidator`): fill the template with the token's own `tid` and require `iss` to
 * equal the result, so `tid` is the tenant in `iss`. An exact issuer names its tenant too (`…/{tid}/v2.0`,
 * `…/{tid}/`), and the token's `tid` must be that tenant. Which tenants are then accepted is a separate decision
 * (`allowedTenants`, `isTenantAllowed`).
 *
 * @see `docs/endpoints.md` (discovery: issuer template `{base}/{tenantid}/v2.0` for `common` / `organizations`),
 *   `docs/resource.md` "Multi-tenant APIs", RFC 8725 §3.8
 */

/** The placeholder of multi-tenant issuer templates, as the platform's discovery document spells it. */
export const TENANT_ID_PLACEHOLDER = '{tenantid}';

/** Tenant ids are GUIDs; only a GUID may be substituted into a template. */
const TENANT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decides whether an `iss` / `tid` pair is acceptable. */
export type IssuerRule = (iss: unknown, tid: unknown) => boolean;

/**
 * The tenant an exact issuer names: the path segment before a final `v2.0` segment (`{base}/{tid}/v2.0`), else the
 * last path segment (`{base}/{tid}/`, the v1.0 form), lower-cased.
 *
 * @returns `undefined` when that segment is not a tenant GUID (or `issuer` is not a URL).
 */
export function tenantOfIssuer(issuer: string): string | undefined {
  let segments: string[];
  try {
    segments = new URL(issuer).pathname.split('/').filter((segment) => segment.length > 0);
  } catch {
    return undefined;
  }
  if (segments.at(-1) === 'v2.0') segments.pop();
  const tenant = segments.at(-1);
  return tenant !== undefined && TENANT_ID_PATTERN.test(tenant) ? tenant.toLowerCase() : undefined;
}

/**
 * Builds the rule for a list of issuers, each exact or a `{tenantid}` template. An `iss` / `tid` pair is accepted
 * when `iss` equals an exact issuer (`===`) and `tid` is the tenant that issuer names (GUIDs compare
 * case-insensitively), or when `tid` is a GUID and `iss` equals a template filled with it.
 *
 * @param issuers non-empty; an exact issuer that names no tenant GUID (see {@link tenantOfIssuer}) matches nothing.
 */
export function createIssuerRule(issuers: readonly string[]): IssuerRule {
  const exact = new Map<string, string | undefined>();
  for (const issuer of issuers) {
    if (!issuer.includes(TENANT_ID_PLACEHOLDER)) exact.set(issuer, tenantOfIssuer(issuer));
  }
  const templates = issuers.filter((issuer) => issuer.includes(TENANT_ID_PLACEHOLDER));
  return (iss, tid) => {
    if (typeof iss !== 'string' || typeof tid !== 'string' || !TENANT_ID_PATTERN.test(tid)) return false;
    const tenant = exact.get(iss);
    if (tenant !== undefined) return tenant === tid.toLowerCase();
    return templates.some((template) => template.replace(TENANT_ID_PLACEHOLDER, tid) === iss);
  };
}

/**
 * The v1.0 issuer matching a v2.0 one: `{base}/{tid}/v2.0` → `{base}/{tid}/` (templates too).
 *
 * @returns `undefined` when `issuer` does not end in `/v2.0`.
 * @see `docs/resource.md`, validator option `authority` (the v1.0 issuer derived from the v2.0 one)
 */
export function v1IssuerOf(issuer: string): string | undefined {
  return issuer.endsWith('/v2.0') ? issuer.slice(0, -'v2.0'.length) : undefined;
}
