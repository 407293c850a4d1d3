import type { Kysely, Transaction } from 'kysely';
import type { User } from '../../directory/model.js';
import type { Database } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { pageSize, toPage, type Page, type PageRequest } from './paging.js';
import { userFromRow } from './users.js';

/**
 * Owners of applications (`application_owners`, migration 009): which users of an application's home tenant own
 * it. Rows go with the application or the user (foreign keys, `ON DELETE CASCADE`). Every write records an
 * `application` change under the `appId`.
 */
export class ApplicationOwnerRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Makes a user an owner of the application `app`; `createdAt` in Unix seconds.
   *
   * @returns `false` when the user already owns it (nothing written).
   */
  async add(
    trx: Transaction<Database>,
    app: { readonly id: string; readonly appId: string },
    userId: string,
    createdAt: number,
  ): Promise<boolean> {
    const result = await trx
      .insertInto('application_owners')
      .values({ application_id: app.id, user_id: userId, created_at: createdAt })
      .onConflict((oc) => oc.columns(['application_id', 'user_id']).doNothing())
      .executeTakeFirst();
    const added = Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    if (added) await recordChange(trx, 'application', app.appId);
    return added;
  }

  /**
   * Removes a user from the owners of the application `app`.
   *
   * @returns `false` when the user is not an owner.
   */
  async remove(
    trx: Transaction<Database>,
    app: { readonly id: string; readonly appId: string },
    userId: string,
  ): Promise<boolean> {
    const result = await trx
      .deleteFrom('application_owners')
      .where('application_id', '=', app.id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    const removed = Number(result.numDeletedRows) === 1;
    if (removed) await recordChange(trx, 'application', app.appId);
    return removed;
  }

  /** Removes every owner of an application (its deletion). */
  async removeAll(trx: Transaction<Database>, applicationId: string): Promise<void> {
    await trx.deleteFrom('application_owners').where('application_id', '=', applicationId).execute();
  }

  /**
   * One page of an application's owners, by user object id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(applicationId: string, request: PageRequest): Promise<Page<User>> {
    const size = pageSize(request);
    let query = this.db
      .selectFrom('application_owners')
      .innerJoin('users', 'users.id', 'application_owners.user_id')
      .selectAll('users')
      .where('application_owners.application_id', '=', applicationId);
    if (request.after !== undefined) query = query.where('users.id', '>', request.after);
    const rows = await query
      .orderBy('users.id')
      .limit(size + 1)
      .execute();
    return toPage(rows.map(userFromRow), size, (user) => user.id);
  }
}
