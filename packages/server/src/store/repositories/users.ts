import type { Kysely, Selectable, Transaction } from 'kysely';
import type { User } from '../../directory/model.js';
import type { Database, UserTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';

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
   * Changes a user's display name, sign-in state or password hash (only the fields given).
   *
   * @param passwordHash argon2id PHC string.
   * @returns `false` when there is no such user.
   */
  async update(
    trx: Transaction<Database>,
    id: string,
    change: {
      readonly displayName?: string;
      readonly accountEnabled?: boolean;
      readonly passwordHash?: string;
    },
  ): Promise<boolean> {
    const set = {
      ...(change.displayName === undefined ? {} : { display_name: change.displayName }),
      ...(change.accountEnabled === undefined ? {} : { account_enabled: change.accountEnabled ? 1 : 0 }),
      ...(change.passwordHash === undefined ? {} : { password_hash: change.passwordHash }),
    };
    const exists = await trx.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
    if (exists === undefined) return false;
    if (Object.keys(set).length > 0) await trx.updateTable('users').set(set).where('id', '=', id).execute();
    await recordChange(trx, 'user', id);
    return true;
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
  >,
): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userPrincipalName: row.user_principal_name,
    displayName: row.display_name,
    accountEnabled: row.account_enabled === 1,
    directoryRoles: JSON.parse(row.directory_roles) as string[],
  };
}
