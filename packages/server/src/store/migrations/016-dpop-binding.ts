import type { Kysely, Migration } from 'kysely';

/** DPoP (RFC 9449) binding of refresh token families, and the per-application requirement. */
export const dpopBindingMigration: Migration = {
  up(_db: Kysely<unknown>) {
    // Placeholder: filled in by the change that adds the tables.
    return Promise.resolve();
  },
};
