import type { Migration } from 'kysely';

/** The directory audit log and the sign-in log (Graph `directoryAudit`, `signIn`). Placeholder: not built yet. */
export const auditLogsMigration: Migration = {
  async up() {},
};
