import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
  postgresAvailable,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A tenant-A token never sees a tenant-B object, in every collection of /v1.0 and every navigation under an
// object: A's listings hold none of B's ids, B's ids (and alternate keys) answer A with 404, and B's objects'
// navigations answer A with 404; nor changes one: A's PATCH, DELETE and actions on B's objects answer 404 and
// leave them as they were. Table-driven: a collection, navigation or write added later is one row. Both tenants
// are alike and made through real flows (a user's sign-in with consent gives a delegated grant and sign-in log
// entries; every directory write gives audit entries), so each of B's collections is checked non-empty first.

const GRAPH = 'https://graph.microsoft.com';
const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

/** Every permission of the directory API the tenants' daemons hold: each can read (and write) everything. */
const DAEMON_ROLES = [
  'Directory.Read.All',
  'User.ReadWrite.All',
  'Application.ReadWrite.All',
  'AppRoleAssignment.ReadWrite.All',
  'DelegatedPermissionGrant.ReadWrite.All',
  'AuditLog.Read.All',
];

type DirectoryObject = Record<string, unknown> & { readonly id: string };

/** A top-level collection: its path, and the other ways Graph addresses one of its objects. */
interface Collection {
  readonly path: string;
  readonly alternateKeys?: readonly ((object: DirectoryObject) => string)[];
}

/** A navigation under an object of `parent` (`{parent}/{id}/{name}`). */
interface Navigation {
  readonly parent: string;
  readonly name: string;
}

const COLLECTIONS: readonly Collection[] = [
  { path: '/v1.0/users', alternateKeys: [(user) => `/v1.0/users/${String(user.userPrincipalName)}`] },
  {
    path: '/v1.0/applications',
    alternateKeys: [(app) => `/v1.0/applications(appId='${String(app.appId)}')`],
  },
  {
    path: '/v1.0/servicePrincipals',
    alternateKeys: [(sp) => `/v1.0/servicePrincipals(appId='${String(sp.appId)}')`],
  },
  { path: '/v1.0/oauth2PermissionGrants' },
  { path: '/v1.0/auditLogs/directoryAudits' },
  { path: '/v1.0/auditLogs/signIns' },
];

const NAVIGATIONS: readonly Navigation[] = [
  { parent: '/v1.0/users', name: 'appRoleAssignments' },
  { parent: '/v1.0/servicePrincipals', name: 'appRoleAssignments' },
  { parent: '/v1.0/servicePrincipals', name: 'appRoleAssignedTo' },
  { parent: '/v1.0/servicePrincipals', name: 'oauth2PermissionGrants' },
  { parent: '/v1.0/applications', name: 'owners' },
];

/** A change tenant A's token attempts on one of tenant B's objects of `collection` (`{collection}/{id}[/action]`). */
interface Write {
  readonly collection: string;
  readonly method: 'PATCH' | 'DELETE' | 'POST';
  readonly action?: string;
  readonly body?: unknown;
}

const WRITES: readonly Write[] = [
  { collection: '/v1.0/users', method: 'PATCH', body: { displayName: 'Changed by tenant A' } },
  { collection: '/v1.0/users', method: 'DELETE' },
  { collection: '/v1.0/applications', method: 'PATCH', body: { displayName: 'Changed by tenant A' } },
  {
    collection: '/v1.0/applications',
    method: 'POST',
    action: 'addPassword',
    body: { passwordCredential: {} },
  },
  { collection: '/v1.0/applications', method: 'DELETE' },
  { collection: '/v1.0/servicePrincipals', method: 'PATCH', body: { accountEnabled: false } },
  { collection: '/v1.0/servicePrincipals', method: 'DELETE' },
  { collection: '/v1.0/oauth2PermissionGrants', method: 'PATCH', body: { scope: 'Files.Read' } },
  { collection: '/v1.0/oauth2PermissionGrants', method: 'DELETE' },
];

/** The directory API's appId: its service principal is in every tenant, and not what these writes aim at. */
const DIRECTORY_APP_ID = '00000003-0000-0000-c000-000000000000';

