import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  AppRoleAssignment,
  Application,
  ApplicationDefinition,
  KeyCredential,
  OAuth2PermissionGrant,
  PasswordCredential,
  ServicePrincipal,
  SignInAudience,
  Tenant,
  User,
} from '../directory/model.js';
import type { Database, SigningKeyTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Seconds between purges of expired client assertion `jti`s. */
const JTI_PURGE_INTERVAL_SECONDS = 60;

/** A user row with its password hash, for sign-in. */
export interface UserWithPassword extends User {
  readonly passwordHash: string;
}

/** A stored signing key (private part still encrypted). */
export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: SigningKeyTable['alg'];
  readonly privateKeyEncrypted: string;
  readonly certificatePem: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds when a newer key replaced (or will replace) this one; null while current or next. */
  readonly retiredAt: number | null;
  /** Unix seconds when the key starts signing; null or absent: at {@link createdAt}. */
  readonly activatesAt?: number | null;
}

/**
 * The directory's persistence: every SQL statement for tenants, applications, credentials, service principals,
 * app role assignments, users, signing keys and client assertion `jti`s, on SQLite and PostgreSQL alike.
 *
 * Every write runs in one transaction that also increments `directory_state.version`, so a reader that sees the
 * new version also sees the whole write, and caches on every node know to refresh.
 */
export class DirectoryStore {
  private lastJtiPurgeAt = 0;

  constructor(readonly db: Kysely<Database>) {}

  /** The directory version; changes after every write. */
  async version(): Promise<number> {
    const row = await this.db
      .selectFrom('directory_state')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return row.version;
  }

