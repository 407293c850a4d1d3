import type { JWTPayload } from 'jose';
import type { AccessTokenClaims, AccessTokenVersion } from '../claims.js';
import { BearerTokenError } from '../errors.js';

/** Normalised access token `typ`: `at+jwt` (RFC 9068) or `jwt` (v1.0 tokens). */
export type AccessTokenType = 'at+jwt' | 'jwt';

/**
 * The access token type of a header `typ` (RFC 7515 §4.1.9: a media type, compared case-insensitively, with
 * `application/` optional), or `undefined` for anything else: missing, `id_token+jwt`, `logout+jwt`, `dpop+jwt`…
 */
export function accessTokenTypeOf(typ: unknown): AccessTokenType | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  const bare = lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
  return bare === 'at+jwt' || bare === 'jwt' ? bare : undefined;
}

/** Claims that only id_tokens carry (OIDC Core §2, §3.1.3.6, §3.3.2.11). */
const ID_TOKEN_ONLY_CLAIMS = ['nonce', 'at_hash', 'c_hash'] as const;

/**
 * Decides that a verified token is an access token of an accepted version and has the claims the library
 * promises in {@link AccessTokenClaims}. The rule that keeps id_tokens out (they are signed by the same keys and
 * may carry the API's appId as `aud` when the API is also a client):
 *
 * 1. `ver` is `1.0` or `2.0` (else `not_an_access_token`), and one of `tokenVersions` (else `claim_invalid`);
 * 2. a v2.0 token is typed `at+jwt` (RFC 9068 §4); the platform's v2.0 id_tokens are typed `JWT`
 *    (else `type_not_allowed`);
 * 3. no `nonce`, `at_hash` or `c_hash` (else `not_an_access_token`);
 * 4. `idtyp` is absent, `app` or `user`; an app token (`idtyp=app`) has no `scp`; any other token has a
 *    non-empty `scp` (delegated tokens always do; id_tokens never) (else `not_an_access_token`);
 * 5. `sub`, `tid`, `iat` and the client id (`azp` for v2.0, `appid` for v1.0) are present with the right
 *    types; `scp` is a string and `roles` a list of strings when present (else `claim_invalid`).
 *
 * @throws BearerTokenError as listed.
 */
export function assertAccessToken(
  payload: JWTPayload,
  typ: AccessTokenType,
  tokenVersions: ReadonlySet<AccessTokenVersion>,
): asserts payload is JWTPayload & AccessTokenClaims {
  const { ver } = payload;
  if (ver !== '1.0' && ver !== '2.0') throw new BearerTokenError('not_an_access_token', { detail: 'ver' });
  if (!tokenVersions.has(ver))
    throw new BearerTokenError('claim_invalid', { detail: `ver ${ver} not accepted` });
  if (ver === '2.0' && typ !== 'at+jwt') {
    throw new BearerTokenError('type_not_allowed', { detail: 'v2.0 token not typed at+jwt' });
  }
  for (const claim of ID_TOKEN_ONLY_CLAIMS) {
    if (payload[claim] !== undefined) throw new BearerTokenError('not_an_access_token', { detail: claim });
  }
  const { idtyp, scp } = payload;
  if (idtyp === 'app') {
    if (scp !== undefined)
      throw new BearerTokenError('not_an_access_token', { detail: 'app token with scp' });
  } else if (idtyp !== undefined && idtyp !== 'user') {
    throw new BearerTokenError('not_an_access_token', { detail: 'idtyp' });
  } else if (typeof scp !== 'string' || scp.trim() === '') {
    throw new BearerTokenError('not_an_access_token', { detail: 'neither idtyp=app nor scp' });
  }

  const clientId = ver === '2.0' ? payload.azp : payload.appid;
  if (
    typeof payload.sub !== 'string' ||
    typeof payload.tid !== 'string' ||
    typeof payload.iat !== 'number' ||
    typeof clientId !== 'string'
  ) {
    throw new BearerTokenError('claim_invalid', { detail: 'sub, tid, iat or client id' });
  }
  const { roles } = payload;
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string'))) {
    throw new BearerTokenError('claim_invalid', { detail: 'roles' });
  }
}
