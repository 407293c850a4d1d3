import type { Migration } from 'kysely';

/** Indexes for app role assignments and delegated grants by principal and resource. Placeholder: not built yet. */
export const grantIndexesMigration: Migration = {
  async up() {},
};
