import type { Migration } from 'kysely';

/** Owners of applications (Graph `application.owners`). Placeholder: not built yet. */
export const applicationOwnersMigration: Migration = {
  async up() {},
};
