import { isAppOnlyToken, scopesOf, type AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';

/** RFC 6749 §3.3 `scope-token`: printable ASCII without space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Checks that every value can appear in a `scope` attribute of a challenge, and that the list is not empty.
 *
 * @throws TypeError otherwise (a programming error, raised where the requirement is declared).
 */
export function assertScopeTokens(values: readonly string[], name: string): void {
  if (values.length === 0) throw new TypeError(`"${name}" must not be empty.`);
  for (const value of values) {
    if (!SCOPE_TOKEN.test(value))
      throw new TypeError(`"${name}" has an invalid value: ${JSON.stringify(value)}`);
  }
}

/**
 * Requires a delegated (user) token whose `scp` contains at least one of `acceptedScopes` (case-sensitive, as
 * Microsoft.Identity.Web's `RequiredScope`: any one accepted scope suffices; call twice to require two).
 * App-only tokens never satisfy it: they carry no `scp`.
 *
 * @param acceptedScopes short scope values as they appear in `scp` (`Files.Read`, not `api://x/Files.Read`).
 * @throws BearerTokenError `insufficient_scope` (403) with `scope` = the accepted scopes (RFC 6750 §3).
 * @throws TypeError for an empty list or a value that is not a scope token.
 */
export function requireScopes(claims: AccessTokenClaims, acceptedScopes: readonly string[]): void {
  assertScopeTokens(acceptedScopes, 'acceptedScopes');
  if (!isAppOnlyToken(claims) && hasAny(scopesOf(claims), acceptedScopes)) return;
  throw new BearerTokenError('insufficient_scope', {
    scope: acceptedScopes.join(' '),
    detail: 'no accepted delegated scope',
  });
}

/** True when `granted` contains one of `accepted`. */
export function hasAny(granted: readonly string[], accepted: readonly string[]): boolean {
  return accepted.some((value) => granted.includes(value));
}
