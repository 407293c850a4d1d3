import { sql, type Kysely, type Migration } from 'kysely';

/** Tenants, applications and their credentials, service principals, app role assignments, users, keys. */
export const directoryMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tenants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('tenant_domains')
      .addColumn('domain', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('is_default', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tenant_domains_tenant').on('tenant_domains').column('tenant_id').execute();

    await db.schema
      .createTable('applications')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'text', (c) => c.notNull().unique())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('sign_in_audience', 'text', (c) => c.notNull())
      .addColumn('definition', 'text', (c) => c.notNull())
      .addColumn('account_enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('application_identifier_uris')
      .addColumn('uri_lower', 'text', (c) => c.primaryKey())
      .addColumn('uri', 'text', (c) => c.notNull())
      .addColumn('application_id', 'text', (c) =>
        c.notNull().references('applications.id').onDelete('cascade'),
      )
      .execute();
    await db.schema
      .createIndex('application_identifier_uris_app')
      .on('application_identifier_uris')
      .column('application_id')
      .execute();

    await db.schema
      .createTable('password_credentials')
      .addColumn('key_id', 'text', (c) => c.primaryKey())
      .addColumn('application_id', 'text', (c) =>
        c.notNull().references('applications.id').onDelete('cascade'),
      )
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('hint', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('start_at', 'bigint', (c) => c.notNull())
      .addColumn('end_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('password_credentials_app')
      .on('password_credentials')
      .column('application_id')
      .execute();

    await db.schema
      .createTable('key_credentials')
      .addColumn('key_id', 'text', (c) => c.primaryKey())
      .addColumn('application_id', 'text', (c) =>
        c.notNull().references('applications.id').onDelete('cascade'),
      )
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('thumbprint_sha1', 'text', (c) => c.notNull())
      .addColumn('thumbprint_sha256', 'text', (c) => c.notNull())
      .addColumn('certificate_pem', 'text', (c) => c.notNull())
      .addColumn('start_at', 'bigint', (c) => c.notNull())
      .addColumn('end_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('key_credentials_app')
      .on('key_credentials')
      .column('application_id')
      .execute();

    await db.schema
      .createTable('service_principals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('app_owner_tenant_id', 'text', (c) => c.notNull())
      .addColumn('account_enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('service_principals_tenant_app', ['tenant_id', 'app_id'])
      .execute();

    await db.schema
      .createTable('app_role_assignments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('principal_id', 'text', (c) => c.notNull())
      .addColumn('principal_type', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('app_role_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('app_role_assignments_unique', ['principal_id', 'resource_id', 'app_role_id'])
      .execute();
    await db.schema
      .createIndex('app_role_assignments_resource')
      .on('app_role_assignments')
      .column('resource_id')
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_principal_name', 'text', (c) => c.notNull())
      .addColumn('upn_lower', 'text', (c) => c.notNull().unique())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('account_enabled', 'integer', (c) => c.notNull())
      .addColumn('directory_roles', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_tenant').on('users').column('tenant_id').execute();

    await db.schema
      .createTable('signing_keys')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('private_key_encrypted', 'text', (c) => c.notNull())
      .addColumn('certificate_pem', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .execute();

    await db.schema
      .createTable('client_assertion_jtis')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('directory_state')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into directory_state (id, version) values (1, 1)`.execute(db);
  },
};
