/**
 * Scope parsing shared by the server and clients.
 *
 * @see RFC 6749 §3.3 (scope is a space-delimited list of case-sensitive strings; the Microsoft identity platform,
 * and so Tessera, compares its scope values case-insensitively), Microsoft identity platform scopes
 * (`{resource}/{scope}`, `{resource}/.default`).
 */

/** Suffix that asks for every statically configured permission of a resource. */
export const DEFAULT_SCOPE_SUFFIX = '/.default';

/** OpenID Connect scopes that name no resource. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'offline_access']);

/**
 * True when `value` is a valid RFC 6749 §3.3 scope-token: one or more of `%x21 / %x23-5B / %x5D-7E`
 * (printable ASCII except space, `"` and `\\`).
 */
export function isScopeToken(value: string): boolean {
  return /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value);
}

/** Splits a `scope` parameter into its distinct values, in order. Empty input gives an empty list. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return [...new Set(scope.split(' ').filter((value) => value.length > 0))];
}

/**
 * The resource identifier of a `{resource}/.default` scope (`api://x/.default` → `api://x`), else `undefined`.
 * The resource part must be non-empty; the suffix matches in any letter case, as scope values do on the
 * Microsoft identity platform.
 */
export function defaultScopeResource(scope: string): string | undefined {
  if (!scope.toLowerCase().endsWith(DEFAULT_SCOPE_SUFFIX)) return undefined;
  const resource = scope.slice(0, -DEFAULT_SCOPE_SUFFIX.length);
  return resource.length > 0 ? resource : undefined;
}
