import { clientIdOf, type AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';

/** One entry of an access control list: a client application as issued by one issuer. */
export interface AclEntry {
  /** The client's application id, compared with `azp` (v2.0) or `appid` (v1.0). */
  readonly appId: string;
  /** The exact `iss` the client's tokens carry (`{base}/{tid}/v2.0` or the v1.0 `{base}/{tid}/`). */
  readonly issuer: string;
}

/** Options of {@link requireAcl}. */
export interface AclOptions {
  readonly allowed: readonly AclEntry[];
}

/**
 * The access control list pattern: the API keeps a list of client applications it trusts and checks the caller's
 * application id AND the token's issuer against it. Checking the id alone is not enough: an application id is
 * only meaningful together with the tenant (issuer) that vouches for it. Application ids compare
 * case-insensitively (GUIDs); issuers exactly.
 *
 * @throws BearerTokenError `client_not_allowed` (403, `insufficient_scope`) when no entry matches.
 * @throws TypeError for an empty list.
 * @see `docs/resource.md`, "Authorization"
 */
export function requireAcl(claims: AccessTokenClaims, options: AclOptions): void {
  if (options.allowed.length === 0) throw new TypeError('"allowed" must not be empty.');
  const clientId = clientIdOf(claims).toLowerCase();
  const match = options.allowed.some(
    (entry) => entry.appId.toLowerCase() === clientId && entry.issuer === claims.iss,
  );
  if (!match) {
    throw new BearerTokenError('client_not_allowed', { detail: `client ${clientId} from ${claims.iss}` });
  }
}
