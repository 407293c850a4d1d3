import type { Kysely, Migration } from 'kysely';

/**
 * The directory audit log (Graph `directoryAudit`) and the sign-in log (Graph `signIn`), one row per event, each
 * indexed by tenant and time (newest first, keyset-paged by time then id). Old rows are purged after
 * `auditRetentionDays`.
 */
export const auditLogsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('directory_audits')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('activity_ms', 'bigint', (c) => c.notNull())
      .addColumn('activity_display_name', 'text', (c) => c.notNull())
      .addColumn('category', 'text', (c) => c.notNull())
      .addColumn('operation_type', 'text', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('result_reason', 'text', (c) => c.notNull())
      .addColumn('correlation_id', 'text', (c) => c.notNull())
      .addColumn('initiated_by', 'text', (c) => c.notNull())
      .addColumn('target_resources', 'text', (c) => c.notNull())
      .addColumn('initiator_user_id', 'text')
      .addColumn('initiator_app_id', 'text')
      .execute();
    await db.schema
      .createIndex('directory_audits_tenant_time')
      .on('directory_audits')
      .columns(['tenant_id', 'activity_ms', 'id'])
      .execute();
    // The retention purge deletes by time across tenants.
    await db.schema
      .createIndex('directory_audits_time')
      .on('directory_audits')
      .column('activity_ms')
      .execute();

    await db.schema
      .createTable('sign_ins')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('created_ms', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('user_principal_name', 'text')
      .addColumn('user_display_name', 'text')
      .addColumn('app_id', 'text')
      .addColumn('app_display_name', 'text')
      .addColumn('ip_address', 'text')
      .addColumn('client_app_used', 'text', (c) => c.notNull())
      .addColumn('correlation_id', 'text', (c) => c.notNull())
      .addColumn('is_interactive', 'integer', (c) => c.notNull())
      .addColumn('resource_id', 'text')
      .addColumn('resource_display_name', 'text')
      .addColumn('error_code', 'integer', (c) => c.notNull())
      .addColumn('failure_reason', 'text')
      .execute();
    await db.schema
      .createIndex('sign_ins_tenant_time')
      .on('sign_ins')
      .columns(['tenant_id', 'created_ms', 'id'])
      .execute();
    await db.schema.createIndex('sign_ins_time').on('sign_ins').column('created_ms').execute();
  },
};
