/**
 * Wire constants and token response shapes.
 *
 * @see RFC 6749 §4.4 (client credentials), §5.1 (token response); RFC 7523 §2.2 (client assertions)
 */

/** `grant_type` values Tessera understands. */
export const GrantType = {
  clientCredentials: 'client_credentials',
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  jwtBearer: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
  /** RFC 8693 §2.1. */
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
} as const;
export type GrantType = (typeof GrantType)[keyof typeof GrantType];

/** `client_assertion_type` for private_key_jwt (RFC 7523 §2.2). */
export const CLIENT_ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Successful token response (RFC 6749 §5.1) as the Microsoft identity platform sends it. */
export interface TokenResponse {
  token_type: 'Bearer' | 'DPoP';
  /** Seconds until the access token expires. */
  expires_in: number;
  /** Seconds; equal to `expires_in` (Microsoft clients read it). */
  ext_expires_in: number;
  access_token: string;
  scope?: string;
  refresh_token?: string;
  /** Seconds until the refresh token expires; sent for `spa` refresh tokens (fixed 24 h lifetime). */
  refresh_token_expires_in?: number;
  id_token?: string;
  /** base64url JSON `{"uid": oid, "utid": tid}`, when the client sent `client_info=1`. */
  client_info?: string;
  /** RFC 8693 §2.2.1: the type of the issued token; token exchange responses only. */
  issued_token_type?: string;
}

/** RFC 8693 §3: the token type of an access token, the only one token exchange accepts and issues. */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** `response_type` values of the authorization endpoint (OAuth 2.0 Multiple Response Types §5). */
export const RESPONSE_TYPES = ['code', 'token', 'id_token', 'id_token token', 'code id_token'] as const;
export type ResponseType = (typeof RESPONSE_TYPES)[number];

/** `response_mode` values (OAuth 2.0 Multiple Response Types §2.1, Form Post Response Mode). */
export const RESPONSE_MODES = ['query', 'fragment', 'form_post'] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** Claims of an app-only access token, v1 or v2 (`docs/endpoints.md`, "Access tokens (app-only)"). */
export interface AppAccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  idtyp: 'app';
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0' | '2.0';
  roles?: string[];
  /** v1 only. */
  appid?: string;
  /** v1 only: `0` public, `1` secret, `2` certificate. */
  appidacr?: '0' | '1' | '2';
  /** v2 only. */
  azp?: string;
  /** v2 only: `0` public, `1` secret, `2` certificate. */
  azpacr?: '0' | '1' | '2';
  /** v2 only (`typ: at+jwt`, RFC 9068 §2.2): equal to `uti`. */
  jti?: string;
  /** v2 only (`typ: at+jwt`, RFC 9068 §2.2): equal to `azp`. */
  client_id?: string;
}
