import type { Kysely, Migration } from 'kysely';

/** The profile columns of Graph's `user` Tessera keeps. */
const PROFILE_COLUMNS = ['mail_nickname', 'given_name', 'surname', 'job_title', 'mail'] as const;

/**
 * More of Graph's `user` properties: `mailNickname`, `givenName`, `surname`, `jobTitle` and `mail`, nullable
 * text columns of `users` (existing users get null: not set).
 *
 * @see https://learn.microsoft.com/graph/api/resources/user
 */
export const userProfileMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of PROFILE_COLUMNS) {
      await db.schema.alterTable('users').addColumn(column, 'text').execute();
    }
  },
};
