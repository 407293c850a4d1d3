import type { Kysely, Migration } from 'kysely';

/** Users' authentication methods beyond the password (TOTP), and the replay guard of their codes. */
export const authenticationMethodsMigration: Migration = {
  up(_db: Kysely<unknown>) {
    // Placeholder: filled in by the change that adds the tables.
    return Promise.resolve();
  },
};
