import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify as argon2Verify } from '@node-rs/argon2';
import {
  Directory,
  DirectoryError,
  DirectoryStore,
  migrateToLatest,
  openDatabase,
  type Application,
  type DatabaseTarget,
} from '@tessera/server';
import { createClientCertificate, createPostgresSchema, postgresAvailable } from '@tessera/testkit';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirectoryCache, DirectoryWatcher, type DirectoryChanges } from '../src/directory/directory-cache.js';
import { Directory as NodeDirectory } from '../src/directory/directory.js';
import { DirectoryStore as NodeStore } from '../src/store/directory-store.js';
import { expectDirectoryError, rejection } from './support/directory-error.js';

// One store suite, run on both dialects: what the server relies on from its database, through Directory (the
// validated write side) and DirectoryStore (the SQL), checked against the rows themselves.

type Db = ReturnType<typeof openDatabase>;
type StoredSigningKey = Parameters<DirectoryStore['signingKeys']['insert']>[1];

/** Every table of the schema, to search for secrets in the raw rows. */
const TABLES = [
  'tenants',
  'tenant_domains',
  'applications',
  'application_identifier_uris',
  'password_credentials',
  'key_credentials',
  'service_principals',
  'app_role_assignments',
  'users',
  'signing_keys',
  'client_assertion_jtis',
  'directory_state',
] as const;

/** A fixed clock (Unix seconds) so stored times are exact. */
const NOW = 1_800_000_000;

const pgAvailable = await postgresAvailable();

interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  readonly available: boolean;
  open(): Promise<{ target: DatabaseTarget; cleanup: () => Promise<void> }>;
}

