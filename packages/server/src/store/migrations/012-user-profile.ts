import type { Migration } from 'kysely';

/** More of Graph's `user` properties (`mailNickname`, …). Placeholder: not built yet. */
export const userProfileMigration: Migration = {
  async up() {},
};
