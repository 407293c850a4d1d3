import type { Kysely, Selectable, Transaction } from 'kysely';
import type { User, UserProfile } from '../../directory/model.js';
import type { Database, UserTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';
import { grantRevocationId, insertRevocations } from './token-revocations.js';

/** What {@link UserRepository.update} may change; only the fields given change. */
export interface UserRowChange extends Partial<UserProfile> {
  readonly userPrincipalName?: string;
  readonly displayName?: string;
  readonly accountEnabled?: boolean;
  /** argon2id PHC string. */
  readonly passwordHash?: string;
  readonly directoryRoles?: readonly string[];
}

/** The `users` column of each {@link UserProfile} property. */
const PROFILE_COLUMNS = {
  mailNickname: 'mail_nickname',
  givenName: 'given_name',
  surname: 'surname',
  jobTitle: 'job_title',
  mail: 'mail',
} as const satisfies Record<keyof UserProfile, keyof UserTable>;
type ProfileColumn = (typeof PROFILE_COLUMNS)[keyof UserProfile];

/** A user row with its password hash, for sign-in. */
export interface UserWithPassword extends User {
  /** argon2id PHC string. */
  readonly passwordHash: string;
}

/** Users (`users`), with their argon2id password hashes. */
export class UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a user; `createdAt` in Unix seconds. */
  async insert(
    trx: Transaction<Database>,
    user: User,
    passwordHash: string,
    createdAt: number,
  ): Promise<void> {
    await trx
      .insertInto('users')
      .values({
        id: user.id,
        tenant_id: user.tenantId,
        user_principal_name: user.userPrincipalName,
        upn_lower: user.userPrincipalName.toLowerCase(),
        display_name: user.displayName,
        password_hash: passwordHash,
        account_enabled: user.accountEnabled ? 1 : 0,
        directory_roles: JSON.stringify(user.directoryRoles),
        created_at: createdAt,
        ...profileColumns(user),
      })
      .execute();
    await recordChange(trx, 'user', user.id);
  }

  /** A user by UPN (case-insensitive). */
  async findByUpn(upn: string): Promise<UserWithPassword | undefined> {
    return this.findBy('upn_lower', upn.toLowerCase());
  }

  /** A user by object id. */
  async findById(id: string): Promise<UserWithPassword | undefined> {
    return this.findBy('id', id.toLowerCase());
  }

  /**
   * One page of the users of a tenant, by object id, without password hashes.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest & { readonly tenantId: string }): Promise<Page<User>> {
    return listByTenant(this.db, 'users', request, (row) => {
      const { passwordHash: _hash, ...user } = fromRow(row);
      return user;
    });
  }

  /** Enables or disables sign-in for a user; `false` when there is no such user. */
  async setAccountEnabled(trx: Transaction<Database>, id: string, enabled: boolean): Promise<boolean> {
    const result = await trx
      .updateTable('users')
      .set({ account_enabled: enabled ? 1 : 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    const updated = Number(result.numUpdatedRows) === 1;
    if (updated) await recordChange(trx, 'user', id);
    return updated;
  }

  /**
   * Changes a user's UPN, display name, sign-in state, password hash, directory roles or profile properties
   * (only the fields given).
   *
   * @returns `false` when there is no such user.
   */
  async update(trx: Transaction<Database>, id: string, change: UserRowChange): Promise<boolean> {
    const upn = change.userPrincipalName;
    const set = {
      ...(upn === undefined ? {} : { user_principal_name: upn, upn_lower: upn.toLowerCase() }),
      ...(change.displayName === undefined ? {} : { display_name: change.displayName }),
      ...(change.accountEnabled === undefined ? {} : { account_enabled: change.accountEnabled ? 1 : 0 }),
      ...(change.passwordHash === undefined ? {} : { password_hash: change.passwordHash }),
      ...(change.directoryRoles === undefined
        ? {}
        : { directory_roles: JSON.stringify(change.directoryRoles) }),
      ...profileColumns(change),
    };
    const exists = await trx.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
    if (exists === undefined) return false;
    if (Object.keys(set).length > 0) await trx.updateTable('users').set(set).where('id', '=', id).execute();
    await recordChange(trx, 'user', id);
    return true;
  }

  /**
   * A user's directory roles as read inside `trx` (after the write's lock, so a concurrent role change is not
   * lost); undefined when there is no such user.
   */
  async directoryRolesIn(trx: Transaction<Database>, id: string): Promise<string[] | undefined> {
    const row = await trx
      .selectFrom('users')
      .select('directory_roles')
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.directory_roles) as string[]);
  }

  /**
   * How many enabled users of a tenant hold a directory role, leaving out `exceptUserId` (the user about to lose
   * it), read inside `trx` so the count and the change that depends on it commit together.
   */
  async countEnabledHolders(
    trx: Transaction<Database>,
    tenantId: string,
    role: string,
    exceptUserId: string,
  ): Promise<number> {
    const rows = await trx
      .selectFrom('users')
      .select('directory_roles')
      .where('tenant_id', '=', tenantId)
      .where('account_enabled', '=', 1)
      .where('id', '!=', exceptUserId)
      .where('directory_roles', 'like', `%${JSON.stringify(role)}%`)
      .execute();
    return rows.filter((row) => (JSON.parse(row.directory_roles) as string[]).includes(role)).length;
  }

  /**
   * Ends, inside `trx`, everything a user's past sign-ins still hold, as Entra's `revokeSignInSessions` does: their
   * refresh token families are revoked and their grants recorded as revoked (so the access tokens issued from
   * them, which name the family as `grant_id`, stop authenticating at the management API, introspection and
   * userinfo on every node within one revocation poll), unredeemed authorization codes are deleted, and their
   * browser SSO sessions end (a `prompt=none` request then answers `login_required`).
   *
   * @param now Unix seconds.
   * @returns how many refresh token families and SSO sessions were ended.
   */
  async revokeSignIns(
    trx: Transaction<Database>,
    userId: string,
    now: number,
  ): Promise<{ readonly refreshFamilies: number; readonly sessions: number }> {
    const families = await trx
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('family_id')
      .execute();
    const codes = await trx
      .selectFrom('authorization_codes')
      .select('family_id')
      .where('user_id', '=', userId)
      .where('expires_at', '>', now)
      .execute();
    await trx
      .deleteFrom('authorization_codes')
      .where('user_id', '=', userId)
      .where('redeemed_at', 'is', null)
      .execute();
    const grants = new Set([...families, ...codes].map((row) => grantRevocationId(row.family_id)));
    if (grants.size > 0) await insertRevocations(trx, [...grants], now);
    const sessions = await trx
      .updateTable('sso_sessions')
      .set({ ended_at: now })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return { refreshFamilies: families.length, sessions: Number(sessions.numUpdatedRows) };
  }

  /** Deletes a user (not what hangs off it: see the grant repositories); `false` when there is no such user. */
  async delete(trx: Transaction<Database>, id: string): Promise<boolean> {
    const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'user', id);
    return deleted;
  }

  private async findBy(column: 'id' | 'upn_lower', value: string): Promise<UserWithPassword | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where(column, '=', value).executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }
}