const dialects: Dialect[] = [
  {
    name: 'sqlite',
    available: true,
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
      return Promise.resolve({
        target: { dialect: 'sqlite', file: join(dir, 'store.db') },
        cleanup: () => {
          rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      });
    },
  },
  {
    name: 'postgres',
    available: pgAvailable,
    async open() {
      const schema = await createPostgresSchema();
      return { target: { dialect: 'postgres', url: schema.url }, cleanup: () => schema.drop() };
    },
  },
];

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function uniqueDomain(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}.test`;
}

async function allRowsText(db: Kysely<unknown>): Promise<string> {
  const dumps: string[] = [];
  for (const table of TABLES) {
    const { rows } = await sql`select * from ${sql.table(table)}`.execute(db);
    dumps.push(JSON.stringify(rows));
  }
  return dumps.join('\n');
}

describe.each(dialects)('store on $name', (dialect) => {
  const test = it.skipIf(!dialect.available);
  let db: Db;
  let store: DirectoryStore;
  let directory: Directory;
  let target: DatabaseTarget;
  let cleanup: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    if (!dialect.available) return;
    const opened = await dialect.open();
    cleanup = opened.cleanup;
    target = opened.target;
    db = openDatabase(opened.target);
    await migrateToLatest(db);
    store = new DirectoryStore(db);
    directory = new Directory(store, () => NOW);
  });
  afterAll(async () => {
    if (!dialect.available) return;
    await db.destroy();
    await cleanup();
  });

  async function countRows(
    table: (typeof TABLES)[number],
    column?: string,
    value?: string | number,
  ): Promise<number> {
    const where = column === undefined ? sql`` : sql` where ${sql.ref(column)} = ${value}`;
    const { rows } = await sql<{
      n: number | string;
    }>`select count(*) as n from ${sql.table(table)}${where}`.execute(db);
    return Number(rows[0]?.n);
  }

  async function newTenant(label: string) {
    return directory.tenants.create({ displayName: `Tenant ${label}`, domains: [uniqueDomain(label)] });
  }

  test('migrations are idempotent: running migrateToLatest again changes nothing', async () => {
    await newTenant('migrate');
    const tenantsBefore = await countRows('tenants');
    const versionBefore = await store.version();
    await migrateToLatest(db);
    await migrateToLatest(db);
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    expect(rows.map((row) => row.name)).toEqual([
      '001-directory',
      '002-sign-in',
      '003-key-activation',
      '004-token-revocations',
      '005-sign-in-interactions',
      '006-directory-changes',
      '007-signing-key-slots',
      '008-interaction-resume',
      '009-application-owners',
      '010-grant-indexes',
      '011-audit-logs',
      '012-user-profile',
      '013-collection-indexes',
      '014-conditional-access-policies',
      '015-authentication-methods',
      '016-dpop-binding',
    ]);
    expect(await countRows('tenants')).toBe(tenantsBefore);
    expect(await countRows('directory_state')).toBe(1);
    expect(await store.version()).toBe(versionBefore);
  });

  test('tenants: domains lower-cased, default first; found by GUID or domain in any case', async () => {
    const primary = uniqueDomain('Contoso').toUpperCase();
    const secondary = uniqueDomain('contoso-eu');
    const tenant = await directory.tenants.create({
      displayName: '  Contoso  ',
      domains: [primary, secondary],
    });
    expect(tenant.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tenant).toEqual({
      id: tenant.id,
      displayName: 'Contoso',
      domains: [primary.toLowerCase(), secondary],
    });
    for (const key of [tenant.id, tenant.id.toUpperCase(), primary, primary.toLowerCase(), secondary]) {
      expect(await store.tenants.find(key)).toEqual(tenant);
    }
    expect(await store.tenants.find(uniqueDomain('nobody'))).toBeUndefined();
    expect(await store.tenants.find(randomUUID())).toBeUndefined();
    expect(await store.tenants.listIds()).toContain(tenant.id);

    const domainRows = await db
      .selectFrom('tenant_domains')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .orderBy('is_default', 'desc')
      .execute();
    expect(domainRows).toEqual([
      { domain: primary.toLowerCase(), tenant_id: tenant.id, is_default: 1 },
      { domain: secondary, tenant_id: tenant.id, is_default: 0 },
    ]);
    // Every tenant gets the built-in directory API's service principal.
    expect(await countRows('service_principals', 'tenant_id', tenant.id)).toBe(1);
    const tenantRow = await db
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', tenant.id)
      .executeTakeFirstOrThrow();
    expect(tenantRow).toEqual({ id: tenant.id, display_name: 'Contoso', created_at: NOW });
  });

  test('a domain verified by one tenant is refused to another, in any letter case', async () => {
    const domain = uniqueDomain('fabrikam');
    const first = await directory.tenants.create({ displayName: 'Fabrikam', domains: [domain] });
    const tenantsBefore = await countRows('tenants');
    await expectDirectoryError(
      directory.tenants.create({
        displayName: 'Impostor',
        domains: [uniqueDomain('other'), domain.toUpperCase()],
      }),
      'conflict',
      `The domain '${domain}' is already verified by another tenant.`,
    );
    expect(await countRows('tenants')).toBe(tenantsBefore);
    expect((await store.tenants.find(domain))?.id).toBe(first.id);
  });

  const invalidTenants = [
    ['an empty display name', { displayName: '  ', domains: ['x.test'] }, 'A tenant needs a display name.'],
    [
      'a domain with a space',
      { displayName: 'T', domains: ['bad domain.test'] },
      "'bad domain.test' is not a valid domain name.",
    ],
    [
      'a single-label domain',
      { displayName: 'T', domains: ['localhost'] },
      "'localhost' is not a valid domain name.",
    ],
    [
      'a domain with a path',
      { displayName: 'T', domains: ['a.test/x'] },
      "'a.test/x' is not a valid domain name.",
    ],
  ] as const;

  test.each(invalidTenants)('refuses a tenant with %s', async (_name, input, message) => {
    const before = await countRows('tenants');
    await expectDirectoryError(
      directory.tenants.create({ displayName: input.displayName, domains: [...input.domains] }),
      'invalid',
      message,
    );
    expect(await countRows('tenants')).toBe(before);
  });

  test('concurrent tenants claiming one domain: one wins, every other gets a DirectoryError conflict', async () => {
    const domain = uniqueDomain('race');
    // Warm the connection pool so the contenders really overlap (PostgreSQL).
    await Promise.all(Array.from({ length: 8 }, () => store.version()));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_v, i) =>
        directory.tenants.create({ displayName: `T${i}`, domains: [domain] }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await countRows('tenant_domains', 'domain', domain)).toBe(1);
    const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(losers.map((e) => (e instanceof DirectoryError ? [e.code, e.message] : String(e)))).toEqual(
      Array.from({ length: 7 }, () => [
        'conflict',
        `The domain '${domain}' is already verified by another tenant.`,
      ]),
    );
  });

  test('applications round-trip: definition JSON, identifier URIs (case-insensitive), credentials', async () => {
    const tenant = await newTenant('apps');
    const domain = tenant.domains[0]!;
    const { application, servicePrincipal } = await directory.applications.create({
      tenant: domain.toUpperCase(),
      displayName: 'Orders API',
      identifierUris: ['api://{appId}', `https://${domain}/Orders`],
      appRoles: ['Orders.Read.All', 'Orders.Write.All'],
      scopes: ['Orders.Read'],
      redirectUris: {
        web: ['https://web.example/callback'],
        spa: ['https://spa.example/'],
        publicClient: ['http://localhost'],
      },
      signInAudience: 'AzureADMultipleOrgs',
      requestedAccessTokenVersion: 2,
      accessTokenSigningAlgorithm: 'ES256',
    });
    const { appId } = application;
    expect(application.identifierUris).toEqual([`api://${appId}`, `https://${domain}/Orders`]);
    expect(application.appRoles.map((r) => [r.value, r.allowedMemberTypes, r.isEnabled])).toEqual([
      ['Orders.Read.All', ['Application'], true],
      ['Orders.Write.All', ['Application'], true],
    ]);
    expect(application.api.oauth2PermissionScopes.map((s) => [s.value, s.type])).toEqual([
      ['Orders.Read', 'User'],
    ]);

    // The stored definition is exactly the Graph sub-objects, as JSON.
    const row = await db
      .selectFrom('applications')
      .selectAll()
      .where('app_id', '=', appId)
      .executeTakeFirstOrThrow();
    expect({ ...row, definition: JSON.parse(row.definition) as unknown }).toEqual({
      id: application.id,
      app_id: appId,
      tenant_id: tenant.id,
      display_name: 'Orders API',
      sign_in_audience: 'AzureADMultipleOrgs',
      account_enabled: 1,
      created_at: NOW,
      definition: {
        appRoles: application.appRoles,
        api: {
          oauth2PermissionScopes: application.api.oauth2PermissionScopes,
          requestedAccessTokenVersion: 2,
          knownClientApplications: [],
          preAuthorizedApplications: [],
        },
        requiredResourceAccess: [],
        web: {
          redirectUris: ['https://web.example/callback'],
          logoutUrl: null,
          implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
        },
        spa: { redirectUris: ['https://spa.example/'] },
        publicClient: { redirectUris: ['http://localhost'] },
        accessTokenSigningAlgorithm: 'ES256',
      },
    });
    const uriRows = await db
      .selectFrom('application_identifier_uris')
      .selectAll()
      .where('application_id', '=', application.id)
      .orderBy('uri_lower')
      .execute();
    expect(uriRows).toEqual([
      { uri: `api://${appId}`, uri_lower: `api://${appId}`, application_id: application.id },
      {
        uri: `https://${domain}/Orders`,
        uri_lower: `https://${domain}/orders`,
        application_id: application.id,
      },
    ]);

    // Lookups by App ID URI ignore case; by appId too.
    for (const uri of [`API://${appId.toUpperCase()}`, `https://${domain.toUpperCase()}/orders`]) {
      expect(await store.applications.findAppIdByIdentifierUri(uri)).toBe(appId);
      expect(await store.applications.isIdentifierUriTaken(uri)).toBe(true);
    }
    expect(await store.applications.findAppIdByIdentifierUri(`https://${domain}/Orders/x`)).toBeUndefined();
    expect(await store.applications.isIdentifierUriTaken(`api://${randomUUID()}`)).toBe(false);
    expect(await store.applications.findByAppId(appId.toUpperCase())).toEqual(application);

    // Credentials.
    const password = await directory.credentials.addPassword({
      appId,
      displayName: 'ci',
      lifetimeSeconds: 3600,
    });
    expect(password.secretText).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(password.credential).toEqual({
      keyId: password.credential.keyId,
      displayName: 'ci',
      hint: password.secretText.slice(0, 3),
      startAt: NOW,
      endAt: NOW + 3600,
    });
    const defaultPassword = await directory.credentials.addPassword({ appId });
    expect([defaultPassword.credential.displayName, defaultPassword.credential.endAt]).toEqual([
      'Client secret',
      NOW + 2 * 365 * 24 * 3600,
    ]);
    const certificate = await createClientCertificate('ES256');
    const key = await directory.credentials.addCertificate({
      appId,
      certificatePem: certificate.certificatePem,
    });
    expect(key.thumbprintSha1).toBe(certificate.x5t);
    expect(key.thumbprintSha256).toBe(certificate.x5tS256);
    expect(key.certificatePem.trim()).toBe(certificate.certificatePem.trim());
    expect(key.displayName).toMatch(/^CN=test client [0-9a-f-]{36}$/);
    expect(key.endAt - key.startAt).toBe(30 * 86_400 + 60);

    const loaded = await store.applications.findByAppId(appId);
    expect(loaded?.keyCredentials).toEqual([key]);
    expect([...(loaded?.passwordCredentials ?? [])].sort((a, b) => a.endAt - b.endAt)).toEqual([
      { ...password.credential, secretHash: sha256Hex(password.secretText) },
      { ...defaultPassword.credential, secretHash: sha256Hex(defaultPassword.secretText) },
    ]);
    expect(loaded).toEqual({
      ...application,
      passwordCredentials: loaded?.passwordCredentials,
      keyCredentials: [key],
    });

    // Secrets are stored only as SHA-256 hex: the secret text appears in no row of any table.
    const passwordRow = await db
      .selectFrom('password_credentials')
      .selectAll()
      .where('key_id', '=', password.credential.keyId)
      .executeTakeFirstOrThrow();
    expect(passwordRow).toEqual({
      key_id: password.credential.keyId,
      application_id: application.id,
      display_name: 'ci',
      hint: password.secretText.slice(0, 3),
      secret_hash: sha256Hex(password.secretText),
      start_at: NOW,
      end_at: NOW + 3600,
    });
    const everything = await allRowsText(db as Kysely<unknown>);
    for (const secret of [password.secretText, defaultPassword.secretText]) {
      expect(everything).toContain(sha256Hex(secret));
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(3));
    }
    expect(servicePrincipal).toEqual({
      id: servicePrincipal.id,
      appId,
      tenantId: tenant.id,
      displayName: 'Orders API',
      appOwnerOrganizationId: tenant.id,
      accountEnabled: true,
    });
  });

  const invalidApplications = [
    [
      'an app role value with a space',
      { appRoles: ['Orders Read'] },
      'invalid',
      "'Orders Read' is not a valid app role value.",
    ],
    ['a duplicate app role', { appRoles: ['A.B', 'A.B'] }, 'invalid', 'Duplicate app role values.'],
    ['a bad scope value', { scopes: ['.x'] }, 'invalid', "'.x' is not a valid scope value."],
    [
      'a relative App ID URI',
      { identifierUris: ['orders'] },
      'invalid',
      "The App ID URI 'orders' is not an absolute URI.",
    ],
    [
      'an App ID URI with a trailing slash',
      { identifierUris: ['api://orders/'] },
      'invalid',
      "The App ID URI 'api://orders/' must not have a query, fragment, wildcard or trailing slash.",
    ],
    [
      'an http App ID URI',
      { identifierUris: ['http://orders.test'] },
      'invalid',
      "The App ID URI 'http://orders.test' must use the api, https or urn scheme.",
    ],
    [
      'the directory API\u2019s App ID URI',
      { identifierUris: ['https://GRAPH.microsoft.com'] },
      'conflict',
      "The App ID URI 'https://GRAPH.microsoft.com' is already used by another application.",
    ],
    [
      'a redirect URI with a fragment',
      { redirectUris: { web: ['https://a.test/#x'] } },
      'invalid',
      "The web redirect URI 'https://a.test/#x' must not contain a fragment (#).",
    ],
    [
      'a wildcard redirect URI',
      { redirectUris: { spa: ['https://*.a.test/'] } },
      'invalid',
      "The spa redirect URI 'https://*.a.test/' must not contain a wildcard (*).",
    ],
  ] as const;

  test.each(invalidApplications)('refuses an application with %s', async (_name, input, code, message) => {
    const tenant = await newTenant('bad-app');
    const before = await countRows('applications');
    await expectDirectoryError(
      directory.applications.create({ tenant: tenant.id, displayName: 'Bad', ...input }),
      code,
      message,
    );
    expect(await countRows('applications')).toBe(before);
  });

  test('refuses an application in an unknown tenant', async () => {
    const domain = uniqueDomain('ghost');
    await expectDirectoryError(
      directory.applications.create({ tenant: domain, displayName: 'Ghost' }),
      'not_found',
      `Tenant '${domain}' not found.`,
    );
  });

  test('a taken App ID URI is refused and leaves no half-written application', async () => {
    const tenant = await newTenant('uri');
    const taken = `api://${tenant.domains[0]!}/orders`;
    await directory.applications.create({ tenant: tenant.id, displayName: 'Owner', identifierUris: [taken] });
    const applications = await countRows('applications');
    const servicePrincipals = await countRows('service_principals');
    const version = await store.version();

    await expectDirectoryError(
      directory.applications.create({
        tenant: tenant.id,
        displayName: 'Intruder',
        identifierUris: [`api://${randomUUID()}`, taken.toUpperCase()],
      }),
      'conflict',
      `The App ID URI '${taken.toUpperCase()}' is already used by another application.`,
    );
    expect(await countRows('applications')).toBe(applications);
    expect(await countRows('service_principals')).toBe(servicePrincipals);
    expect(await store.version()).toBe(version);
  });

  test('a write failing inside store.write rolls back completely and does not bump the version', async () => {
    const tenant = await newTenant('rollback');
    const taken = `api://${tenant.domains[0]!}/taken`;
    const { application: owner } = await directory.applications.create({
      tenant: tenant.id,
      displayName: 'Owner',
      identifierUris: [taken],
    });
    const version = await store.version();
    const fresh = `api://${tenant.domains[0]!}/fresh`;
    const intruder: Application = {
      ...owner,
      id: randomUUID(),
      appId: randomUUID(),
      displayName: 'Intruder',
      identifierUris: [fresh, taken.toUpperCase()],
    };
    // The application row and the first URI are written before the second URI violates uniqueness.
    await expect(store.write((trx) => store.applications.insert(trx, intruder, NOW))).rejects.toThrow(
      /unique|duplicate/i,
    );
    expect(await countRows('applications', 'id', intruder.id)).toBe(0);
    expect(await countRows('application_identifier_uris', 'uri_lower', fresh)).toBe(0);
    expect(await store.applications.findByAppId(intruder.appId)).toBeUndefined();
    expect(await store.version()).toBe(version);

    // Work that throws after its writes is undone the same way.
    const before = await countRows('tenants');
    await expect(
      store.write(async (trx) => {
        await store.tenants.insert(
          trx,
          { id: randomUUID(), displayName: 'Ghost', domains: [uniqueDomain('ghost')] },
          NOW,
        );
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await countRows('tenants')).toBe(before);
    expect(await store.version()).toBe(version);
  });

  test('App ID URIs repeated in one registration (differing in case) are refused as a DirectoryError', async () => {
    const tenant = await newTenant('dup-uri');
    const uri = `api://${tenant.domains[0]!}/dup`;
    const before = await countRows('applications');
    const error = await rejection(
      directory.applications.create({
        tenant: tenant.id,
        displayName: 'Dup',
        identifierUris: [uri, uri.toUpperCase()],
      }),
    );
    expect(await countRows('applications')).toBe(before);
    // Today the unique index refuses the second URI and the raw database error escapes (the CLI then reports
    // an 'internal' "Unexpected error"); like duplicate role values, it is the caller's mistake.
    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as DirectoryError).code).toBe('invalid');
  });

  test('service principals are unique per (tenant, app); the same app may have one in another tenant', async () => {
    const home = await newTenant('sp-home');
    const other = await newTenant('sp-other');
    const { application, servicePrincipal } = await directory.applications.create({
      tenant: home.id,
      displayName: 'Multi',
      signInAudience: 'AzureADMultipleOrgs',
    });
    expect(await store.servicePrincipals.find(home.id, application.appId.toUpperCase())).toEqual(
      servicePrincipal,
    );
    expect(await store.servicePrincipals.find(other.id, application.appId)).toBeUndefined();

    const duplicate = { ...servicePrincipal, id: randomUUID() };
    await expect(store.write((trx) => store.servicePrincipals.insert(trx, duplicate, NOW))).rejects.toThrow(
      /unique|duplicate/i,
    );
    expect(await countRows('service_principals', 'app_id', application.appId)).toBe(1);

    const inOther = { ...servicePrincipal, id: randomUUID(), tenantId: other.id };
    await store.write((trx) => store.servicePrincipals.insert(trx, inOther, NOW));
    expect(await store.servicePrincipals.find(other.id, application.appId)).toEqual(inOther);
    expect(await countRows('service_principals', 'app_id', application.appId)).toBe(2);
  });

  test('app role assignments are idempotent: the same grant twice is one row', async () => {
    const tenant = await newTenant('grants');
    const api = await directory.applications.create({
      tenant: tenant.id,
      displayName: 'API',
      identifierUris: [`api://${tenant.domains[0]!}/api`],
      appRoles: ['Data.Read.All', 'Data.Write.All'],
    });
    const daemon = await directory.applications.create({ tenant: tenant.id, displayName: 'Daemon' });
    const [readRole, writeRole] = api.application.appRoles;
    const grant = (role: string, resource = api.application.appId) =>
      directory.grants.grantAppRole({
        tenant: tenant.id,
        clientAppId: daemon.application.appId,
        resource,
        role,
      });

    const first = await grant('Data.Read.All');
    expect(first).toEqual({
      id: first.id,
      tenantId: tenant.id,
      principalId: daemon.servicePrincipal.id,
      principalType: 'ServicePrincipal',
      resourceId: api.servicePrincipal.id,
      appRoleId: readRole!.id,
      createdAt: NOW,
    });
    const second = await grant('Data.Read.All', `API://${tenant.domains[0]!.toUpperCase()}/API`);
    expect(await countRows('app_role_assignments', 'principal_id', daemon.servicePrincipal.id)).toBe(1);
    expect(
      await store.appRoleAssignments.listAppRoleIds(daemon.servicePrincipal.id, api.servicePrincipal.id),
    ).toEqual([readRole!.id]);
    // What the second grant returns is the assignment that exists.
    expect(second.id).toBe(first.id);

    await grant('Data.Write.All');
    expect(
      [
        ...(await store.appRoleAssignments.listAppRoleIds(
          daemon.servicePrincipal.id,
          api.servicePrincipal.id,
        )),
      ].sort(),
    ).toEqual([readRole!.id, writeRole!.id].sort());
    expect(await countRows('app_role_assignments', 'principal_id', daemon.servicePrincipal.id)).toBe(2);
  });

  test('refuses grants of unknown roles, resources and tenants', async () => {
    const tenant = await newTenant('bad-grants');
    const api = await directory.applications.create({
      tenant: tenant.id,
      displayName: 'API',
      appRoles: ['Data.Read.All'],
    });
    const daemon = await directory.applications.create({ tenant: tenant.id, displayName: 'Daemon' });
    const clientAppId = daemon.application.appId;
    const ghostTenant = uniqueDomain('ghost');
    const cases = [
      [
        { tenant: tenant.id, clientAppId, resource: api.application.appId, role: 'Data.Delete.All' },
        'not_found',
        "The resource 'API' has no app role 'Data.Delete.All'.",
      ],
      [
        { tenant: tenant.id, clientAppId, resource: 'api://nobody.test/x', role: 'Data.Read.All' },
        'not_found',
        "Resource 'api://nobody.test/x' not found.",
      ],
      [
        { tenant: ghostTenant, clientAppId, resource: api.application.appId, role: 'Data.Read.All' },
        'not_found',
        `Tenant '${ghostTenant}' not found.`,
      ],
    ] as const;
    for (const [input, code, message] of cases) {
      await expectDirectoryError(directory.grants.grantAppRole(input), code, message);
    }
    expect(await countRows('app_role_assignments', 'tenant_id', tenant.id)).toBe(0);
  });

  test('users: UPN unique case-insensitively; password stored only as an argon2id PHC string', async () => {
    const tenant = await newTenant('users');
    const domain = tenant.domains[0]!;
    const password = `Correct horse ${randomUUID()}`;
    const upn = `Adele.Vance@${domain.toUpperCase()}`;
    const user = await directory.users.create({
      tenant: tenant.id,
      userPrincipalName: ` ${upn} `,
      password,
      displayName: 'Adele Vance',
      admin: true,
    });
    expect(user).toEqual({
      id: user.id,
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: 'Adele Vance',
      accountEnabled: true,
      directoryRoles: ['Global Administrator'],
      mailNickname: null,
      givenName: null,
      surname: null,
      jobTitle: null,
      mail: null,
    });
    const found = await store.users.findByUpn(`adele.vance@${domain}`);
    expect(found).toEqual({ ...user, passwordHash: found?.passwordHash });

    const row = await db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
    expect({ ...row, password_hash: '' }).toEqual({
      id: user.id,
      tenant_id: tenant.id,
      user_principal_name: upn,
      upn_lower: upn.toLowerCase(),
      display_name: 'Adele Vance',
      password_hash: '',
      account_enabled: 1,
      directory_roles: '["Global Administrator"]',
      created_at: NOW,
      mail_nickname: null,
      given_name: null,
      surname: null,
      job_title: null,
      mail: null,
    });
    expect(row.password_hash).toMatch(
      /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    );
    expect(await argon2Verify(row.password_hash, password)).toBe(true);
    expect(await argon2Verify(row.password_hash, `${password}x`)).toBe(false);
    expect(await allRowsText(db as Kysely<unknown>)).not.toContain(password);

    const plain = await directory.users.create({
      tenant: domain,
      userPrincipalName: `megan@${domain}`,
      password,
    });
    expect([plain.displayName, plain.directoryRoles]).toEqual(['megan', []]);
    const before = await countRows('users');
    await expectDirectoryError(
      directory.users.create({ tenant: tenant.id, userPrincipalName: `ADELE.VANCE@${domain}`, password }),
      'conflict',
      `A user 'ADELE.VANCE@${domain}' already exists.`,
    );
    const other = uniqueDomain('elsewhere');
    const cases = [
      [
        { tenant: tenant.id, userPrincipalName: `bob@${other}`, password },
        'invalid',
        `The UPN 'bob@${other}' must end in one of the tenant's verified domains.`,
      ],
      [
        { tenant: tenant.id, userPrincipalName: 'bob', password },
        'invalid',
        "The UPN 'bob' must end in one of the tenant's verified domains.",
      ],
      [
        { tenant: tenant.id, userPrincipalName: `bob@${domain}`, password: '1234567' },
        'invalid',
        'A password needs at least 8 characters.',
      ],
      [
        { tenant: other, userPrincipalName: `bob@${other}`, password },
        'not_found',
        `Tenant '${other}' not found.`,
      ],
    ] as const;
    for (const [input, code, message] of cases) {
      await expectDirectoryError(directory.users.create(input), code, message);
    }
    expect(await countRows('users')).toBe(before);
  });

  test('signing keys: insert retires the current key of the same algorithm; delete removes retired keys', async () => {
    const key = (kid: string, alg: 'RS256' | 'ES256', createdAt: number): StoredSigningKey => ({
      kid,
      alg,
      privateKeyEncrypted: `v1.iv.tag.${kid}`,
      certificatePem: `cert ${kid}`,
      createdAt,
      retiredAt: null,
      activatesAt: null,
    });
    await store.write((trx) => store.signingKeys.insert(trx, key('rs-1', 'RS256', 100)));
    expect(await store.signingKeys.list()).toEqual([key('rs-1', 'RS256', 100)]);
    await store.write((trx) => store.signingKeys.insert(trx, key('es-1', 'ES256', 150)));
    await store.write((trx) => store.signingKeys.insert(trx, key('rs-2', 'RS256', 200)));
    expect(await store.signingKeys.list()).toEqual([
      key('rs-2', 'RS256', 200),
      key('es-1', 'ES256', 150),
      { ...key('rs-1', 'RS256', 100), retiredAt: 200 },
    ]);
    await store.write((trx) => store.signingKeys.insert(trx, key('rs-3', 'RS256', 300)));
    // Retired at exactly `before` is kept; strictly earlier is deleted.
    expect(await store.write((trx) => store.signingKeys.deleteRetiredBefore(trx, 200))).toBe(0);
    expect(await store.write((trx) => store.signingKeys.deleteRetiredBefore(trx, 201))).toBe(1);
    expect(await store.signingKeys.list()).toEqual([
      key('rs-3', 'RS256', 300),
      { ...key('rs-2', 'RS256', 200), retiredAt: 300 },
      key('es-1', 'ES256', 150),
    ]);
    expect(await store.write((trx) => store.signingKeys.deleteRetiredBefore(trx, 10_000))).toBe(1);
    expect((await store.signingKeys.list()).map((k) => k.kid)).toEqual(['rs-3', 'es-1']);
    // A kid is a primary key.
    await expect(
      store.write((trx) => store.signingKeys.insert(trx, key('rs-3', 'RS256', 400))),
    ).rejects.toThrow(/unique|duplicate/i);
    expect(await store.signingKeys.list()).toEqual([key('rs-3', 'RS256', 300), key('es-1', 'ES256', 150)]);
  });

  test('useAssertionJti is atomic: of 10 concurrent identical calls exactly one wins', async () => {
    const id = `${randomUUID()}:${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.assertionJtis.use(id, NOW + 600, NOW)),
    );
    expect(results.filter((r) => r)).toHaveLength(1);
    expect(results.filter((r) => !r)).toHaveLength(9);
    expect(await store.assertionJtis.use(id, NOW + 600, NOW + 600)).toBe(false);
    // Once expired it is purged and may be recorded again; other ids are independent.
    expect(await store.assertionJtis.use(id, NOW + 1200, NOW + 601)).toBe(true);
    expect(await store.assertionJtis.use(`${id}x`, NOW + 1200, NOW + 601)).toBe(true);
    expect(await countRows('client_assertion_jtis', 'id', id)).toBe(1);
  });

  test('version() increases by one on every write', async () => {
    const versions = [await store.version()];
    const tenant = await newTenant('version');
    versions.push(await store.version());
    const { application } = await directory.applications.create({
      tenant: tenant.id,
      displayName: 'API',
      appRoles: ['R.All'],
    });
    versions.push(await store.version());
    const daemon = await directory.applications.create({ tenant: tenant.id, displayName: 'Daemon' });
    versions.push(await store.version());
    await directory.credentials.addPassword({ appId: daemon.application.appId });
    versions.push(await store.version());
    await directory.credentials.addCertificate({
      appId: daemon.application.appId,
      certificatePem: (await createClientCertificate('ES256')).certificatePem,
    });
    versions.push(await store.version());
    await directory.grants.grantAppRole({
      tenant: tenant.id,
      clientAppId: daemon.application.appId,
      resource: application.appId,
      role: 'R.All',
    });
    versions.push(await store.version());
    await directory.users.create({
      tenant: tenant.id,
      userPrincipalName: `u@${tenant.domains[0]!}`,
      password: 'password1',
    });
    versions.push(await store.version());
    await store.write(() => Promise.resolve());
    versions.push(await store.version());
    const first = versions[0]!;
    expect(versions).toEqual(versions.map((_v, i) => first + i));
  });

  /** Every item of a paged list, read `top` at a time; also returns the size of each page. */
  async function readAllPages<T>(
    list: (request: {
      top: number;
      after?: string;
    }) => Promise<{ items: readonly T[]; next: string | undefined }>,
    top: number,
  ): Promise<{ items: T[]; sizes: number[] }> {
    const items: T[] = [];
    const sizes: number[] = [];
    let after: string | undefined;
    do {
      const page = await list(after === undefined ? { top } : { top, after });
      items.push(...page.items);
      sizes.push(page.items.length);
      after = page.next;
    } while (after !== undefined);
    return { items, sizes };
  }

  const ids = (items: readonly { id: string }[]) => items.map((item) => item.id);
  const sorted = (values: readonly string[]) => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  test("paged lists: one tenant's objects by id, `top` at a time, the last page without `next`", async () => {
    const tenant = await newTenant('paging');
    const other = await newTenant('paging-other');
    const apps: Awaited<ReturnType<Directory['applications']['create']>>[] = [];
    for (const name of ['A', 'B', 'C', 'D', 'E']) {
      apps.push(
        await directory.applications.create({ tenant: tenant.id, displayName: name, appRoles: ['R.All'] }),
      );
    }
    await directory.applications.create({ tenant: other.id, displayName: 'Elsewhere' });
    const users: Awaited<ReturnType<Directory['users']['create']>>[] = [];
    for (const name of ['ann', 'ben', 'cat']) {
      users.push(
        await directory.users.create({
          tenant: tenant.id,
          userPrincipalName: `${name}@${tenant.domains[0]!}`,
          password: 'password1',
        }),
      );
    }
    const [api, ...clients] = apps;
    for (const client of clients) {
      await directory.grants.grantAppRole({
        tenant: tenant.id,
        clientAppId: client.application.appId,
        resource: api!.application.appId,
        role: 'R.All',
      });
    }
    await directory.grants.recordConsent({
      tenantId: tenant.id,
      userId: users[0]!.id,
      forOrganization: false,
      items: clients.map((client) => ({
        clientAppId: client.application.appId,
        resourceAppId: api!.application.appId,
        scopes: ['x'],
      })),
    });

    const applications = await readAllPages((r) => store.applications.list({ ...r, tenantId: tenant.id }), 2);
    expect(applications.sizes).toEqual([2, 2, 1]);
    expect(ids(applications.items)).toEqual(sorted(apps.map((a) => a.application.id)));
    expect(applications.items[0]).toEqual(await store.applications.findByAppId(applications.items[0]!.appId));

    // The built-in directory API's service principal and one per application.
    const principals = await readAllPages(
      (r) => store.servicePrincipals.list({ ...r, tenantId: tenant.id }),
      4,
    );
    expect(principals.sizes).toEqual([4, 2]);
    expect(ids(principals.items)).toEqual(sorted(ids(principals.items)));
    expect(ids(principals.items)).toEqual(expect.arrayContaining(apps.map((a) => a.servicePrincipal.id)));

    const listedUsers = await readAllPages((r) => store.users.list({ ...r, tenantId: tenant.id }), 3);
    expect(listedUsers.sizes).toEqual([3]);
    expect(listedUsers.items).toEqual(sorted(ids(users)).map((id) => users.find((u) => u.id === id)));
    expect(JSON.stringify(listedUsers.items)).not.toContain('argon2');

    const assignments = await readAllPages(
      (r) => store.appRoleAssignments.list({ ...r, tenantId: tenant.id }),
      3,
    );
    expect(assignments.sizes).toEqual([3, 1]);
    expect(sorted(assignments.items.map((a) => a.principalId))).toEqual(
      sorted(clients.map((c) => c.servicePrincipal.id)),
    );

    const grants = await readAllPages((r) => store.permissionGrants.list({ ...r, tenantId: tenant.id }), 1);
    expect(grants.sizes).toEqual([1, 1, 1, 1]);
    expect(grants.items.every((g) => g.principalId === users[0]!.id && g.scope === 'x')).toBe(true);
    expect(await store.permissionGrants.list({ tenantId: other.id })).toEqual({ items: [], next: undefined });

    const tenants = await readAllPages((r) => store.tenants.list(r), 3);
    expect(ids(tenants.items)).toEqual(sorted(await store.tenants.listIds()));
    expect(tenants.items).toContainEqual(tenant);

    for (const top of [0, 1000, 1.5]) {
      await expect(store.users.list({ tenantId: tenant.id, top })).rejects.toThrow(RangeError);
    }

    // The services' lists: the tenant by id or domain, a bad page size or tenant as a DirectoryError.
    expect(await directory.users.list({ tenant: tenant.domains[0]!.toUpperCase(), top: 2 })).toEqual(
      await store.users.list({ tenantId: tenant.id, top: 2 }),
    );
    const secondPage = await directory.applications.list({
      tenant: tenant.id,
      top: 4,
      after: ids(applications.items)[0]!,
    });
    expect(ids(secondPage.items)).toEqual(ids(applications.items).slice(1));
    expect(secondPage.next).toBeUndefined();
    expect((await directory.applications.listServicePrincipals({ tenant: tenant.id })).items).toEqual(
      principals.items,
    );
    expect((await directory.grants.listAppRoleAssignments({ tenant: tenant.id })).items).toHaveLength(4);
    expect((await directory.grants.listPermissionGrants({ tenant: tenant.id })).items).toEqual(grants.items);
    expect(ids((await directory.tenants.list({ top: 999 })).items)).toContain(tenant.id);
    await expectDirectoryError(
      directory.users.list({ tenant: tenant.id, top: 0 }),
      'invalid',
      'A page holds 1 to 999 items, not 0.',
    );
    await expectDirectoryError(
      directory.applications.list({ tenant: 'nowhere.test' }),
      'not_found',
      "Tenant 'nowhere.test' not found.",
    );
  });

  test('each write records the entities it changed under its version; a gap or a write with none means all', async () => {
    const before = await store.version();
    const tenant = await newTenant('changes');
    const builtin = await store.servicePrincipals.find(tenant.id, '00000003-0000-0000-c000-000000000000');
    const { application, servicePrincipal } = await directory.applications.create({
      tenant: tenant.id,
      displayName: 'Changed',
    });
    const changes = await store.changes.since(before, before + 2);
    expect(
      changes === 'all' ? changes : [...changes].sort((a, b) => (a.entityType < b.entityType ? -1 : 1)),
    ).toEqual(
      [
        { entityType: 'application', entityId: application.appId },
        { entityType: 'servicePrincipal', entityId: builtin!.id },
        { entityType: 'servicePrincipal', entityId: servicePrincipal.id },
        { entityType: 'tenant', entityId: tenant.id },
      ].sort((a, b) => (a.entityType < b.entityType ? -1 : 1)),
    );
    expect(await store.changes.since(before + 2, before + 2)).toEqual([]);
    await store.write(() => Promise.resolve());
    expect(await store.changes.since(before + 1, before + 3)).toBe('all');
    expect(await store.changes.since(before + 3, before + 1)).toBe('all');
    expect(await store.changes.since(before + 2 - 5000, before + 2)).toBe('all');
  });

  test('another node evicts only what a write changed, from a baseline read before it loaded; a failed reload is retried', async () => {
    const nodeDb = openDatabase(target);
    try {
      const nodeStore = new NodeStore(nodeDb);
      const cache = new DirectoryCache(nodeStore);
      const tenant = await newTenant('evict');
      const { application: x } = await directory.applications.create({ tenant: tenant.id, displayName: 'X' });
      const { application: z } = await directory.applications.create({ tenant: tenant.id, displayName: 'Z' });
      const handled: DirectoryChanges[] = [];
      const errors: unknown[] = [];
      let failures = 1;
      const watcher = new DirectoryWatcher(
        nodeStore,
        (changes) => {
          if (failures-- > 0) throw new Error('reload failed');
          handled.push(changes);
          cache.evict(changes);
        },
        (error) => errors.push(error),
        await nodeStore.version(),
      );
      // Loaded after the baseline was read: a write that lands now is still seen by the first poll.
      await cache.tenant(tenant.domains[0]!);
      await cache.application(x.appId);
      await cache.application(z.appId);
      const password = await directory.credentials.addPassword({ appId: x.appId });
      const findTenant = vi.spyOn(nodeStore.tenants, 'find');
      const findApplication = vi.spyOn(nodeStore.applications, 'findByAppId');

      await watcher.poll();
      expect([errors.length, handled]).toEqual([1, []]);
      expect((await cache.application(x.appId))?.passwordCredentials).toEqual([]);
      await watcher.poll();
      await watcher.poll();
      expect(handled).toEqual([[{ entityType: 'application', entityId: x.appId }]]);

      expect((await cache.tenant(tenant.domains[0]!))?.id).toBe(tenant.id);
      expect((await cache.application(z.appId))?.appId).toBe(z.appId);
      expect(findTenant).not.toHaveBeenCalled();
      expect(findApplication).not.toHaveBeenCalled();
      expect((await cache.application(x.appId))?.passwordCredentials.map((c) => c.keyId)).toEqual([
        password.credential.keyId,
      ]);
      expect(findApplication.mock.calls).toEqual([[x.appId]]);
    } finally {
      await nodeDb.destroy();
    }
  });

  test("a write through a node's own store evicts that node's entries at once, without a poll", async () => {
    const nodeDb = openDatabase(target);
    try {
      const nodeStore = new NodeStore(nodeDb);
      const cache = new DirectoryCache(nodeStore);
      const nodeDirectory = new NodeDirectory(nodeStore, () => NOW);
      const tenant = await nodeDirectory.tenants.create({
        displayName: 'Local',
        domains: [uniqueDomain('local')],
      });
      const { application } = await nodeDirectory.applications.create({
        tenant: tenant.id,
        displayName: 'Local',
      });
      expect((await cache.application(application.appId))?.keyCredentials).toEqual([]);
      expect((await cache.tenant(tenant.id))?.id).toBe(tenant.id);
      const findTenant = vi.spyOn(nodeStore.tenants, 'find');
      const key = await nodeDirectory.credentials.addCertificate({
        appId: application.appId,
        certificatePem: (await createClientCertificate('ES256')).certificatePem,
      });
      expect((await cache.application(application.appId))?.keyCredentials).toEqual([key]);
      expect((await cache.tenant(tenant.id))?.id).toBe(tenant.id);
      expect(findTenant).not.toHaveBeenCalled();
    } finally {
      await nodeDb.destroy();
    }
  });
});
