import type { Kysely, Migration } from 'kysely';

/** Conditional access policies (Graph conditionalAccessPolicy), one row per policy of a tenant. */
export const conditionalAccessPoliciesMigration: Migration = {
  up(_db: Kysely<unknown>) {
    // Placeholder: filled in by the change that adds the tables.
    return Promise.resolve();
  },
};
