import type { AuthenticationEvent, RedirectPlatform } from '../../sessions/authentication-event.js';
import type { Database } from '../schema.js';

/** The columns `authorization_codes` and `refresh_tokens` share: the authentication event each was issued from. */
export type AuthenticationColumns = Pick<
  Database['refresh_tokens'],
  'client_id' | 'tenant_id' | 'user_id' | 'platform' | 'auth_time' | 'amr'
>;

/** The authentication event of a code or refresh token family row. */
export function authenticationFromRow(row: AuthenticationColumns): AuthenticationEvent {
  return {
    userId: row.user_id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    platform: row.platform as RedirectPlatform,
    authTime: row.auth_time,
    amr: JSON.parse(row.amr) as string[],
  };
}
