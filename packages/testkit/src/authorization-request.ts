import { createHash, randomBytes } from 'node:crypto';

/** A PKCE pair (RFC 7636): the `code_verifier` and its `code_challenge` for `code_challenge_method=S256`. */
export interface PkcePair {
  /** 43 characters: base64url of 32 random bytes (RFC 7636 §4.1). */
  readonly verifier: string;
  /** base64url(SHA-256(verifier)) (RFC 7636 §4.2). */
  readonly challenge: string;
}

/** Makes a fresh PKCE pair (RFC 7636 §4.1, §4.2). */
export function createPkcePair(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An endpoint of a tenant on a test server: `{baseUrl}/{tenant}/oauth2/v2.0/{name}` (docs/endpoints.md). */
export function endpointUrl(baseUrl: string, tenant: string, name: string): string {
  return `${baseUrl}/${tenant}/oauth2/v2.0/${name}`;
}

/** The client an authorization request is for: its `client_id` and a registered `redirect_uri`. */
export interface AuthorizingClient {
  readonly appId: string;
  readonly redirectUri: string;
}

/**
 * An authorization request URL (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) of `client` at `tenant`'s `/authorize`:
 * `response_type=code`, its `redirect_uri`, `scope=openid profile`, `state=st` and `nonce=nn`, then `overrides`
 * in order (a value `undefined` removes that parameter), then `suffix` appended as is (e.g. a repeated parameter).
 */
export function authorizeUrl(
  baseUrl: string,
  tenant: string,
  client: AuthorizingClient,
  overrides: Readonly<Record<string, string | undefined>> = {},
  suffix = '',
): string {
  const fields: Record<string, string | undefined> = {
    client_id: client.appId,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope: 'openid profile',
    state: 'st',
    nonce: 'nn',
    ...overrides,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params.append(name, value);
  return `${endpointUrl(baseUrl, tenant, 'authorize')}?${params.toString()}${suffix}`;
}

/** A client redeeming an authorization code: {@link AuthorizingClient} and, when confidential, its secret. */
export interface RedeemingClient extends AuthorizingClient {
  readonly secret?: string;
}

/**
 * The token request of the authorization code grant (RFC 6749 §4.1.3): `grant_type`, `client_id`, the client's
 * secret when it has one (`client_secret_post`), `code` and `redirect_uri`, then `overrides` (`undefined`
 * removes a field).
 */
export function authorizationCodeFields(
  client: RedeemingClient,
  code: string,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    client_id: client.appId,
    client_secret: client.secret,
    code,
    redirect_uri: client.redirectUri,
    ...overrides,
  };
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) defined[name] = value;
  return defined;
}
