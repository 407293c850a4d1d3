import { startTestServer, type ClientCredentialsScenario, type TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { builtinDirectoryApplication, DIRECTORY_APP_ID } from '../src/directory/builtin-directory-app.js';
import {
  callApi,
  DIALECTS,
  expectGraphError,
  graphAppToken,
  seedDirectoryClient,
  seedScenarioWith,
  type Answer,
} from './support/management-api.js';

// /v1.0/servicePrincipals, servicePrincipals(appId='…'), …/appRoleAssignedTo and …/appRoleAssignments of service
// principals and users, over HTTPS against a real server on SQLite and PostgreSQL: Graph's JSON, every refusal
// with its status and code (and nothing written), tenant isolation, and an application permission granted
// through the API reaching the client's next client-credentials token.

const roleId = (value: string): string => {
  const role = builtinDirectoryApplication.appRoles.find((r) => r.value === value);
  if (role === undefined) throw new Error(`no directory role ${value}`);
  return role.id;
};
const NOT_FOUND = 'Request_ResourceNotFound';
const BAD_REQUEST = 'Request_BadRequest';
const DENIED = 'Authorization_RequestDenied';

describe.each(DIALECTS)('management API service principals on $name', ({ database }) => {
  let server: TestServer;
  /** Tenant A: its daemon may manage applications, service principals and app role assignments. */
  let a: ClientCredentialsScenario;
  /** Tenant B: the same permissions in another tenant. */
  let b: ClientCredentialsScenario;
  /** Tenant R: its daemon may only read applications. */
  let r: ClientCredentialsScenario;
  /** Tenant N: its daemon holds no directory permission. */
  let n: ClientCredentialsScenario;
  const tokens = new Map<string, string>();
  const token = (name: string) => tokens.get(name) ?? '';
  const call = (
    path: string,
    as: string | undefined,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> => callApi(server, path, as === undefined ? undefined : token(as), init);
  /** The built-in directory API's service principal in a tenant. */
  const graphSp = async (tenantId: string) =>
    server.directory.servicePrincipals.get(tenantId, { appId: DIRECTORY_APP_ID });
  const spCount = async (tenantId: string) =>
    (await server.directory.servicePrincipals.list({ tenant: tenantId, top: 999 })).items.length;

  beforeAll(async () => {
    server = await startTestServer({ database });
    const managers = ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All'];
    a = await seedScenarioWith(server, managers);
    b = await seedScenarioWith(server, managers);
    r = await seedScenarioWith(server, ['Application.Read.All']);
    n = await seedScenarioWith(server, []);
    for (const [name, scenario] of [
      ['a', a],
      ['b', b],
      ['r', r],
      ['n', n],
    ] as const) {
      tokens.set(name, (await graphAppToken(server, scenario.tenantId, scenario.daemon)).token);
    }
  });
  afterAll(() => server.close());

  describe('GET /v1.0/servicePrincipals', () => {
    it('lists the tenant’s service principals in Graph’s shape, paged; tenant B never appears', async () => {
      const all = await call('/v1.0/servicePrincipals', 'a');
      expect(all.status).toBe(200);
      expect(all.body['@odata.context']).toBe(`${server.url}/v1.0/$metadata#servicePrincipals`);
      const value = all.body.value as Record<string, unknown>[];
      expect(new Set(value.map((sp) => sp.appId))).toEqual(
        new Set([DIRECTORY_APP_ID, a.api.appId, a.daemon.appId]),
      );
      const api = value.find((sp) => sp.appId === a.api.appId);
      expect(api).toMatchObject({
        accountEnabled: true,
        appDisplayName: 'API',
        displayName: 'API',
        appOwnerOrganizationId: a.tenantId,
        servicePrincipalNames: [a.api.appId, a.api.identifierUri],
        servicePrincipalType: 'Application',
        signInAudience: 'AzureADMyOrg',
        deletedDateTime: null,
        tags: [],
        keyCredentials: [],
        passwordCredentials: [],
      });
      expect((api?.appRoles as { value: string }[]).map((role) => role.value).sort()).toEqual(a.api.roles);
      expect((api?.appRoles as Record<string, unknown>[])[0]).toEqual({
        allowedMemberTypes: ['Application'],
        description: expect.any(String) as unknown,
        displayName: expect.any(String) as unknown,
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        isEnabled: true,
        origin: 'Application',
        value: expect.any(String) as unknown,
      });

      const seen: string[] = [];
      let next: string | undefined = '/v1.0/servicePrincipals?$top=1&$select=id,appId';
      while (next !== undefined) {
        const page = await call(next, 'a');
        expect(page.status).toBe(200);
        const items = page.body.value as { id: string; appId: string }[];
        expect(items.length).toBeLessThanOrEqual(1);
        expect(Object.keys(items[0] ?? { id: '', appId: '' })).toEqual(['id', 'appId']);
        seen.push(...items.map((sp) => sp.appId));
        const link = page.body['@odata.nextLink'] as string | undefined;
        next = link?.slice(server.url.length);
      }
      expect(seen.sort()).toEqual(value.map((sp) => sp.appId as string).sort());
    });

    it('$filter on appId', async () => {
      const answer = await call(`/v1.0/servicePrincipals?$filter=appId eq '${a.api.appId}'`, 'a');
      expect(answer.status).toBe(200);
      expect((answer.body.value as { appId: string }[]).map((sp) => sp.appId)).toEqual([a.api.appId]);
      const other = await call(`/v1.0/servicePrincipals?$filter=appId eq '${b.api.appId}'`, 'a');
      expect(other.body.value).toEqual([]);
    });

    it('needs Application.Read.All or more: 403 Authorization_RequestDenied; 401 without a token', async () => {
      expectGraphError(await call('/v1.0/servicePrincipals', 'n'), 403, DENIED);
      expectGraphError(await call('/v1.0/servicePrincipals', undefined), 401, 'InvalidAuthenticationToken');
      expect((await call('/v1.0/servicePrincipals', 'r')).status).toBe(200);
    });
  });

  describe('GET /v1.0/servicePrincipals/{id} and (appId=…)', () => {
    it('by object id and by appId (quoted or percent-encoded), with $select', async () => {
      const sp = await server.directory.servicePrincipals.get(a.tenantId, { appId: a.api.appId });
      const byId = await call(`/v1.0/servicePrincipals/${sp.id}`, 'a');
      expect(byId.status).toBe(200);
      expect(byId.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#servicePrincipals/$entity`,
        id: sp.id,
        appId: a.api.appId,
      });
      for (const path of [
        `/v1.0/servicePrincipals(appId='${a.api.appId}')`,
        `/v1.0/servicePrincipals(appId=%27${a.api.appId.toUpperCase()}%27)`,
      ]) {
        const byAppId = await call(path, 'a');
        expect(byAppId.status).toBe(200);
        expect(byAppId.body).toEqual(byId.body);
      }
      const selected = await call(
        `/v1.0/servicePrincipals(appId='${a.api.appId}')?$select=appId,accountEnabled`,
        'a',
      );
      expect(selected.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#servicePrincipals(appId,accountEnabled)/$entity`,
        appId: a.api.appId,
        accountEnabled: true,
      });
    });

    it('another tenant’s service principal is 404 by id and by appId', async () => {
      const theirs = await server.directory.servicePrincipals.get(b.tenantId, { appId: b.api.appId });
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${theirs.id}`, 'a'),
        404,
        NOT_FOUND,
        `Resource '${theirs.id}' does not exist or one of its queried reference-property objects are not present.`,
      );
      expectGraphError(await call(`/v1.0/servicePrincipals(appId='${b.api.appId}')`, 'a'), 404, NOT_FOUND);
    });

    it('a malformed key: 400', async () => {
      expectGraphError(
        await call('/v1.0/servicePrincipals/not-a-guid', 'a'),
        400,
        BAD_REQUEST,
        "Invalid object identifier 'not-a-guid'.",
      );
      expectGraphError(
        await call('/v1.0/servicePrincipals(appId=nope)', 'a'),
        400,
        BAD_REQUEST,
        "The alternate key must be written servicePrincipals(appId='{appId}').",
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals(appId='${a.api.appId}')/appRoleAssignedTo`, 'a'),
        400,
        'BadRequest',
        "Resource not found for the segment 'appRoleAssignedTo'.",
      );
      expectGraphError(await call(`/v1.0/servicePrincipals(appId='x')`, 'a'), 400, BAD_REQUEST);
      expectGraphError(await call('/v1.0/servicePrincipals/%00', 'a'), 400, BAD_REQUEST);
    });

    it('a method the resource does not answer: 405', async () => {
      const sp = await graphSp(a.tenantId);
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${sp.id}`, 'a', { method: 'PUT', body: {} }),
        405,
        BAD_REQUEST,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals(appId='${DIRECTORY_APP_ID}')`, 'a', { method: 'POST', body: {} }),
        405,
        BAD_REQUEST,
      );
    });
  });

  describe('POST /v1.0/servicePrincipals', () => {
    it('creates the service principal of an app of the tenant and of a multi-tenant app of another', async () => {
      const own = await server.directory.applications.create({ tenant: a.tenantId, displayName: 'Own' });
      await server.directory.servicePrincipals.delete(a.tenantId, own.servicePrincipal.id);
      const created = await call('/v1.0/servicePrincipals', 'a', {
        method: 'POST',
        body: { appId: own.application.appId },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#servicePrincipals/$entity`,
        appId: own.application.appId,
        displayName: 'Own',
        accountEnabled: true,
        appOwnerOrganizationId: a.tenantId,
      });
      expect(created.headers.get('location')).toBe(
        `${server.url}/v1.0/servicePrincipals/${String(created.body.id)}`,
      );
      expect((await call(`/v1.0/servicePrincipals/${String(created.body.id)}`, 'a')).status).toBe(200);

      const multi = await server.directory.applications.create({
        tenant: b.tenantId,
        displayName: 'Multi',
        signInAudience: 'AzureADMultipleOrgs',
      });
      const guest = await call('/v1.0/servicePrincipals', 'a', {
        method: 'POST',
        body: {
          '@odata.type': '#microsoft.graph.servicePrincipal',
          appId: multi.application.appId,
          accountEnabled: false,
        },
      });
      expect(guest.status).toBe(201);
      expect(guest.body).toMatchObject({ appOwnerOrganizationId: b.tenantId, accountEnabled: false });
      const stored = await server.directory.servicePrincipals.get(a.tenantId, {
        appId: multi.application.appId,
      });
      expect(stored.accountEnabled).toBe(false);

      const before = await spCount(a.tenantId);
      expectGraphError(
        await call('/v1.0/servicePrincipals', 'a', {
          method: 'POST',
          body: { appId: multi.application.appId },
        }),
        409,
        'Request_MultipleObjectsWithSameKeyValue',
        `The service principal cannot be created, updated, or restored because the service principal name ${multi.application.appId} is already in use.`,
      );
      expect(await spCount(a.tenantId)).toBe(before);
    });

    it.each([
      ['a single-tenant app of another tenant', () => ({ appId: b.daemon.appId }), 400, BAD_REQUEST],
      [
        'an unknown appId',
        () => ({ appId: '00000000-0000-0000-0000-00000000abcd' }),
        400,
        BAD_REQUEST,
        "The appId '00000000-0000-0000-0000-00000000abcd' of the service principal does not reference a valid application object.",
      ],
      [
        'an appId that is no GUID',
        () => ({ appId: 'nope' }),
        400,
        BAD_REQUEST,
        "Invalid object identifier 'nope'.",
      ],
      [
        'no appId',
        () => ({ accountEnabled: true }),
        400,
        BAD_REQUEST,
        "Property 'appId' is required to create a service principal.",
      ],
      [
        'an unknown property',
        () => ({ appId: a.api.appId, colour: 'red' }),
        400,
        BAD_REQUEST,
        "Invalid property 'colour'.",
      ],
      [
        'a read-only property',
        () => ({ appId: a.api.appId, servicePrincipalNames: [] }),
        400,
        BAD_REQUEST,
        "Property 'servicePrincipalNames' is read-only and cannot be set.",
      ],
      [
        'a wrong type',
        () => ({ appId: a.api.appId, accountEnabled: 'yes' }),
        400,
        BAD_REQUEST,
        "Cannot convert the value of property 'accountEnabled' to the expected type 'Edm.Boolean'.",
      ],
      [
        'an @odata.type of another entity',
        () => ({ appId: a.api.appId, '@odata.type': '#microsoft.graph.application' }),
        400,
        BAD_REQUEST,
        "The @odata.type of the body must be '#microsoft.graph.servicePrincipal'.",
      ],
      [
        'a body that is no object',
        () => [1],
        400,
        BAD_REQUEST,
        'Expected a JSON object for the request body.',
      ],
    ] as const)('refuses %s, writing nothing', async (_label, body, status, code, message?: string) => {
      const before = await spCount(a.tenantId);
      expectGraphError(
        await call('/v1.0/servicePrincipals', 'a', { method: 'POST', body: body() }),
        status,
        code,
        message,
      );
      expect(await spCount(a.tenantId)).toBe(before);
    });

    it('an app token with only Application.Read.All, or none: 403, nothing written', async () => {
      const multi = await server.directory.applications.create({
        tenant: b.tenantId,
        displayName: 'Multi 2',
        signInAudience: 'AzureADMultipleOrgs',
      });
      for (const [as, tenantId] of [
        ['r', r.tenantId],
        ['n', n.tenantId],
      ] as const) {
        const before = await spCount(tenantId);
        expectGraphError(
          await call('/v1.0/servicePrincipals', as, {
            method: 'POST',
            body: { appId: multi.application.appId },
          }),
          403,
          DENIED,
          'Insufficient privileges to complete the operation.',
        );
        expect(await spCount(tenantId)).toBe(before);
      }
    });
  });

  describe('PATCH and DELETE /v1.0/servicePrincipals/{id}', () => {
    it('PATCH accountEnabled: 204, by id and by appId', async () => {
      const own = await server.directory.applications.create({ tenant: a.tenantId, displayName: 'Toggle' });
      const patched = await call(`/v1.0/servicePrincipals/${own.servicePrincipal.id}`, 'a', {
        method: 'PATCH',
        body: { accountEnabled: false },
      });
      expect(patched.status).toBe(204);
      expect((await graphSpOf(own.application.appId)).accountEnabled).toBe(false);
      const again = await call(`/v1.0/servicePrincipals(appId='${own.application.appId}')`, 'a', {
        method: 'PATCH',
        body: { accountEnabled: true },
      });
      expect(again.status).toBe(204);
      expect((await graphSpOf(own.application.appId)).accountEnabled).toBe(true);
    });
    const graphSpOf = (appId: string) => server.directory.servicePrincipals.get(a.tenantId, { appId });

    it.each([
      ['an unknown property', { colour: 'red' }, "Invalid property 'colour'."],
      [
        'a read-only property',
        { appId: DIRECTORY_APP_ID },
        "Property 'appId' is read-only and cannot be set.",
      ],
      [
        'a wrong type',
        { accountEnabled: 'false' },
        "Cannot convert the value of property 'accountEnabled' to the expected type 'Edm.Boolean'.",
      ],
      [
        'a read-only property beside a good one',
        { accountEnabled: false, id: 'x' },
        "Property 'id' is read-only and cannot be set.",
      ],
    ])('PATCH with %s: 400, nothing written', async (_label, body, message) => {
      const sp = await server.directory.servicePrincipals.get(a.tenantId, { appId: a.api.appId });
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${sp.id}`, 'a', { method: 'PATCH', body }),
        400,
        BAD_REQUEST,
        message,
      );
      expect((await server.directory.servicePrincipals.get(a.tenantId, { id: sp.id })).accountEnabled).toBe(
        true,
      );
    });

    it('the built-in directory API’s service principal cannot be changed: 403', async () => {
      const sp = await graphSp(a.tenantId);
      for (const init of [{ method: 'PATCH', body: { accountEnabled: false } }, { method: 'DELETE' }]) {
        expectGraphError(await call(`/v1.0/servicePrincipals/${sp.id}`, 'a', init), 403, DENIED);
      }
      expect((await graphSp(a.tenantId)).accountEnabled).toBe(true);
    });

    it('another tenant’s service principal: 404 for PATCH and DELETE, nothing changed', async () => {
      const theirs = await server.directory.servicePrincipals.get(b.tenantId, { appId: b.api.appId });
      for (const init of [{ method: 'PATCH', body: { accountEnabled: false } }, { method: 'DELETE' }]) {
        expectGraphError(await call(`/v1.0/servicePrincipals/${theirs.id}`, 'a', init), 404, NOT_FOUND);
        expectGraphError(
          await call(`/v1.0/servicePrincipals(appId='${b.api.appId}')`, 'a', init),
          404,
          NOT_FOUND,
        );
      }
      expect(await server.directory.servicePrincipals.get(b.tenantId, { id: theirs.id })).toEqual(theirs);
    });

    it('read-only and no permission: 403 for PATCH and DELETE', async () => {
      const sp = await server.directory.servicePrincipals.get(r.tenantId, { appId: r.api.appId });
      for (const as of ['r', 'n']) {
        for (const init of [{ method: 'PATCH', body: { accountEnabled: false } }, { method: 'DELETE' }]) {
          expectGraphError(await call(`/v1.0/servicePrincipals/${sp.id}`, as, init), 403, DENIED);
        }
      }
      expect((await server.directory.servicePrincipals.get(r.tenantId, { id: sp.id })).accountEnabled).toBe(
        true,
      );
    });

    it('DELETE: 204, then 404', async () => {
      const own = await server.directory.applications.create({ tenant: a.tenantId, displayName: 'Gone' });
      const path = `/v1.0/servicePrincipals/${own.servicePrincipal.id}`;
      expect((await call(path, 'a', { method: 'DELETE' })).status).toBe(204);
      expectGraphError(await call(path, 'a'), 404, NOT_FOUND);
      expectGraphError(await call(path, 'a', { method: 'DELETE' }), 404, NOT_FOUND);
      const byAppId = await server.directory.applications.create({
        tenant: a.tenantId,
        displayName: 'Gone 2',
      });
      const key = `/v1.0/servicePrincipals(appId='${byAppId.application.appId}')`;
      expect((await call(key, 'a', { method: 'DELETE' })).status).toBe(204);
      expectGraphError(await call(key, 'a'), 404, NOT_FOUND);
    });

    it('an app token whose service principal was disabled or deleted since issuance: 401', async () => {
      const c = await seedScenarioWith(server, ['Application.ReadWrite.All']);
      const { token: own } = await graphAppToken(server, c.tenantId, c.daemon);
      const self = `/v1.0/servicePrincipals/${c.daemon.servicePrincipalId}`;
      expect((await callApi(server, self, own)).status).toBe(200);
      expect(
        (await callApi(server, self, own, { method: 'PATCH', body: { accountEnabled: false } })).status,
      ).toBe(204);
      const refused = await callApi(server, self, own);
      expectGraphError(refused, 401, 'InvalidAuthenticationToken', 'Invalid token.');
      expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      await server.directory.servicePrincipals.update(c.tenantId, c.daemon.servicePrincipalId, {
        accountEnabled: true,
      });
      expect((await callApi(server, self, own)).status).toBe(200);
      expect((await callApi(server, self, own, { method: 'DELETE' })).status).toBe(204);
      expectGraphError(
        await callApi(server, '/v1.0/servicePrincipals', own),
        401,
        'InvalidAuthenticationToken',
      );
      // Created again, the client has a new object id: the old token (its old `oid`) stays refused.
      await server.directory.servicePrincipals.create(c.tenantId, c.daemon.appId);
      expectGraphError(
        await callApi(server, '/v1.0/servicePrincipals', own),
        401,
        'InvalidAuthenticationToken',
      );
    });

    it('a service principal disabled through one node stops its app tokens on another within the poll interval', async () => {
      const other = await startTestServer({
        database,
        ...(database === 'sqlite' ? { dataDir: server.dataDir } : { databaseUrl: server.databaseUrl ?? '' }),
      });
      try {
        const c = await seedScenarioWith(server, ['Application.Read.All']);
        // Issued by the other node (its issuer), used there; the change is made through this node.
        const { token: own } = await graphAppToken(other, c.tenantId, c.daemon);
        const list = () => callApi(other, '/v1.0/servicePrincipals?$top=1', own);
        expect((await list()).status).toBe(200);
        await server.directory.servicePrincipals.update(c.tenantId, c.daemon.servicePrincipalId, {
          accountEnabled: false,
        });
        await vi.waitFor(
          async () => {
            expect((await list()).status).toBe(401);
          },
          { timeout: 4000, interval: 50 },
        );
      } finally {
        await other.close();
      }
    });
  });

  describe('appRoleAssignedTo and appRoleAssignments', () => {
    const newWorker = (tenantId: string, displayName: string) =>
      seedDirectoryClient(server, tenantId, displayName);

    it('granting Application.ReadWrite.All through the API reaches the client’s next token; revoking removes it', async () => {
      const worker = await newWorker(a.tenantId, 'Worker');
      const before = await graphAppToken(server, a.tenantId, worker);
      expect(before.roles).toEqual([]);
      expectGraphError(await callApi(server, '/v1.0/servicePrincipals', before.token), 403, DENIED);

      const graph = await graphSp(a.tenantId);
      const granted = await call(`/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo`, 'a', {
        method: 'POST',
        body: {
          principalId: worker.servicePrincipalId,
          resourceId: graph.id,
          appRoleId: roleId('Application.ReadWrite.All'),
        },
      });
      expect(granted.status).toBe(201);
      expect(granted.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#servicePrincipals('${graph.id}')/appRoleAssignedTo/$entity`,
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        deletedDateTime: null,
        appRoleId: roleId('Application.ReadWrite.All'),
        createdDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as unknown,
        principalDisplayName: 'Worker',
        principalId: worker.servicePrincipalId,
        principalType: 'ServicePrincipal',
        resourceDisplayName: graph.displayName,
        resourceId: graph.id,
      });
      const assignmentId = String(granted.body.id);
      expect(granted.headers.get('location')).toBe(
        `${server.url}/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo/${assignmentId}`,
      );

      const after = await graphAppToken(server, a.tenantId, worker);
      expect(after.roles).toEqual(['Application.ReadWrite.All']);
      expect((await callApi(server, '/v1.0/servicePrincipals', after.token)).status).toBe(200);
      // The client registers an app through the API.
      expect(
        (
          await callApi(server, '/v1.0/servicePrincipals', after.token, {
            method: 'POST',
            body: {
              appId: (
                await server.directory.applications.create({
                  tenant: b.tenantId,
                  displayName: 'M3',
                  signInAudience: 'AzureADMultipleOrgs',
                })
              ).application.appId,
            },
          })
        ).status,
      ).toBe(201);

      const listed = await call(`/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo`, 'a');
      expect(listed.status).toBe(200);
      expect(listed.body['@odata.context']).toBe(
        `${server.url}/v1.0/$metadata#servicePrincipals('${graph.id}')/appRoleAssignedTo`,
      );
      const { '@odata.context': _context, ...entity } = granted.body;
      expect(listed.body.value).toContainEqual(entity);
      const held = await call(`/v1.0/servicePrincipals/${worker.servicePrincipalId}/appRoleAssignments`, 'a');
      expect(held.body.value).toEqual([entity]);
      const one = await call(`/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo/${assignmentId}`, 'a');
      expect(one.body).toEqual(granted.body);

      expect(
        (
          await call(`/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo/${assignmentId}`, 'a', {
            method: 'DELETE',
          })
        ).status,
      ).toBe(204);
      await vi.waitFor(async () => {
        expect((await graphAppToken(server, a.tenantId, worker)).roles).toEqual([]);
      });
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo/${assignmentId}`, 'a', {
          method: 'DELETE',
        }),
        404,
        NOT_FOUND,
      );
    });

    it('refuses a duplicate, an unknown role, a role not for the member type, a mismatched id: 400, nothing written', async () => {
      const graph = await graphSp(a.tenantId);
      const path = `/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo`;
      const daemon = a.daemon.servicePrincipalId;
      const count = async () => ((await call(`${path}?$top=999`, 'a')).body.value as unknown[]).length;
      const before = await count();
      const user = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `ursula@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Ursula',
      });
      for (const [body, message] of [
        [
          { principalId: daemon, resourceId: graph.id, appRoleId: roleId('Application.ReadWrite.All') },
          'Permission being assigned already exists on the object.',
        ],
        [
          { principalId: daemon, resourceId: graph.id, appRoleId: '00000000-0000-0000-0000-000000000001' },
          `Permission being assigned was not found on application '${DIRECTORY_APP_ID}'.`,
        ],
        [
          { principalId: user.id, resourceId: graph.id, appRoleId: roleId('Application.ReadWrite.All') },
          "The app role 'Application.ReadWrite.All' cannot be assigned to users.",
        ],
        [
          { principalId: daemon, resourceId: daemon, appRoleId: roleId('Application.ReadWrite.All') },
          `The resourceId of the body must be the object '${graph.id}' of the request URL.`,
        ],
        [
          { principalId: daemon, resourceId: graph.id },
          "Property 'appRoleId' is required to create an app role assignment.",
        ],
        [
          { principalId: 'x', resourceId: graph.id, appRoleId: roleId('Application.ReadWrite.All') },
          "Invalid object identifier 'x'.",
        ],
        [
          {
            principalId: daemon,
            resourceId: graph.id,
            appRoleId: roleId('Application.ReadWrite.All'),
            principalType: 'User',
          },
          "Property 'principalType' is read-only and cannot be set.",
        ],
      ] as const) {
        expectGraphError(await call(path, 'a', { method: 'POST', body }), 400, BAD_REQUEST, message);
      }
      expect(await count()).toBe(before);
    });

    it('tenant isolation: another tenant’s resource, principal and assignment are 404', async () => {
      const graphA = await graphSp(a.tenantId);
      const graphB = await graphSp(b.tenantId);
      const [theirs] = (
        await server.directory.grants.listAppRoleAssignmentsOf({
          tenant: b.tenantId,
          principalId: b.daemon.servicePrincipalId,
        })
      ).items;
      const assignment = theirs?.id ?? '';
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${graphB.id}/appRoleAssignedTo`, 'a'),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${b.daemon.servicePrincipalId}/appRoleAssignments`, 'a'),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${graphB.id}/appRoleAssignedTo/${assignment}`, 'a', {
          method: 'DELETE',
        }),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${graphA.id}/appRoleAssignedTo/${assignment}`, 'a', {
          method: 'DELETE',
        }),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${graphA.id}/appRoleAssignedTo`, 'a', {
          method: 'POST',
          body: {
            principalId: b.daemon.servicePrincipalId,
            resourceId: graphA.id,
            appRoleId: roleId('Application.Read.All'),
          },
        }),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${a.daemon.servicePrincipalId}/appRoleAssignments`, 'a', {
          method: 'POST',
          body: {
            principalId: a.daemon.servicePrincipalId,
            resourceId: graphB.id,
            appRoleId: roleId('Application.Read.All'),
          },
        }),
        404,
        NOT_FOUND,
      );
      expect((await server.directory.grants.getAppRoleAssignment(b.tenantId, assignment)).id).toBe(
        assignment,
      );
      // An assignment of tenant A under the wrong owner is not found either.
      const [ours] = (
        await server.directory.grants.listAppRoleAssignmentsOf({
          tenant: a.tenantId,
          principalId: a.daemon.servicePrincipalId,
        })
      ).items;
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${a.api.appId}/appRoleAssignedTo/${ours?.id ?? ''}`, 'a'),
        404,
        NOT_FOUND,
      );
    });

    it('needs AppRoleAssignment.ReadWrite.All to write and a read permission to list: 403', async () => {
      const graph = await graphSp(r.tenantId);
      const path = `/v1.0/servicePrincipals/${graph.id}/appRoleAssignedTo`;
      expect((await call(path, 'r')).status).toBe(200);
      expectGraphError(await call(path, 'n'), 403, DENIED);
      expectGraphError(
        await call(path, 'r', {
          method: 'POST',
          body: {
            principalId: r.daemon.servicePrincipalId,
            resourceId: graph.id,
            appRoleId: roleId('Application.ReadWrite.All'),
          },
        }),
        403,
        DENIED,
      );
      expect((await graphAppToken(server, r.tenantId, r.daemon)).roles).toEqual(['Application.Read.All']);
    });

    it('a service principal’s own appRoleAssignments: POST, GET, DELETE', async () => {
      const worker = await newWorker(a.tenantId, 'Worker 2');
      const api = await server.directory.servicePrincipals.get(a.tenantId, { appId: a.api.appId });
      const apiApp = await server.directory.applications.require(a.api.appId);
      const write = apiApp.appRoles.find((role) => role.value === 'Data.Write.All')?.id ?? '';
      const path = `/v1.0/servicePrincipals/${worker.servicePrincipalId}/appRoleAssignments`;
      expectGraphError(
        await call(path, 'a', {
          method: 'POST',
          body: { principalId: a.daemon.servicePrincipalId, resourceId: api.id, appRoleId: write },
        }),
        400,
        BAD_REQUEST,
        `The principalId of the body must be the object '${worker.servicePrincipalId}' of the request URL.`,
      );
      const created = await call(path, 'a', {
        method: 'POST',
        body: { principalId: worker.servicePrincipalId, resourceId: api.id, appRoleId: write },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#servicePrincipals('${worker.servicePrincipalId}')/appRoleAssignments/$entity`,
        principalDisplayName: 'Worker 2',
        resourceDisplayName: 'API',
        principalType: 'ServicePrincipal',
      });
      const listed = await call(path, 'a');
      expect((listed.body.value as { id: string }[]).map((x) => x.id)).toEqual([created.body.id]);
      expect((await call(`${path}/${String(created.body.id)}`, 'a', { method: 'DELETE' })).status).toBe(204);
      expect((await call(path, 'a')).body.value).toEqual([]);
    });

    it('a user’s appRoleAssignments by id or UPN: POST, GET with paging, DELETE; other tenants’ users are 404', async () => {
      const roles = await server.directory.applications.create({
        tenant: a.tenantId,
        displayName: 'Roles App',
        userRoles: ['Reader', 'Writer', 'Admin'],
      });
      const resourceId = roles.servicePrincipal.id;
      const user = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `ulla@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Ulla',
      });
      const ids: string[] = [];
      for (const role of roles.application.appRoles) {
        const created = await call(`/v1.0/users/${user.userPrincipalName}/appRoleAssignments`, 'a', {
          method: 'POST',
          body: { principalId: user.id, resourceId, appRoleId: role.id },
        });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({
          '@odata.context': `${server.url}/v1.0/$metadata#users('${user.id}')/appRoleAssignments/$entity`,
          principalId: user.id,
          principalType: 'User',
          principalDisplayName: 'Ulla',
          resourceDisplayName: 'Roles App',
          appRoleId: role.id,
        });
        ids.push(String(created.body.id));
      }
      const seen: string[] = [];
      let next: string | undefined = `/v1.0/users/${user.id}/appRoleAssignments?$top=2`;
      while (next !== undefined) {
        const page = await call(next, 'a');
        expect(page.status).toBe(200);
        seen.push(...(page.body.value as { id: string }[]).map((x) => x.id));
        next = (page.body['@odata.nextLink'] as string | undefined)?.slice(server.url.length);
      }
      expect(seen).toEqual([...ids].sort());
      expect(
        (await call(`/v1.0/users/${user.id}/appRoleAssignments/${ids[0] ?? ''}`, 'a', { method: 'DELETE' }))
          .status,
      ).toBe(204);
      expect(
        ((await call(`/v1.0/users/${user.id}/appRoleAssignments`, 'a')).body.value as unknown[]).length,
      ).toBe(2);

      const userOfB = await server.directory.users.create({
        tenant: b.tenantId,
        userPrincipalName: `ulla@${b.domain}`,
        password: 'Correct-Horse-9',
      });
      expectGraphError(await call(`/v1.0/users/${userOfB.id}/appRoleAssignments`, 'a'), 404, NOT_FOUND);
      expectGraphError(
        await call(`/v1.0/users/${userOfB.userPrincipalName}/appRoleAssignments`, 'a'),
        404,
        NOT_FOUND,
      );
      expectGraphError(
        await call(`/v1.0/servicePrincipals/${resourceId}/appRoleAssignedTo`, 'a', {
          method: 'POST',
          body: { principalId: userOfB.id, resourceId, appRoleId: roles.application.appRoles[0]?.id ?? '' },
        }),
        404,
        NOT_FOUND,
      );
      expectGraphError(await call('/v1.0/users/%01/appRoleAssignments', 'a'), 404, NOT_FOUND);
    });
  });
});
