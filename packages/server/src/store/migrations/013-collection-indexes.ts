import type { Migration } from 'kysely';

/** Indexes for the management API's `$filter` and `$orderby`. Placeholder: not built yet. */
export const collectionIndexesMigration: Migration = {
  async up() {},
};
