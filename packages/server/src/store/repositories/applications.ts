import type { Kysely, Selectable, Transaction } from 'kysely';
import type {
  Application,
  ApplicationDefinition,
  KeyCredential,
  PasswordCredential,
  SignInAudience,
} from '../../directory/model.js';
import type { ApplicationTable, Database, KeyCredentialTable, PasswordCredentialTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';

/**
 * App registrations (`applications`, the definition as JSON), their App ID URIs (`application_identifier_uris`)
 * and credentials (`password_credentials`, `key_credentials`). Every write records an `application` change under
 * the `appId`.
 */
export class ApplicationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores an application with its App ID URIs (not its credentials); `createdAt` in Unix seconds. */
  async insert(trx: Transaction<Database>, app: Application, createdAt: number): Promise<void> {
    await trx
      .insertInto('applications')
      .values({
        id: app.id,
        app_id: app.appId,
        tenant_id: app.tenantId,
        display_name: app.displayName,
        sign_in_audience: app.signInAudience,
        definition: JSON.stringify(definitionOf(app)),
        account_enabled: app.accountEnabled ? 1 : 0,
        created_at: createdAt,
      })
      .execute();
    for (const uri of app.identifierUris) {
      await trx
        .insertInto('application_identifier_uris')
        .values({ uri, uri_lower: uri.toLowerCase(), application_id: app.id })
        .execute();
    }
    await recordChange(trx, 'application', app.appId);
  }

  /** Rewrites an application's stored definition (redirect URIs, API settings, …) and sign-in audience. */
  async updateDefinition(trx: Transaction<Database>, app: Application): Promise<void> {
    await trx
      .updateTable('applications')
      .set({ definition: JSON.stringify(definitionOf(app)), sign_in_audience: app.signInAudience })
      .where('id', '=', app.id)
      .execute();
    await recordChange(trx, 'application', app.appId);
  }

  /**
   * Rewrites an application's display name, sign-in audience and App ID URIs (the URI rows are replaced). A URI
   * another application registered meanwhile makes the write fail with the dialect's unique violation.
   */
  async updateProperties(trx: Transaction<Database>, app: Application): Promise<void> {
    await trx
      .updateTable('applications')
      .set({ display_name: app.displayName, sign_in_audience: app.signInAudience })
      .where('id', '=', app.id)
      .execute();
    await trx.deleteFrom('application_identifier_uris').where('application_id', '=', app.id).execute();
    for (const uri of app.identifierUris) {
      await trx
        .insertInto('application_identifier_uris')
        .values({ uri, uri_lower: uri.toLowerCase(), application_id: app.id })
        .execute();
    }
    await recordChange(trx, 'application', app.appId);
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

  /** True when some application already registered this App ID URI (case-insensitive). */
  async isIdentifierUriTaken(uri: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('application_identifier_uris')
      .select('uri')
      .where('uri_lower', '=', uri.toLowerCase())
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Loads an application with its identifier URIs and credentials, by `appId` (case-insensitive). */
  async findByAppId(appId: string): Promise<Application | undefined> {
    const row = await this.db
      .selectFrom('applications')
      .selectAll()
      .where('app_id', '=', appId.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : this.load(row);
  }

  /**
   * One page of the applications registered in a home tenant, by object id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest & { readonly tenantId: string }): Promise<Page<Application>> {
    return listByTenant(this.db, 'applications', request, (row) => this.load(row));
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

  /** Adds a client secret (its hash) to the application `app`. */
  async insertPasswordCredential(
    trx: Transaction<Database>,
    app: Pick<Application, 'id' | 'appId'>,
    credential: PasswordCredential,
  ): Promise<void> {
    await trx
      .insertInto('password_credentials')
      .values({
        key_id: credential.keyId,
        application_id: app.id,
        display_name: credential.displayName,
        hint: credential.hint,
        secret_hash: credential.secretHash,
        start_at: credential.startAt,
        end_at: credential.endAt,
      })
      .execute();
    await recordChange(trx, 'application', app.appId);
  }

  /** Adds a certificate credential to the application `app`. */
  async insertKeyCredential(
    trx: Transaction<Database>,
    app: Pick<Application, 'id' | 'appId'>,
    credential: KeyCredential,
  ): Promise<void> {
    await trx
      .insertInto('key_credentials')
      .values({
        key_id: credential.keyId,
        application_id: app.id,
        display_name: credential.displayName,
        thumbprint_sha1: credential.thumbprintSha1,
        thumbprint_sha256: credential.thumbprintSha256,
        certificate_pem: credential.certificatePem,
        start_at: credential.startAt,
        end_at: credential.endAt,
      })
      .execute();
    await recordChange(trx, 'application', app.appId);
  }

  /**
   * Replaces the certificate credentials of the application `app` with `credentials` (Graph's `PATCH` of
   * `keyCredentials`): rows whose `keyId` is not in the list are removed, new ones inserted.
   */
  async replaceKeyCredentials(
    trx: Transaction<Database>,
    app: Pick<Application, 'id' | 'appId'>,
    credentials: readonly KeyCredential[],
  ): Promise<void> {
    await trx.deleteFrom('key_credentials').where('application_id', '=', app.id).execute();
    for (const credential of credentials) await this.insertKeyCredential(trx, app, credential);
    await recordChange(trx, 'application', app.appId);
  }

  /** Loads an application by object id (case-insensitive). */
  async findById(id: string): Promise<Application | undefined> {
    const row = await this.db
      .selectFrom('applications')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : this.load(row);
  }

  /**
   * Removes a client secret of the application `app`.
   *
   * @returns `false` when the application has no credential `keyId`.
   */
  async deletePasswordCredential(
    trx: Transaction<Database>,
    app: Pick<Application, 'id' | 'appId'>,
    keyId: string,
  ): Promise<boolean> {
    return deleteCredential(trx, 'password_credentials', app, keyId);
  }

  /**
   * Removes a certificate credential of the application `app`.
   *
   * @returns `false` when the application has no credential `keyId`.
   */
  async deleteKeyCredential(
    trx: Transaction<Database>,
    app: Pick<Application, 'id' | 'appId'>,
    keyId: string,
  ): Promise<boolean> {
    return deleteCredential(trx, 'key_credentials', app, keyId);
  }

  /**
   * Deletes an application with its App ID URIs, credentials and owners (not its service principals: see that
   * repository). The child rows are deleted explicitly: SQLite enforces foreign keys only when asked to.
   *
   * @returns `false` when there is no such application.
   */
  async delete(trx: Transaction<Database>, app: Pick<Application, 'id' | 'appId'>): Promise<boolean> {
    await trx.deleteFrom('application_identifier_uris').where('application_id', '=', app.id).execute();
    await trx.deleteFrom('password_credentials').where('application_id', '=', app.id).execute();
    await trx.deleteFrom('key_credentials').where('application_id', '=', app.id).execute();
    await trx.deleteFrom('application_owners').where('application_id', '=', app.id).execute();
    const result = await trx.deleteFrom('applications').where('id', '=', app.id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'application', app.appId);
    return deleted;
  }

  /**
   * Applications from their `applications` rows, with their App ID URIs and credentials: three statements for all
   * the rows together (none per application), in the order of `rows`.
   */
  async loadAll(rows: readonly Selectable<ApplicationTable>[]): Promise<Application[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const [uris, passwords, keys] = await Promise.all([
      this.db
        .selectFrom('application_identifier_uris')
        .select(['application_id', 'uri'])
        .where('application_id', 'in', ids)
        .orderBy('uri')
        .execute(),
      this.db.selectFrom('password_credentials').selectAll().where('application_id', 'in', ids).execute(),
      this.db.selectFrom('key_credentials').selectAll().where('application_id', 'in', ids).execute(),
    ]);
    const byApplication = <T extends { readonly application_id: string }>(items: readonly T[]) => {
      const groups = new Map<string, T[]>();
      for (const item of items) {
        const group = groups.get(item.application_id);
        if (group === undefined) groups.set(item.application_id, [item]);
        else group.push(item);
      }
      return (id: string): readonly T[] => groups.get(id) ?? [];
    };
    const [urisOf, passwordsOf, keysOf] = [
      byApplication(uris),
      byApplication(passwords),
      byApplication(keys),
    ];
    return rows.map((row) => applicationOf(row, urisOf(row.id), passwordsOf(row.id), keysOf(row.id)));
  }

  private async load(row: Selectable<ApplicationTable>): Promise<Application> {
    const [app] = await this.loadAll([row]);
    if (app === undefined) throw new Error(`Application ${row.id} was not loaded.`);
    return app;
  }
}

/** An application from its row, App ID URIs and credential rows. */
function applicationOf(
  row: Selectable<ApplicationTable>,
  uris: readonly { readonly uri: string }[],
  passwords: readonly Selectable<PasswordCredentialTable>[],
  keys: readonly Selectable<KeyCredentialTable>[],
): Application {
  const definition = JSON.parse(row.definition) as ApplicationDefinition;
  return {
    ...definition,
    id: row.id,
    appId: row.app_id,
    tenantId: row.tenant_id,
    displayName: row.display_name,
    signInAudience: row.sign_in_audience as SignInAudience,
    accountEnabled: row.account_enabled === 1,
    createdAt: row.created_at,
    identifierUris: uris.map((u) => u.uri),
    passwordCredentials: passwords.map((p): PasswordCredential => ({
      keyId: p.key_id,
      displayName: p.display_name,
      hint: p.hint,
      secretHash: p.secret_hash,
      startAt: p.start_at,
      endAt: p.end_at,
    })),
    keyCredentials: keys.map((k): KeyCredential => ({
      keyId: k.key_id,
      displayName: k.display_name,
      thumbprintSha1: k.thumbprint_sha1,
      thumbprintSha256: k.thumbprint_sha256,
      certificatePem: k.certificate_pem,
      startAt: k.start_at,
      endAt: k.end_at,
    })),
  };
}

/** The part of an application stored as JSON. */
function definitionOf(app: Application): ApplicationDefinition {
  return {
    appRoles: app.appRoles,
    api: app.api,
    requiredResourceAccess: app.requiredResourceAccess,
    web: app.web,
    spa: app.spa,
    publicClient: app.publicClient,
    accessTokenSigningAlgorithm: app.accessTokenSigningAlgorithm,
    ...(app.dpopBoundAccessTokens === true ? { dpopBoundAccessTokens: true } : {}),
  };
}

/** Removes one credential row of `app` and records the application's change; `false` when there was none. */
async function deleteCredential(
  trx: Transaction<Database>,
  table: 'password_credentials' | 'key_credentials',
  app: Pick<Application, 'id' | 'appId'>,
  keyId: string,
): Promise<boolean> {
  const result = await trx
    .deleteFrom(table)
    .where('application_id', '=', app.id)
    .where('key_id', '=', keyId)
    .executeTakeFirst();
  const deleted = Number(result.numDeletedRows) === 1;
  if (deleted) await recordChange(trx, 'application', app.appId);
  return deleted;
}