interface Tenant {
  readonly scenario: InteractiveScenario;
  readonly daemon: { readonly appId: string; readonly secret: string };
  token: string;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

describe.each(dialects)('tenant isolation of /v1.0 on $name', ({ database }) => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;
  /** Each collection's objects as each tenant lists them, by collection path. */
  const listed = new Map<string, { a: DirectoryObject[]; b: DirectoryObject[] }>();

  async function call(path: string, token: string, method = 'GET', body?: unknown): Promise<Answer> {
    const response = await fetch(new URL(path, server.url), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  /** Every object of a collection the token sees, following `@odata.nextLink`. */
  async function listAll(path: string, token: string): Promise<DirectoryObject[]> {
    const objects: DirectoryObject[] = [];
    let next: string | undefined = `${path}?$top=999`;
    while (next !== undefined) {
      const answer = await call(next, token);
      expect({ path: next, status: answer.status }).toEqual({ path: next, status: 200 });
      objects.push(...(answer.body.value as DirectoryObject[]));
      next = answer.body['@odata.nextLink'] as string | undefined;
    }
    return objects;
  }

  async function seedTenant(): Promise<Tenant> {
    const scenario = await seedInteractiveScenario(server.directory);
    const app = await server.directory.applications.create({
      tenant: scenario.tenantId,
      displayName: 'Directory daemon',
    });
    const secret = await server.directory.credentials.addPassword({ appId: app.application.appId });
    for (const role of DAEMON_ROLES) {
      await server.directory.grants.grantAppRole({
        tenant: scenario.tenantId,
        clientAppId: app.application.appId,
        resource: GRAPH,
        role,
      });
    }
    await server.directory.applications.addOwner(
      scenario.tenantId,
      { appId: scenario.api.appId },
      scenario.admin.id,
    );
    // An app role assigned to a user, so that users/{id}/appRoleAssignments has something to hide.
    const roles = await server.directory.applications.create({
      tenant: scenario.tenantId,
      displayName: 'Reports',
      userRoles: ['Reports.Reader'],
    });
    await server.directory.grants.assignAppRoleToUser({
      tenant: scenario.tenantId,
      userPrincipalName: scenario.user.userPrincipalName,
      resource: roles.application.appId,
      role: 'Reports.Reader',
    });
    return { scenario, daemon: { appId: app.application.appId, secret: secret.secretText }, token: '' };
  }

  /** Alice signs in through the web app and consents to Files.Read: sign-in log entries and a grant. */
  async function signIn(tenant: Tenant): Promise<void> {
    const { scenario } = tenant;
    const redirect = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, scenario.tenantId, scenario.web, {
        scope: `openid ${scenario.api.identifierUri}/Files.Read`,
      }),
      { userName: scenario.user.userPrincipalName, password: scenario.password },
    );
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
    const redeemed = await postForm(
      endpointUrl(server.url, scenario.tenantId, 'token'),
      authorizationCodeFields({ ...scenario.web }, code),
    );
    expect(redeemed.status).toBe(200);
  }

  async function daemonToken(tenant: Tenant): Promise<string> {
    const response = await postForm(endpointUrl(server.url, tenant.scenario.tenantId, 'token'), {
      grant_type: 'client_credentials',
      client_id: tenant.daemon.appId,
      client_secret: tenant.daemon.secret,
      scope: `${GRAPH}/.default`,
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedTenant();
    b = await seedTenant();
    await server.server.refresh();
    for (const tenant of [a, b]) {
      await signIn(tenant);
      tenant.token = await daemonToken(tenant);
    }
    // The sign-in log is written in batches; write what is buffered now.
    await server.directory.signIns.flush();
  });
  afterAll(() => server.close());

  for (const collection of COLLECTIONS) {
    it(`${collection.path}: A lists none of B's objects, and B's ids answer A with 404`, async () => {
      const ofB = await listAll(collection.path, b.token);
      const ofA = await listAll(collection.path, a.token);
      listed.set(collection.path, { a: ofA, b: ofB });
      // Both tenants have objects here, or the check below would prove nothing.
      expect(ofB.length).toBeGreaterThan(0);
      expect(ofA.length).toBeGreaterThan(0);
      const idsOfB = new Set(ofB.map((object) => object.id));
      expect(ofA.filter((object) => idsOfB.has(object.id))).toEqual([]);
      for (const object of ofB) {
        const answer = await call(`${collection.path}/${object.id}`, a.token);
        expect({ id: object.id, status: answer.status, error: answer.body.error }).toMatchObject({
          id: object.id,
          status: 404,
          error: { code: 'Request_ResourceNotFound' },
        });
        expect((await call(`${collection.path}/${object.id}`, b.token)).status).toBe(200);
        for (const key of collection.alternateKeys ?? []) {
          const path = key(object);
          const byKey = await call(path, a.token);
          // An alternate key may name A's own object of the same key (the directory API's service principal
          // exists in every tenant under one appId): never B's.
          if (byKey.status === 200) expect({ path, id: byKey.body.id }).not.toEqual({ path, id: object.id });
          else expect({ path, status: byKey.status }).toEqual({ path, status: 404 });
        }
      }
    });
  }

  for (const write of WRITES) {
    const route = `${write.method} ${write.collection}/{id}${write.action === undefined ? '' : `/${write.action}`}`;
    it(`${route} with A's token on B's object: 404, and B's object is unchanged`, async () => {
      const target = (await listAll(write.collection, b.token)).find((o) => o.appId !== DIRECTORY_APP_ID);
      expect(target).toBeDefined();
      const path = `${write.collection}/${target?.id ?? ''}`;
      const before = await call(path, b.token);
      expect(before.status).toBe(200);
      const answer = await call(
        write.action === undefined ? path : `${path}/${write.action}`,
        a.token,
        write.method,
        write.body,
      );
      expect({ route, status: answer.status, error: answer.body.error }).toMatchObject({
        route,
        status: 404,
        error: { code: 'Request_ResourceNotFound' },
      });
      expect(await call(path, b.token)).toEqual(before);
    });
  }

  for (const navigation of NAVIGATIONS) {
    const route = `${navigation.parent}/{id}/${navigation.name}`;
    it(`${route}: B's objects' ${navigation.name} answer A with 404, and A's hold none of B's`, async () => {
      const parents = listed.get(navigation.parent) ?? {
        a: await listAll(navigation.parent, a.token),
        b: await listAll(navigation.parent, b.token),
      };
      const seenByB = new Set<string>();
      for (const parent of parents.b) {
        const path = `${navigation.parent}/${parent.id}/${navigation.name}`;
        for (const object of await listAll(path, b.token)) seenByB.add(object.id);
        const answer = await call(path, a.token);
        expect({ path, status: answer.status, error: answer.body.error }).toMatchObject({
          path,
          status: 404,
          error: { code: 'Request_ResourceNotFound' },
        });
      }
      expect(seenByB.size).toBeGreaterThan(0);
      for (const parent of parents.a) {
        const path = `${navigation.parent}/${parent.id}/${navigation.name}`;
        const leaked = (await listAll(path, a.token)).filter((object) => seenByB.has(object.id));
        expect({ path, leaked }).toEqual({ path, leaked: [] });
      }
    });
  }
});
