import type { Selectable } from 'kysely';
import type { AuthenticationEvent, RedirectPlatform } from '../../sessions/authentication-event.js';
import type { Database } from '../schema.js';

/** The columns `authorization_codes` and `refresh_tokens` share: the authentication event each was issued from. */
export type AuthenticationColumns = Pick<
  Selectable<Database['refresh_tokens']>,
  'client_id' | 'tenant_id' | 'user_id' | 'platform' | 'auth_time' | 'amr'
> &
  Partial<Pick<Selectable<Database['refresh_tokens']>, 'acrs'>>;

/** The authentication event of a code or refresh token family row (`acrs` null or absent: none). */
export function authenticationFromRow(row: AuthenticationColumns): AuthenticationEvent {
  const acrs = row.acrs === undefined || row.acrs === null ? [] : (JSON.parse(row.acrs) as string[]);
  return {
    userId: row.user_id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    platform: row.platform as RedirectPlatform,
    authTime: row.auth_time,
    amr: JSON.parse(row.amr) as string[],
    ...(acrs.length === 0 ? {} : { acrs }),
  };
}

/** The `acrs` column of an authentication event: JSON of its authentication context ids, null when none. */
export function acrsColumn(authentication: Pick<AuthenticationEvent, 'acrs'>): string | null {
  const acrs = authentication.acrs ?? [];
  return acrs.length === 0 ? null : JSON.stringify(acrs);
}