  /** Runs `work` in a transaction that bumps the directory version. */
  async write<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const result = await work(trx);
      await trx
        .updateTable('directory_state')
        .set((eb) => ({ version: eb('version', '+', 1) }))
        .where('id', '=', 1)
        .execute();
      return result;
    });
  }

  // --- tenants ---------------------------------------------------------------------------------------------

  async insertTenant(trx: Db, tenant: Tenant, createdAt: number): Promise<void> {
    await trx
      .insertInto('tenants')
      .values({ id: tenant.id, display_name: tenant.displayName, created_at: createdAt })
      .execute();
    if (tenant.domains.length > 0) {
      await trx
        .insertInto('tenant_domains')
        .values(
          tenant.domains.map((domain, index) => ({
            domain: domain.toLowerCase(),
            tenant_id: tenant.id,
            is_default: index === 0 ? 1 : 0,
          })),
        )
        .execute();
    }
  }

  /** Finds a tenant by id (GUID, lower-case) or by one of its domains (case-insensitive). */
  async findTenant(idOrDomain: string): Promise<Tenant | undefined> {
    const key = idOrDomain.toLowerCase();
    const byId = await this.db.selectFrom('tenants').selectAll().where('id', '=', key).executeTakeFirst();
    const row =
      byId ??
      (await this.db
        .selectFrom('tenant_domains')
        .innerJoin('tenants', 'tenants.id', 'tenant_domains.tenant_id')
        .selectAll('tenants')
        .where('tenant_domains.domain', '=', key)
        .executeTakeFirst());
    if (row === undefined) return undefined;
    const domains = await this.db
      .selectFrom('tenant_domains')
      .select('domain')
      .where('tenant_id', '=', row.id)
      .orderBy('is_default', 'desc')
      .orderBy('domain')
      .execute();
    return { id: row.id, displayName: row.display_name, domains: domains.map((d) => d.domain) };
  }

  async listTenantIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('tenants').select('id').orderBy('created_at').execute();
    return rows.map((row) => row.id);
  }

  async isDomainTaken(domain: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('tenant_domains')
      .select('domain')
      .where('domain', '=', domain.toLowerCase())
      .executeTakeFirst();
    return row !== undefined;
  }

  // --- applications ----------------------------------------------------------------------------------------

  async insertApplication(trx: Db, app: Application, createdAt: number): Promise<void> {
    const definition: ApplicationDefinition = {
      appRoles: app.appRoles,
      api: app.api,
      requiredResourceAccess: app.requiredResourceAccess,
      web: app.web,
      spa: app.spa,
      publicClient: app.publicClient,
      accessTokenSigningAlgorithm: app.accessTokenSigningAlgorithm,
    };
    await trx
      .insertInto('applications')
      .values({
        id: app.id,
        app_id: app.appId,
        tenant_id: app.tenantId,
        display_name: app.displayName,
        sign_in_audience: app.signInAudience,
        definition: JSON.stringify(definition),
        account_enabled: app.accountEnabled ? 1 : 0,
        created_at: createdAt,
      })
      .execute();
    for (const uri of app.identifierUris) await this.insertIdentifierUri(trx, app.id, uri);
  }

  /** Rewrites an application's stored definition (redirect URIs, API settings, …). */
  async updateApplicationDefinition(trx: Db, app: Application): Promise<void> {
    const definition: ApplicationDefinition = {
      appRoles: app.appRoles,
      api: app.api,
      requiredResourceAccess: app.requiredResourceAccess,
      web: app.web,
      spa: app.spa,
      publicClient: app.publicClient,
      accessTokenSigningAlgorithm: app.accessTokenSigningAlgorithm,
    };
    await trx
      .updateTable('applications')
      .set({ definition: JSON.stringify(definition), sign_in_audience: app.signInAudience })
      .where('id', '=', app.id)
      .execute();
  }

  /** Origins of every `spa` redirect URI of every application (CORS preflight allow-list). */
  async listSpaOrigins(): Promise<string[]> {
    const rows = await this.db.selectFrom('applications').select('definition').execute();
    const origins = new Set<string>();
    for (const row of rows) {
      const definition = JSON.parse(row.definition) as ApplicationDefinition;
      for (const uri of definition.spa.redirectUris) {
        try {
          origins.add(new URL(uri).origin);
        } catch {
          // A stored URI is validated at registration; skip anything unparsable.
        }
      }
    }
    return [...origins];
  }

  async insertIdentifierUri(trx: Db, applicationId: string, uri: string): Promise<void> {
    await trx
      .insertInto('application_identifier_uris')
      .values({ uri, uri_lower: uri.toLowerCase(), application_id: applicationId })
      .execute();
  }

  /** True when some application already registered this App ID URI (case-insensitive). */
  async isIdentifierUriTaken(uri: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('application_identifier_uris')
      .select('uri')
      .where('uri_lower', '=', uri.toLowerCase())
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Loads an application with its identifier URIs and credentials, by `appId`. */
  async findApplicationByAppId(appId: string): Promise<Application | undefined> {
    const row = await this.db
      .selectFrom('applications')
      .selectAll()
      .where('app_id', '=', appId.toLowerCase())
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const [uris, passwords, keys] = await Promise.all([
      this.db
        .selectFrom('application_identifier_uris')
        .select('uri')
        .where('application_id', '=', row.id)
        .orderBy('uri')
        .execute(),
      this.db.selectFrom('password_credentials').selectAll().where('application_id', '=', row.id).execute(),
      this.db.selectFrom('key_credentials').selectAll().where('application_id', '=', row.id).execute(),
    ]);
    const definition = JSON.parse(row.definition) as ApplicationDefinition;
    return {
      ...definition,
      id: row.id,
      appId: row.app_id,
      tenantId: row.tenant_id,
      displayName: row.display_name,
      signInAudience: row.sign_in_audience as SignInAudience,
      accountEnabled: row.account_enabled === 1,
      identifierUris: uris.map((u) => u.uri),
      passwordCredentials: passwords.map((p): PasswordCredential => ({
        keyId: p.key_id,
        displayName: p.display_name,
        hint: p.hint,
        secretHash: p.secret_hash,
        startDateTime: p.start_at,
        endDateTime: p.end_at,
      })),
      keyCredentials: keys.map((k): KeyCredential => ({
        keyId: k.key_id,
        displayName: k.display_name,
        thumbprintSha1: k.thumbprint_sha1,
        thumbprintSha256: k.thumbprint_sha256,
        certificatePem: k.certificate_pem,
        startDateTime: k.start_at,
        endDateTime: k.end_at,
      })),
    };
  }

  /** The `appId` of the application that registered this App ID URI (case-insensitive), if any. */
  async findAppIdByIdentifierUri(uri: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('application_identifier_uris')
      .innerJoin('applications', 'applications.id', 'application_identifier_uris.application_id')
      .select('applications.app_id')
      .where('application_identifier_uris.uri_lower', '=', uri.toLowerCase())
      .executeTakeFirst();
    return row?.app_id;
  }

  async insertPasswordCredential(
    trx: Db,
    applicationId: string,
    credential: PasswordCredential,
  ): Promise<void> {
    await trx
      .insertInto('password_credentials')
      .values({
        key_id: credential.keyId,
        application_id: applicationId,
        display_name: credential.displayName,
        hint: credential.hint,
        secret_hash: credential.secretHash,
        start_at: credential.startDateTime,
        end_at: credential.endDateTime,
      })
      .execute();
  }

  async insertKeyCredential(trx: Db, applicationId: string, credential: KeyCredential): Promise<void> {
    await trx
      .insertInto('key_credentials')
      .values({
        key_id: credential.keyId,
        application_id: applicationId,
        display_name: credential.displayName,
        thumbprint_sha1: credential.thumbprintSha1,
        thumbprint_sha256: credential.thumbprintSha256,
        certificate_pem: credential.certificatePem,
        start_at: credential.startDateTime,
        end_at: credential.endDateTime,
      })
      .execute();
  }

  // --- service principals and app role assignments --------------------------------------------------------

  async insertServicePrincipal(trx: Db, sp: ServicePrincipal, createdAt: number): Promise<void> {
    await trx
      .insertInto('service_principals')
      .values({
        id: sp.id,
        app_id: sp.appId,
        tenant_id: sp.tenantId,
        display_name: sp.displayName,
        app_owner_tenant_id: sp.appOwnerOrganizationId,
        account_enabled: sp.accountEnabled ? 1 : 0,
        created_at: createdAt,
      })
      .execute();
  }

  /** The service principal of `appId` in `tenantId`, if the app is present there. */
  async findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const row = await this.db
      .selectFrom('service_principals')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('app_id', '=', appId.toLowerCase())
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          id: row.id,
          appId: row.app_id,
          tenantId: row.tenant_id,
          displayName: row.display_name,
          appOwnerOrganizationId: row.app_owner_tenant_id,
          accountEnabled: row.account_enabled === 1,
        };
  }

  async insertAppRoleAssignment(trx: Db, assignment: AppRoleAssignment): Promise<void> {
    await trx
      .insertInto('app_role_assignments')
      .values({
        id: assignment.id,
        tenant_id: assignment.tenantId,
        principal_id: assignment.principalId,
        principal_type: assignment.principalType,
        resource_id: assignment.resourceId,
        app_role_id: assignment.appRoleId,
        created_at: assignment.createdDateTime,
      })
      .onConflict((oc) => oc.columns(['principal_id', 'resource_id', 'app_role_id']).doNothing())
      .execute();
  }

  /** The assignment of one app role to a principal on a resource, if granted. */
  async findAppRoleAssignment(
    principalId: string,
    resourceId: string,
    appRoleId: string,
  ): Promise<AppRoleAssignment | undefined> {
    const row = await this.db
      .selectFrom('app_role_assignments')
      .selectAll()
      .where('principal_id', '=', principalId)
      .where('resource_id', '=', resourceId)
      .where('app_role_id', '=', appRoleId)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          id: row.id,
          tenantId: row.tenant_id,
          principalId: row.principal_id,
          principalType: row.principal_type,
          resourceId: row.resource_id,
          appRoleId: row.app_role_id,
          createdDateTime: row.created_at,
        };
  }

  /** App role ids granted to `principalId` on the resource service principal `resourceId`. */
  async listAssignedAppRoleIds(principalId: string, resourceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_role_assignments')
      .select('app_role_id')
      .where('principal_id', '=', principalId)
      .where('resource_id', '=', resourceId)
      .orderBy('created_at')
      .orderBy('app_role_id')
      .execute();
    return rows.map((row) => row.app_role_id);
  }

  // --- users ----------------------------------------------------------------------------------------------

  async insertUser(trx: Db, user: User, passwordHash: string, createdAt: number): Promise<void> {
    await trx
      .insertInto('users')
      .values({
        id: user.id,
        tenant_id: user.tenantId,
        user_principal_name: user.userPrincipalName,
        upn_lower: user.userPrincipalName.toLowerCase(),
        display_name: user.displayName,
        password_hash: passwordHash,
        account_enabled: user.accountEnabled ? 1 : 0,
        directory_roles: JSON.stringify(user.directoryRoles),
        created_at: createdAt,
      })
      .execute();
  }

  async findUserByUpn(upn: string): Promise<UserWithPassword | undefined> {
    return this.findUser('upn_lower', upn.toLowerCase());
  }

  /** A user by object id. */
  async findUserById(id: string): Promise<UserWithPassword | undefined> {
    return this.findUser('id', id.toLowerCase());
  }

  /** Enables or disables sign-in for a user; `false` when there is no such user. */
  async setUserAccountEnabled(trx: Db, id: string, enabled: boolean): Promise<boolean> {
    const result = await trx
      .updateTable('users')
      .set({ account_enabled: enabled ? 1 : 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private async findUser(column: 'id' | 'upn_lower', value: string): Promise<UserWithPassword | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where(column, '=', value).executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          id: row.id,
          tenantId: row.tenant_id,
          userPrincipalName: row.user_principal_name,
          displayName: row.display_name,
          accountEnabled: row.account_enabled === 1,
          directoryRoles: JSON.parse(row.directory_roles) as string[],
          passwordHash: row.password_hash,
        };
  }

  // --- delegated consent (oauth2PermissionGrants) --------------------------------------------------------

  /** Every delegated grant of a client service principal on a resource service principal. */
  async listPermissionGrants(clientSpId: string, resourceSpId: string): Promise<OAuth2PermissionGrant[]> {
    const rows = await this.db
      .selectFrom('oauth2_permission_grants')
      .selectAll()
      .where('client_id', '=', clientSpId)
      .where('resource_id', '=', resourceSpId)
      .orderBy('created_at')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      clientId: row.client_id,
      consentType: row.consent_type,
      principalId: row.principal_id === '' ? null : row.principal_id,
      resourceId: row.resource_id,
      scope: row.scope,
    }));
  }

  /**
   * Adds scopes to the grant of (client, resource, consent type, principal), creating it when absent
   * (incremental consent). Runs inside the caller's transaction.
   */
  async mergePermissionGrant(
    trx: Db,
    grant: Omit<OAuth2PermissionGrant, 'scope'> & { readonly scopes: readonly string[] },
    createdAt: number,
  ): Promise<void> {
    const principal = grant.principalId ?? '';
    const existing = await trx
      .selectFrom('oauth2_permission_grants')
      .select(['id', 'scope'])
      .where('client_id', '=', grant.clientId)
      .where('resource_id', '=', grant.resourceId)
      .where('consent_type', '=', grant.consentType)
      .where('principal_id', '=', principal)
      .executeTakeFirst();
    if (existing === undefined) {
      await trx
        .insertInto('oauth2_permission_grants')
        .values({
          id: grant.id,
          tenant_id: grant.tenantId,
          client_id: grant.clientId,
          consent_type: grant.consentType,
          principal_id: principal,
          resource_id: grant.resourceId,
          scope: [...new Set(grant.scopes)].join(' '),
          created_at: createdAt,
        })
        .execute();
      return;
    }
    const merged = [...new Set([...existing.scope.split(' ').filter(Boolean), ...grant.scopes])].join(' ');
    if (merged !== existing.scope) {
      await trx
        .updateTable('oauth2_permission_grants')
        .set({ scope: merged })
        .where('id', '=', existing.id)
        .execute();
    }
  }

  // --- signing keys ---------------------------------------------------------------------------------------

  /** Every stored signing key, newest first. */
  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      // Newest first; within one second the current key before the one it retired.
      .orderBy('created_at', 'desc')
      .orderBy(sql`retired_at is null`, 'desc')
      .execute();
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateKeyEncrypted: row.private_key_encrypted,
      certificatePem: row.certificate_pem,
      createdAt: row.created_at,
      retiredAt: row.retired_at,
      activatesAt: row.activates_at,
    }));
  }

  /**
   * Stores a new key for its algorithm, signing from its activation time (`activatesAt`, default `createdAt`),
   * and retires every key of the algorithm that would still sign then (the current one, and a next one not yet
   * active) at that same instant.
   */
  async insertSigningKey(trx: Db, key: StoredSigningKey): Promise<void> {
    const activatesAt = key.activatesAt ?? key.createdAt;
    await trx
      .updateTable('signing_keys')
      .set({ retired_at: activatesAt })
      .where('alg', '=', key.alg)
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', activatesAt)]))
      .execute();
    await trx
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        alg: key.alg,
        private_key_encrypted: key.privateKeyEncrypted,
        certificate_pem: key.certificatePem,
        created_at: key.createdAt,
        retired_at: null,
        activates_at: key.activatesAt ?? null,
      })
      .execute();
  }

  /** Deletes keys retired before `before` (Unix seconds); they can no longer verify any live token. */
  async deleteSigningKeysRetiredBefore(trx: Db, before: number): Promise<number> {
    const result = await trx.deleteFrom('signing_keys').where('retired_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- client assertion jti (strict single use) -------------------------------------------------------------

  /**
   * Records a client assertion's `jti` until `expiresAt` (Unix seconds). Atomic: of two nodes racing with the
   * same `jti`, exactly one gets `true`.
   */
  async useAssertionJti(id: string, expiresAt: number, now: number): Promise<boolean> {
    // Expired entries are purged at most once a minute per node, off the per-assertion cost.
    if (now - this.lastJtiPurgeAt >= JTI_PURGE_INTERVAL_SECONDS) {
      this.lastJtiPurgeAt = now;
      await this.db.deleteFrom('client_assertion_jtis').where('expires_at', '<', now).execute();
    }
    const result = await this.db
      .insertInto('client_assertion_jtis')
      .values({ id, expires_at: expiresAt })
      // A row whose assertion has expired no longer blocks the id, purged or not.
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ expires_at: expiresAt })
          .where('client_assertion_jtis.expires_at', '<', now),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
