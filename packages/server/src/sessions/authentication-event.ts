import type { RedirectPlatform } from '../directory/redirect-uris.js';

export type { RedirectPlatform };

/**
 * A user's authentication as an SSO session holds it: who signed in, in which tenant, when and how.
 *
 * @see OIDC Core §2 (`auth_time`, `amr`, `acr`), RFC 8176 (`amr` values)
 */
export interface UserAuthentication {
  readonly userId: string;
  readonly tenantId: string;
  /** Unix seconds of the last interactive authentication (`auth_time`). */
  readonly authTime: number;
  /** RFC 8176 method references, e.g. `['pwd']`, `['pwd', 'mfa', 'otp']` after a second factor. */
  readonly amr: readonly string[];
  /**
   * Conditional access authentication context ids satisfied by this authentication (the token's `acrs`);
   * empty until policies exist.
   */
  readonly acrs?: readonly string[];
}

/**
 * A user's authentication as used by one client: what authorization codes, refresh token families and the token
 * response builder carry, so every token of a grant reports the same `auth_time`, `amr` and `acrs`.
 */
export interface AuthenticationEvent extends UserAuthentication {
  /** `appId` of the client the user authenticated to. */
  readonly clientId: string;
  /** The platform of the redirect URI the authorization response went to. */
  readonly platform: RedirectPlatform;
}
