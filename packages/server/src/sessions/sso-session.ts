import type { UserAuthentication } from './authentication-event.js';

/**
 * An SSO session: one account signed in to one browser (the browser's `tessera_sso` cookie), holding the
 * authentication that every authorization request of that browser reuses until the session ends.
 *
 * @see OIDC Core §3.1.2.1 (`prompt`, `max_age`), OIDC RP-Initiated Logout 1.0
 */
export interface SsoSession extends UserAuthentication {
  /** Random session id (256 bits); never sent to the browser. */
  readonly id: string;
  /** Unix seconds of the last use by an app (the idle timeout runs from here). */
  readonly lastActiveAt: number;
  /** Unix seconds of the absolute end (`sessionMaxLifetimeSeconds` after the sign-in). */
  readonly expiresAt: number;
}