function fromRow(row: Selectable<UserTable>): UserWithPassword {
  return { ...userFromRow(row), passwordHash: row.password_hash };
}

/** The directory's user of a `users` row (its profile columns; never the password hash). */
export function userFromRow(
  row: Pick<
    Selectable<UserTable>,
    'id' | 'tenant_id' | 'user_principal_name' | 'display_name' | 'account_enabled' | 'directory_roles'
  > &
    Partial<Pick<Selectable<UserTable>, ProfileColumn>>,
): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userPrincipalName: row.user_principal_name,
    displayName: row.display_name,
    accountEnabled: row.account_enabled === 1,
    directoryRoles: JSON.parse(row.directory_roles) as string[],
    mailNickname: row.mail_nickname ?? null,
    givenName: row.given_name ?? null,
    surname: row.surname ?? null,
    jobTitle: row.job_title ?? null,
    mail: row.mail ?? null,
  };
}

/** The profile columns of the {@link UserProfile} properties `profile` names (absent ones are left out). */
function profileColumns(profile: Partial<UserProfile>): Partial<Record<ProfileColumn, string | null>> {
  const columns: Partial<Record<ProfileColumn, string | null>> = {};
  for (const [property, column] of Object.entries(PROFILE_COLUMNS) as [keyof UserProfile, ProfileColumn][]) {
    const value = profile[property];
    if (value !== undefined) columns[column] = value;
  }
  return columns;
}
