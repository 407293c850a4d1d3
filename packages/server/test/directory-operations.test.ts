import { randomUUID } from 'node:crypto';
import { verify as argon2Verify } from '@node-rs/argon2';
import type { Directory } from '@tessera/server';
import {
  JWT_BEARER_ASSERTION_TYPE,
  postForm,
  postgresAvailable,
  readErrorResponse,
  seedClientCredentialsScenario,
  seedInteractiveScenario,
  signClientAssertion,
  signInThrough,
  startTestServer,
  TestBrowser,
  type ClientCredentialsScenario,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { builtinDirectoryApplication, DIRECTORY_APP_ID } from '../src/directory/builtin-directory-app.js';
import type { DirectoryChanges } from '../src/directory/directory-cache.js';
import { expectDirectoryError } from './support/directory-error.js';

// The directory operations the management API calls (update, delete, remove, revoke), on both dialects, through
// two real servers on one database: server A writes, server B must stop (or start) issuing tokens by itself —
// the write's recorded changes are all that tells B's cache what to evict.

const pgAvailable = await postgresAvailable();

/** Microsoft Graph's permission ids (Graph permissions reference): application role id, delegated scope id. */
const GRAPH_PERMISSIONS = [
  ['User.Read.All', 'df021288-bdef-4463-88db-98f22de89214', 'a154be20-db9c-4678-8ab7-66f6cc099a59'],
  ['User.ReadWrite.All', '741f803b-c850-494e-b5df-cde7c675a1ca', '204e0828-b5ca-4ad8-b9f3-f32a958e7cc4'],
  ['Application.Read.All', '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', 'c79f8feb-a9db-4090-85f9-90d820caa0eb'],
  [
    'Application.ReadWrite.All',
    '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',
    'bdfbf15f-ee85-4955-8675-146e8e5296b5',
  ],
  [
    'AppRoleAssignment.ReadWrite.All',
    '06b708a9-e830-4db3-a914-8e69da51d44f',
    '84bccea3-f856-4a8a-967b-dbe0a3d53a64',
  ],
  [
    'DelegatedPermissionGrant.ReadWrite.All',
    '8e8e4742-1d95-4f68-9d56-6ee75648c72a',
    '41ce6ca6-6826-4807-84f1-1c82854f7ee5',
  ],
  ['Directory.Read.All', '7ab1d382-f21e-4acd-a863-ba3e13f7da61', '06da0dbc-49e2-44d2-8312-53f166ab848a'],
  ['AuditLog.Read.All', 'b0afded3-3588-46d8-8b3d-9842eff778da', 'e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20'],
] as const;

describe('the built-in directory API publishes Graph’s management permissions', () => {
  it.each(GRAPH_PERMISSIONS)('%s: app role %s, admin-consent scope %s', (value, roleId, scopeId) => {
    expect(builtinDirectoryApplication.appRoles.filter((r) => r.value === value)).toEqual([
      expect.objectContaining({ id: roleId, allowedMemberTypes: ['Application'], isEnabled: true }),
    ]);
    expect(builtinDirectoryApplication.api.oauth2PermissionScopes.filter((s) => s.value === value)).toEqual([
      expect.objectContaining({ id: scopeId, type: 'Admin', isEnabled: true }),
    ]);
  });

  it('keeps User.Read a user-consent scope, and every id unique', () => {
    const userRead = builtinDirectoryApplication.api.oauth2PermissionScopes.find(
      (s) => s.value === 'User.Read',
    );
    expect(userRead).toMatchObject({ id: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d', type: 'User' });
    const ids = [
      ...builtinDirectoryApplication.appRoles.map((r) => r.id),
      ...builtinDirectoryApplication.api.oauth2PermissionScopes.map((s) => s.id),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});

function sorted(changes: DirectoryChanges): DirectoryChanges {
  if (changes === 'all') return changes;
  return [...changes].sort((x, y) =>
    `${x.entityType}|${x.entityId}`.localeCompare(`${y.entityType}|${y.entityId}`),
  );
}

describe.each([
  { name: 'sqlite', database: 'sqlite' as const, available: true },
  { name: 'postgres', database: 'postgres' as const, available: pgAvailable },
])('directory operations on $name', ({ database, available }) => {
  const test = it.skipIf(!available);
  let a: TestServer;
  let b: TestServer;
  let directory: Directory;

  beforeAll(async () => {
    if (!available) return;
    a = await startTestServer({ database });
    b = await startTestServer({
      database,
      ...(database === 'sqlite' ? { dataDir: a.dataDir } : { databaseUrl: a.databaseUrl ?? '' }),
    });
    directory = a.directory;
  });
  afterAll(async () => {
    if (!available) return;
    await b.close();
    await a.close();
  });

  function tokenWithSecret(g: ClientCredentialsScenario, secret = g.daemon.secret, scope?: string) {
    return postForm(`${b.url}/${g.tenantId}/oauth2/v2.0/token`, {
      grant_type: 'client_credentials',
      client_id: g.daemon.appId,
      client_secret: secret,
      scope: scope ?? `${g.api.identifierUri}/.default`,
    });
  }

  async function tokenWithCertificate(g: ClientCredentialsScenario) {
    const tokenUrl = `${b.url}/${g.tenantId}/oauth2/v2.0/token`;
    const assertion = await signClientAssertion({
      clientId: g.daemon.appId,
      audience: tokenUrl,
      key: g.daemon.certificate.privateKey,
      header: { 'x5t#S256': g.daemon.certificate.x5tS256 },
    });
    return postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_id: g.daemon.appId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
      scope: `${g.api.identifierUri}/.default`,
    });
  }

  /** Waits until server B answers `request` with this status and (for errors) these `error_codes`. */
  async function expectOnB(request: () => Promise<Response>, status: number, codes?: readonly number[]) {
    await vi.waitFor(
      async () => {
        const response = await request();
        if (codes === undefined) {
          expect(response.status).toBe(status);
          return;
        }
        const parts = await readErrorResponse(response);
        expect({ status: parts.status, codes: parts.codes }).toEqual({ status, codes });
      },
      { timeout: 4000, interval: 50 },
    );
  }

  /** Runs one write and answers what it recorded in the change log (what every node's cache evicts). */
  async function changesOf<T>(work: () => Promise<T>): Promise<{ result: T; changes: DirectoryChanges }> {
    const before = await directory.store.version();
    const result = await work();
    return { result, changes: await directory.store.changes.since(before, await directory.store.version()) };
  }

  async function rowCount(table: string, column: string, value: string): Promise<number> {
    const rows = await sql<{
      n: number | string;
    }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(column)} = ${value}`.execute(
      directory.store.db,
    );
    return Number(rows.rows[0]?.n ?? 0);
  }

  describe('users', () => {
    test('update changes the display name, sign-in and password; bad input changes nothing', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const user = await directory.users.create({
        tenant: g.tenantId,
        userPrincipalName: `ada@${g.domain}`,
        password: 'first-password',
      });
      await expectDirectoryError(
        directory.users.update(g.tenantId, user.id, { displayName: '  ' }),
        'invalid',
        'A user needs a display name.',
      );
      await expectDirectoryError(
        directory.users.update(g.tenantId, user.id, { password: 'short' }),
        'invalid',
        'A password needs at least 8 characters.',
      );
      expect(await directory.users.get(g.tenantId, user.id)).toEqual(user);

      const { result: updated, changes } = await changesOf(() =>
        directory.users.update(g.tenantId, `ADA@${g.domain}`, {
          displayName: ' Ada Lovelace ',
          accountEnabled: false,
          password: 'second-password',
        }),
      );
      expect(changes).toEqual([{ entityType: 'user', entityId: user.id }]);
      expect(updated).toEqual({ ...user, displayName: 'Ada Lovelace', accountEnabled: false });
      const stored = await directory.store.users.findById(user.id);
      expect(await argon2Verify(stored?.passwordHash ?? '', 'second-password')).toBe(true);
      expect(await argon2Verify(stored?.passwordHash ?? '', 'first-password')).toBe(false);
    });

    test('create with accountEnabled false stores a user unable to sign in, in one write', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const { result: user, changes } = await changesOf(() =>
        directory.users.create({
          tenant: g.tenantId,
          userPrincipalName: `off@${g.domain}`,
          password: 'off-password',
          accountEnabled: false,
        }),
      );
      expect(changes).toEqual([{ entityType: 'user', entityId: user.id }]);
      expect((await directory.users.get(g.tenantId, user.id)).accountEnabled).toBe(false);
    });

    test('a user of another tenant, or none, is not found there', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const other = await seedClientCredentialsScenario(directory);
      const user = await directory.users.create({
        tenant: g.tenantId,
        userPrincipalName: `bob@${g.domain}`,
        password: 'bob-password',
      });
      for (const id of [user.id, `bob@${g.domain}`]) {
        await expectDirectoryError(
          directory.users.update(other.tenantId, id, { accountEnabled: false }),
          'not_found',
          `User '${id}' not found in tenant '${other.tenantId}'.`,
        );
        await expectDirectoryError(
          directory.users.delete(other.tenantId, id),
          'not_found',
          `User '${id}' not found in tenant '${other.tenantId}'.`,
        );
      }
      const ghost = randomUUID();
      await expectDirectoryError(
        directory.users.delete(g.tenantId, ghost),
        'not_found',
        `User '${ghost}' not found in tenant '${g.tenantId}'.`,
      );
      expect((await directory.users.get(g.tenantId, user.id)).accountEnabled).toBe(true);
    });

    test('delete removes the user, its app role assignments and the grants it gave', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const api = await directory.applications.require(g.api.appId);
      const withUserRole = await directory.applications.update(api.appId, (current) => ({
        appRoles: [
          ...current.appRoles,
          {
            id: randomUUID(),
            value: 'Reader',
            displayName: 'Reader',
            description: 'Reader',
            allowedMemberTypes: ['User'],
            isEnabled: true,
          },
        ],
        api: {
          ...current.api,
          oauth2PermissionScopes: [
            {
              id: randomUUID(),
              value: 'Data.Read',
              type: 'User',
              adminConsentDisplayName: 'Read',
              adminConsentDescription: 'Read',
              userConsentDisplayName: 'Read',
              userConsentDescription: 'Read',
              isEnabled: true,
            },
          ],
        },
      }));
      expect(withUserRole.appRoles.map((r) => r.value)).toContain('Reader');
      const user = await directory.users.create({
        tenant: g.tenantId,
        userPrincipalName: `cy@${g.domain}`,
        password: 'cy-password',
      });
      const assignment = await directory.grants.assignAppRoleToUser({
        tenant: g.tenantId,
        userPrincipalName: user.userPrincipalName,
        resource: g.api.appId,
        role: 'Reader',
      });
      await directory.grants.recordConsent({
        tenantId: g.tenantId,
        userId: user.id,
        forOrganization: false,
        items: [{ clientAppId: g.daemon.appId, resourceAppId: g.api.appId, scopes: ['Data.Read'] }],
      });
      expect(await rowCount('oauth2_permission_grants', 'principal_id', user.id)).toBe(1);

      const { changes } = await changesOf(() => directory.users.delete(g.tenantId, user.id));
      const clientSp = await directory.servicePrincipals.get(g.tenantId, { appId: g.daemon.appId });
      expect(sorted(changes)).toEqual(
        sorted([
          { entityType: 'appRoleAssignment', entityId: user.id },
          { entityType: 'oauth2PermissionGrant', entityId: clientSp.id },
          { entityType: 'user', entityId: user.id },
        ]),
      );
      expect(await directory.store.users.findById(user.id)).toBeUndefined();
      expect(await directory.store.appRoleAssignments.findById(assignment.id)).toBeUndefined();
      expect(await rowCount('app_role_assignments', 'principal_id', user.id)).toBe(0);
      expect(await rowCount('oauth2_permission_grants', 'principal_id', user.id)).toBe(0);
      expect((await directory.users.list({ tenant: g.tenantId })).items.map((u) => u.id)).not.toContain(
        user.id,
      );
    });
  });

  describe('a user’s tokens', () => {
    /** A refresh token of `upn` at the scenario's web app: signed in at server A, redeemed there. */
    async function refreshTokenOf(sc: InteractiveScenario, upn: string): Promise<string> {
      const authorize = `${a.url}/${sc.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
        client_id: sc.web.appId,
        response_type: 'code',
        redirect_uri: sc.web.redirectUri,
        scope: 'openid offline_access',
        state: 'st',
      }).toString()}`;
      const back = await signInThrough(new TestBrowser(), authorize, {
        userName: upn,
        password: sc.password,
      });
      const code = new URL(back.location ?? '').searchParams.get('code') ?? '';
      const redeemed = await postForm(`${a.url}/${sc.tenantId}/oauth2/v2.0/token`, {
        client_id: sc.web.appId,
        client_secret: sc.web.secret,
        grant_type: 'authorization_code',
        code,
        redirect_uri: sc.web.redirectUri,
      });
      expect(redeemed.status).toBe(200);
      return ((await redeemed.json()) as { refresh_token: string }).refresh_token;
    }

    function refreshOnB(sc: InteractiveScenario, refreshToken: string) {
      return postForm(`${b.url}/${sc.tenantId}/oauth2/v2.0/token`, {
        client_id: sc.web.appId,
        client_secret: sc.web.secret,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
    }

    test('a disabled or deleted user’s refresh tokens stop working on every node; a bystander’s do not', async () => {
      const sc = await seedInteractiveScenario(directory);
      const bob = await directory.users.create({
        tenant: sc.tenantId,
        userPrincipalName: `bob@${sc.domain}`,
        password: sc.password,
      });
      const alices = await refreshTokenOf(sc, sc.user.userPrincipalName);
      const bobs = await refreshTokenOf(sc, bob.userPrincipalName);
      await expectOnB(() => refreshOnB(sc, bobs), 200);

      await directory.users.update(sc.tenantId, bob.id, { accountEnabled: false });
      await expectOnB(() => refreshOnB(sc, bobs), 400, [50057]);
      await directory.users.update(sc.tenantId, bob.id, { accountEnabled: true });
      await directory.users.delete(sc.tenantId, bob.id);
      await expectOnB(() => refreshOnB(sc, bobs), 400, [50057]);
      await expectOnB(() => refreshOnB(sc, alices), 200);
    });
  });

  describe('applications and credentials', () => {
    test('a removed secret no longer authenticates on any node; the certificate still does', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const second = await directory.credentials.addPassword({
        appId: g.daemon.appId,
        displayName: 'second',
      });
      await expectOnB(() => tokenWithSecret(g, second.secretText), 200);
      const { changes } = await changesOf(() =>
        directory.credentials.removePassword(g.daemon.appId, second.credential.keyId),
      );
      expect(changes).toEqual([{ entityType: 'application', entityId: g.daemon.appId }]);
      await expectOnB(() => tokenWithSecret(g, second.secretText), 401, [7000215]);
      await expectOnB(() => tokenWithSecret(g), 200);
      await expectOnB(() => tokenWithCertificate(g), 200);
      await expectDirectoryError(
        directory.credentials.removePassword(g.daemon.appId, second.credential.keyId),
        'not_found',
        `The application has no client secret '${second.credential.keyId}'.`,
      );
    });

    test('a removed certificate no longer authenticates on any node; the secret still does', async () => {
      const g = await seedClientCredentialsScenario(directory);
      await expectOnB(() => tokenWithCertificate(g), 200);
      const [key] = (await directory.applications.require(g.daemon.appId)).keyCredentials;
      await directory.credentials.removeKey(g.daemon.appId, key?.keyId ?? '');
      await expectOnB(() => tokenWithCertificate(g), 401, [700027]);
      await expectOnB(() => tokenWithSecret(g), 200);
      await expectDirectoryError(
        directory.credentials.removeKey(g.daemon.appId, key?.keyId ?? ''),
        'not_found',
        `The application has no certificate '${key?.keyId ?? ''}'.`,
      );
      await expectDirectoryError(
        directory.credentials.removeKey(DIRECTORY_APP_ID, randomUUID()),
        'invalid',
        'The built-in directory application cannot be changed.',
      );
    });

    test('updateProperties renames and re-points App ID URIs; the old URI stops naming the resource', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const other = await seedClientCredentialsScenario(directory);
      const moved = `api://${g.domain}/moved`;
      await expectDirectoryError(
        directory.applications.updateProperties(g.api.appId, {
          identifierUris: [moved, moved.toUpperCase()],
        }),
        'invalid',
        'Duplicate App ID URIs (they compare case-insensitively).',
      );
      await expectDirectoryError(
        directory.applications.updateProperties(g.api.appId, { identifierUris: [other.api.identifierUri] }),
        'conflict',
        `The App ID URI '${other.api.identifierUri}' is already used by another application.`,
      );
      await expectDirectoryError(
        directory.applications.updateProperties(g.api.appId, { displayName: ' ' }),
        'invalid',
        'An application needs a display name.',
      );
      // Keeping its own URI is no conflict.
      const same = await directory.applications.updateProperties(g.api.appId, {
        identifierUris: [g.api.identifierUri],
      });
      expect(same.identifierUris).toEqual([g.api.identifierUri]);

      const { result, changes } = await changesOf(() =>
        directory.applications.updateProperties(g.api.appId, {
          displayName: 'Renamed API',
          signInAudience: 'AzureADMultipleOrgs',
          identifierUris: [moved],
        }),
      );
      expect(changes).toEqual([{ entityType: 'application', entityId: g.api.appId }]);
      expect(await directory.applications.require(g.api.appId)).toEqual(result);
      expect(result).toMatchObject({
        displayName: 'Renamed API',
        signInAudience: 'AzureADMultipleOrgs',
        identifierUris: [moved],
      });
      await expectOnB(() => tokenWithSecret(g), 400, [500011]);
      await expectOnB(() => tokenWithSecret(g, g.daemon.secret, `${moved}/.default`), 200);
    });

    test('a deleted client app gets no token on any node, and every row hanging off it is gone', async () => {
      const g = await seedClientCredentialsScenario(directory);
      await expectOnB(() => tokenWithSecret(g), 200);
      const app = await directory.applications.get(g.tenantId, { appId: g.daemon.appId });
      await directory.applications.delete(g.tenantId, g.daemon.appId);
      await expectOnB(() => tokenWithSecret(g), 400, [700016]);
      for (const [table, column, value] of [
        ['applications', 'id', app.id],
        ['password_credentials', 'application_id', app.id],
        ['key_credentials', 'application_id', app.id],
        ['service_principals', 'app_id', app.appId],
        ['app_role_assignments', 'principal_id', g.daemon.servicePrincipalId],
      ] as const) {
        expect({ table, rows: await rowCount(table, column, value) }).toEqual({ table, rows: 0 });
      }
      await expectDirectoryError(
        directory.applications.get(g.tenantId, { id: app.id }),
        'not_found',
        `Application '${app.id}' not found in tenant '${g.tenantId}'.`,
      );
      expect((await directory.applications.list({ tenant: g.tenantId })).items.map((x) => x.appId)).toEqual([
        g.api.appId,
      ]);
    });

    test('a deleted resource app frees its App ID URI and gets no tokens issued for it', async () => {
      const g = await seedClientCredentialsScenario(directory);
      await expectOnB(() => tokenWithSecret(g), 200);
      await directory.applications.delete(g.tenantId, g.api.appId);
      await expectOnB(() => tokenWithSecret(g), 400, [500011]);
      expect(await directory.store.applications.isIdentifierUriTaken(g.api.identifierUri)).toBe(false);
      const again = await directory.applications.create({
        tenant: g.tenantId,
        displayName: 'API again',
        identifierUris: [g.api.identifierUri],
        appRoles: ['Data.Read.All'],
      });
      expect(again.application.identifierUris).toEqual([g.api.identifierUri]);
    });

    test('an application of another tenant, or the built-in one, cannot be deleted', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const other = await seedClientCredentialsScenario(directory);
      await expectDirectoryError(
        directory.applications.delete(other.tenantId, g.daemon.appId),
        'not_found',
        `Application '${g.daemon.appId}' not found in tenant '${other.tenantId}'.`,
      );
      await expectDirectoryError(
        directory.applications.delete(g.tenantId, DIRECTORY_APP_ID),
        'invalid',
        'The built-in directory application cannot be changed.',
      );
      await expectOnB(() => tokenWithSecret(g), 200);
    });
  });

  describe('service principals', () => {
    test('create: a multi-tenant app in another tenant, a single-tenant one only at home, never twice', async () => {
      const home = await seedClientCredentialsScenario(directory);
      const guest = await seedClientCredentialsScenario(directory);
      const multi = await directory.applications.create({
        tenant: home.tenantId,
        displayName: 'Multi',
        signInAudience: 'AzureADMultipleOrgs',
      });
      const sp = await directory.servicePrincipals.create(guest.tenantId, multi.application.appId);
      expect(sp).toEqual({
        id: expect.any(String) as string,
        appId: multi.application.appId,
        tenantId: guest.tenantId,
        displayName: 'Multi',
        appOwnerOrganizationId: home.tenantId,
        accountEnabled: true,
      });
      expect(
        await directory.servicePrincipals.get(guest.tenantId, { appId: multi.application.appId }),
      ).toEqual(sp);
      expect(await directory.servicePrincipals.get(guest.tenantId, { id: sp.id })).toEqual(sp);
      await expectDirectoryError(
        directory.servicePrincipals.create(guest.tenantId, multi.application.appId),
        'conflict',
        `The application '${multi.application.appId}' already has a service principal in tenant '${guest.tenantId}'.`,
      );
      await expectDirectoryError(
        directory.servicePrincipals.create(guest.tenantId, home.daemon.appId),
        'invalid',
        `The application '${home.daemon.appId}' is single-tenant: it can have a service principal only in its home tenant.`,
      );
      await expectDirectoryError(
        directory.servicePrincipals.get(home.tenantId, { id: sp.id }),
        'not_found',
        `Service principal '${sp.id}' not found in tenant '${home.tenantId}'.`,
      );
    });

    test('update(accountEnabled) stops and restarts the client’s tokens on every node', async () => {
      const g = await seedClientCredentialsScenario(directory);
      await directory.servicePrincipals.update(g.tenantId, g.daemon.servicePrincipalId, {
        accountEnabled: false,
      });
      await expectOnB(() => tokenWithSecret(g), 400, [7000112]);
      const enabled = await directory.servicePrincipals.update(g.tenantId, g.daemon.servicePrincipalId, {
        accountEnabled: true,
      });
      expect(enabled.accountEnabled).toBe(true);
      await expectOnB(() => tokenWithSecret(g), 200);
      const graph = await directory.servicePrincipals.get(g.tenantId, { appId: DIRECTORY_APP_ID });
      await expectDirectoryError(
        directory.servicePrincipals.update(g.tenantId, graph.id, { accountEnabled: false }),
        'denied',
        "The built-in directory API's service principal cannot be changed.",
      );
    });

    test('delete removes its assignments and grants; created again, it starts with none', async () => {
      const g = await seedClientCredentialsScenario(directory);
      await expectOnB(() => tokenWithSecret(g), 200);
      await directory.servicePrincipals.delete(g.tenantId, g.daemon.servicePrincipalId);
      await expectOnB(() => tokenWithSecret(g), 400, [700016]);
      expect(await rowCount('app_role_assignments', 'principal_id', g.daemon.servicePrincipalId)).toBe(0);
      const again = await directory.servicePrincipals.create(g.tenantId, g.daemon.appId);
      await expectOnB(async () => {
        const response = await tokenWithSecret(g);
        const body = (await response.json()) as { access_token?: string };
        const claims = decodeJwt(body.access_token ?? '');
        return new Response(null, {
          status: claims.oid === again.id && claims.roles === undefined ? 204 : 500,
        });
      }, 204);
    });

    test('list pages a tenant’s service principals by id', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const first = await directory.servicePrincipals.list({ tenant: g.tenantId, top: 2 });
      const rest = await directory.servicePrincipals.list({
        tenant: g.tenantId,
        top: 2,
        after: first.next ?? '',
      });
      const ids = [...first.items, ...rest.items].map((sp) => sp.id);
      expect(first.items).toHaveLength(2);
      expect(rest.next).toBeUndefined();
      expect(ids).toEqual([...ids].sort());
      expect(new Set([...first.items, ...rest.items].map((sp) => sp.appId))).toEqual(
        new Set([DIRECTORY_APP_ID, g.api.appId, g.daemon.appId]),
      );
    });
  });

  describe('grants', () => {
    test('app role assignments: by ids, listed by principal and resource, revoked on every node', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const api = await directory.servicePrincipals.get(g.tenantId, { appId: g.api.appId });
      const write = (await directory.applications.require(g.api.appId)).appRoles.find(
        (r) => r.value === 'Data.Write.All',
      );
      const added = await directory.grants.assignAppRoleById({
        tenant: g.tenantId,
        principalId: g.daemon.servicePrincipalId,
        resourceId: api.id,
        appRoleId: write?.id ?? '',
      });
      const roles = async () => {
        const body = (await (await tokenWithSecret(g)).json()) as { access_token?: string };
        return [...((decodeJwt(body.access_token ?? '').roles as string[] | undefined) ?? [])].sort();
      };
      await vi.waitFor(
        async () => {
          expect(await roles()).toEqual(['Data.Read.All', 'Data.Write.All']);
        },
        {
          timeout: 4000,
          interval: 50,
        },
      );
      const held = await directory.grants.listAppRoleAssignmentsOf({
        tenant: g.tenantId,
        principalId: g.daemon.servicePrincipalId,
        top: 1,
      });
      const heldRest = await directory.grants.listAppRoleAssignmentsOf({
        tenant: g.tenantId,
        principalId: g.daemon.servicePrincipalId,
        after: held.next ?? '',
      });
      expect(held.items).toHaveLength(1);
      expect(heldRest.next).toBeUndefined();
      expect([...held.items, ...heldRest.items].map((x) => x.id)).toContain(added.id);
      const onApi = await directory.grants.listAppRoleAssignedTo({ tenant: g.tenantId, resourceId: api.id });
      expect(onApi.items.map((x) => x.appRoleId).sort()).toEqual(
        [...held.items, ...heldRest.items].map((x) => x.appRoleId).sort(),
      );

      const { changes } = await changesOf(() =>
        directory.grants.removeAppRoleAssignment(g.tenantId, added.id),
      );
      expect(changes).toEqual([{ entityType: 'appRoleAssignment', entityId: g.daemon.servicePrincipalId }]);
      await vi.waitFor(
        async () => {
          expect(await roles()).toEqual(['Data.Read.All']);
        },
        {
          timeout: 4000,
          interval: 50,
        },
      );
      await expectDirectoryError(
        directory.grants.removeAppRoleAssignment(g.tenantId, added.id),
        'not_found',
        `App role assignment '${added.id}' not found in tenant '${g.tenantId}'.`,
      );
    });

    test('app role assignments are refused across tenants and for the wrong member type', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const other = await seedClientCredentialsScenario(directory);
      const api = await directory.servicePrincipals.get(g.tenantId, { appId: g.api.appId });
      const [read] = (await directory.applications.require(g.api.appId)).appRoles;
      const [assignment] = (
        await directory.grants.listAppRoleAssignmentsOf({
          tenant: g.tenantId,
          principalId: g.daemon.servicePrincipalId,
        })
      ).items;
      const user = await directory.users.create({
        tenant: g.tenantId,
        userPrincipalName: `dee@${g.domain}`,
        password: 'dee-password',
      });
      await expectDirectoryError(
        directory.grants.removeAppRoleAssignment(other.tenantId, assignment?.id ?? ''),
        'not_found',
        `App role assignment '${assignment?.id ?? ''}' not found in tenant '${other.tenantId}'.`,
      );
      await expectDirectoryError(
        directory.grants.assignAppRoleById({
          tenant: other.tenantId,
          principalId: other.daemon.servicePrincipalId,
          resourceId: api.id,
          appRoleId: read?.id ?? '',
        }),
        'not_found',
        `The resource service principal '${api.id}' is not in tenant '${other.tenantId}'.`,
      );
      await expectDirectoryError(
        directory.grants.assignAppRoleById({
          tenant: g.tenantId,
          principalId: user.id,
          resourceId: api.id,
          appRoleId: read?.id ?? '',
        }),
        'invalid',
        "The app role 'Data.Read.All' cannot be assigned to users.",
      );
      await expectDirectoryError(
        directory.grants.listAppRoleAssignmentsOf({ tenant: other.tenantId, principalId: user.id }),
        'not_found',
        `Principal '${user.id}' not found in tenant '${other.tenantId}'.`,
      );
    });

    test('delegated permission grants: create, update, delete, with their validation', async () => {
      const g = await seedClientCredentialsScenario(directory);
      const elsewhere = await seedClientCredentialsScenario(directory);
      const client = await directory.servicePrincipals.get(g.tenantId, { appId: g.daemon.appId });
      const graph = await directory.servicePrincipals.get(g.tenantId, { appId: DIRECTORY_APP_ID });
      const user = await directory.users.create({
        tenant: g.tenantId,
        userPrincipalName: `eve@${g.domain}`,
        password: 'eve-password',
      });
      const base = { tenant: g.tenantId, clientId: client.id, resourceId: graph.id };
      for (const [input, code, message] of [
        [
          { ...base, consentType: 'AllPrincipals', principalId: user.id, scope: 'User.Read' },
          'invalid',
          'An AllPrincipals grant has no principalId.',
        ],
        [
          { ...base, consentType: 'Principal', scope: 'User.Read' },
          'invalid',
          'A Principal grant needs the principalId of the user.',
        ],
        [
          { ...base, consentType: 'Principal', principalId: client.id, scope: 'User.Read' },
          'invalid',
          'The principalId of a Principal grant names a user.',
        ],
        [
          { ...base, consentType: 'AllPrincipals', scope: 'User.Read Nope.All' },
          'invalid',
          "The resource 'Tessera Directory' has no delegated scope 'Nope.All'.",
        ],
        [
          { ...base, consentType: 'AllPrincipals', clientId: randomUUID(), scope: 'User.Read' },
          'not_found',
          undefined,
        ],
      ] as const) {
        const expected =
          message ?? `The client service principal '${input.clientId}' is not in tenant '${g.tenantId}'.`;
        await expectDirectoryError(directory.grants.createPermissionGrant(input), code, expected);
      }
      expect((await directory.grants.listPermissionGrants({ tenant: g.tenantId })).items).toEqual([]);

      const { result: grant, changes } = await changesOf(() =>
        directory.grants.createPermissionGrant({
          ...base,
          consentType: 'Principal',
          principalId: user.id,
          scope: ' user.read  User.Read.All ',
        }),
      );
      expect(changes).toEqual([{ entityType: 'oauth2PermissionGrant', entityId: client.id }]);
      expect(grant).toEqual({
        id: expect.any(String) as string,
        tenantId: g.tenantId,
        clientId: client.id,
        consentType: 'Principal',
        principalId: user.id,
        resourceId: graph.id,
        scope: 'User.Read User.Read.All',
      });
      expect(await directory.grants.getPermissionGrant(g.tenantId, grant.id)).toEqual(grant);
      await expectDirectoryError(
        directory.grants.createPermissionGrant({
          ...base,
          consentType: 'Principal',
          principalId: user.id,
          scope: '',
        }),
        'conflict',
        'The client already has a grant of this consent type and principal on the resource.',
      );
      const updated = await directory.grants.updatePermissionGrant(g.tenantId, grant.id, 'User.Read');
      expect(updated).toEqual({ ...grant, scope: 'User.Read' });
      expect(await directory.store.permissionGrants.listBetween(client.id, graph.id)).toEqual([updated]);
      await expectDirectoryError(
        directory.grants.getPermissionGrant(elsewhere.tenantId, grant.id),
        'not_found',
        `Permission grant '${grant.id}' not found in tenant '${elsewhere.tenantId}'.`,
      );

      const all = await directory.grants.createPermissionGrant({
        ...base,
        consentType: 'AllPrincipals',
        scope: 'User.Read.All',
      });
      const page = await directory.grants.listPermissionGrants({ tenant: g.tenantId, top: 1 });
      expect(page.items).toHaveLength(1);
      expect(page.next).toBeDefined();
      const ofClient = await directory.grants.listPermissionGrantsOf({
        tenant: g.tenantId,
        clientId: client.id,
      });
      expect(ofClient.items.map((x) => x.id).sort()).toEqual([grant.id, all.id].sort());
      expect(
        (await directory.grants.listPermissionGrantsOf({ tenant: g.tenantId, clientId: graph.id })).items,
      ).toEqual([]);
      await directory.grants.deletePermissionGrant(g.tenantId, grant.id);
      await directory.grants.deletePermissionGrant(g.tenantId, all.id);
      expect(await directory.store.permissionGrants.listBetween(client.id, graph.id)).toEqual([]);
      await expectDirectoryError(
        directory.grants.deletePermissionGrant(g.tenantId, all.id),
        'not_found',
        `Permission grant '${all.id}' not found in tenant '${g.tenantId}'.`,
      );
    });
  });
});
