/**
 * Issuer rules: exact issuers (single tenant) and `{tenantid}` templates (multi-tenant).
 *
 * A multi-tenant API cannot list every issuer, and accepting any `iss` on the authority's host would accept a
 * token whose `iss` names one tenant and whose `tid` names another. The rule (Microsoft.Identity.Web's
 * `AadIssuerValidator`): fill the template with the token's own `tid` and require `iss` to equal the result, so
 * `tid` is the tenant in `iss`. Which tenants are then accepted is a separate decision (`allowedTenants`,
 * `isTenantAllowed`).
 *
 * @see SPEC.md §3 Endpoints (issuer template `{base}/{tenantid}/v2.0` for `common` / `organizations`), RFC 8725 §3.8
 */

/** The placeholder of multi-tenant issuer templates, as the platform's discovery document spells it. */
export const TENANT_ID_PLACEHOLDER = '{tenantid}';

/** Tenant ids are GUIDs; only a GUID may be substituted into a template. */
const TENANT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decides whether an `iss` / `tid` pair is acceptable. */
export type IssuerRule = (iss: unknown, tid: unknown) => boolean;

/**
 * Builds the rule for a list of issuers, each exact or a `{tenantid}` template.
 *
 * @param issuers non-empty; exact values are compared with `===`.
 */
export function createIssuerRule(issuers: readonly string[]): IssuerRule {
  const exact = new Set(issuers.filter((issuer) => !issuer.includes(TENANT_ID_PLACEHOLDER)));
  const templates = issuers.filter((issuer) => issuer.includes(TENANT_ID_PLACEHOLDER));
  return (iss, tid) => {
    if (typeof iss !== 'string') return false;
    if (exact.has(iss)) return true;
    if (templates.length === 0 || typeof tid !== 'string' || !TENANT_ID_PATTERN.test(tid)) return false;
    return templates.some((template) => template.replace(TENANT_ID_PLACEHOLDER, tid) === iss);
  };
}

/**
 * The v1.0 issuer matching a v2.0 one: `{base}/{tid}/v2.0` → `{base}/{tid}/` (templates too).
 *
 * @returns `undefined` when `issuer` does not end in `/v2.0`.
 * @see SPEC.md §3 Tokens
 */
export function v1IssuerOf(issuer: string): string | undefined {
  return issuer.endsWith('/v2.0') ? issuer.slice(0, -'v2.0'.length) : undefined;
}
