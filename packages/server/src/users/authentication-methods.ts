import type { ServerContext } from '../context.js';

/**
 * Whether the user has registered a second factor (a TOTP authenticator): conditional access answers 50076
 * (registered: sign in with it) or 50079 (not registered: register one) when a policy requires MFA.
 *
 * Not yet implemented (issue 11 item 4): no user has a second factor.
 */
export async function isMfaRegistered(_context: ServerContext, _userId: string): Promise<boolean> {
  return Promise.resolve(false);
}
