import { X509Certificate, randomUUID } from 'node:crypto';
import {
  createClientCertificate,
  endpointUrl,
  postForm,
  seedClientCredentialsScenario,
  seedInteractiveScenario,
  startTestServer,
  type ClientCertificate,
  type ClientCredentialsScenario,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  delegatedToken,
  DIALECTS,
  expectGraphError,
  GRAPH,
  graphAppToken,
  seedScenarioWith,
  type Answer,
} from './support/management-api.js';

// The management API's applications over HTTPS against a real server, on SQLite and PostgreSQL: CRUD by id and by
// applications(appId='…'), PATCH's refusals writing nothing, credentials (addPassword, removePassword, addKey and
// removeKey with Graph's proof of possession, PATCH of keyCredentials), owners, permissions and tenant isolation.

const DIRECTORY_APP_ID = '00000003-0000-0000-c000-000000000000';
/** Graph's `User.Read` delegated scope and `User.Read.All` application permission on the directory API. */
const USER_READ_SCOPE_ID = 'e1fe6dd8-ba31-4d61-89e7-88639da4683d';
const USER_READ_ALL_ROLE_ID = 'df021288-bdef-4463-88db-98f22de89214';

/** base64 DER of a PEM certificate (Graph's `keyCredential.key`). */
function derBase64(pem: string): string {
  return new X509Certificate(pem).raw.toString('base64');
}

/** Graph's proof of possession for addKey / removeKey, signed with `certificate`'s key. */
async function proofFor(
  certificate: ClientCertificate,
  objectId: string,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    aud: '00000002-0000-0000-c000-000000000000',
    iss: objectId,
    nbf: now,
    exp: now + 600,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: certificate.x5t })
    .sign(certificate.privateKey);
}

describe.each(DIALECTS)('management API applications on $name', ({ database }) => {
  let server: TestServer;
  /** Tenant A: its daemon holds Application.ReadWrite.All on the directory API. */
  let a: ClientCredentialsScenario;
  /** Tenant B: its daemon holds Application.ReadWrite.All too. */
  let b: ClientCredentialsScenario;
  /** Tenant N: its daemon holds Application.Read.All only. */
  let n: ClientCredentialsScenario;
  /** Tenant I: a plain user and a Global Administrator signing in through a web app. */
  let i: InteractiveScenario;
  const tokens = new Map<string, string>();
  const token = (name: string) => tokens.get(name) ?? '';

  async function appToken(scenario: ClientCredentialsScenario): Promise<string> {
    return (await graphAppToken(server, scenario.tenantId, scenario.daemon)).token;
  }

  const call = (path: string, bearer: string | undefined, init: { method?: string; body?: unknown } = {}) =>
    callApi(server, path, bearer, init);

  /** The status and Graph error code (and message, when given) of a refusal. */
  function expectRefusal(answer: Answer, status: number, code: string, message?: string | RegExp): void {
    if (typeof message === 'string') {
      expectGraphError(answer, status, code, message);
      return;
    }
    expectGraphError(answer, status, code);
    if (message !== undefined) expect((answer.body.error as { message: string }).message).toMatch(message);
  }

  const userToken = (userName: string, scope: string, forOrganization = false) =>
    delegatedToken(server, i, userName, scope, forOrganization);

  async function create(body: Record<string, unknown>, as = 'a'): Promise<Record<string, unknown>> {
    const answer = await call('/v1.0/applications', token(as), { method: 'POST', body });
    expect(answer.status).toBe(201);
    return answer.body;
  }

  async function read(id: string, as = 'a'): Promise<Record<string, unknown>> {
    const answer = await call(`/v1.0/applications/${id}`, token(as));
    expect(answer.status).toBe(200);
    return answer.body;
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedScenarioWith(server, ['Application.ReadWrite.All']);
    b = await seedScenarioWith(server, ['Application.ReadWrite.All']);
    n = await seedScenarioWith(server, ['Application.Read.All']);
    i = await seedInteractiveScenario(server.directory);
    await server.server.refresh();
    tokens.set('a', await appToken(a));
    tokens.set('b', await appToken(b));
    tokens.set('n', await appToken(n));
  });
  afterAll(() => server.close());

  describe('POST /v1.0/applications', () => {
    it('registers an application in Graph’s shape (201, Location), with no service principal', async () => {
      const roleId = randomUUID();
      const scopeId = randomUUID();
      const role = {
        id: roleId,
        value: 'Inventory.Write.All',
        displayName: 'Write all inventory',
        description: 'Writes all inventory.',
        allowedMemberTypes: ['Application'],
        isEnabled: true,
      };
      const scope = {
        id: scopeId,
        value: 'Inventory.Read',
        type: 'User',
        isEnabled: true,
        adminConsentDisplayName: 'Read inventory',
        adminConsentDescription: 'Read the inventory.',
        userConsentDisplayName: 'Read your inventory',
        userConsentDescription: 'Reads your inventory.',
      };
      const answer = await call('/v1.0/applications', token('a'), {
        method: 'POST',
        body: {
          displayName: 'Inventory API',
          signInAudience: 'AzureADMultipleOrgs',
          identifierUris: [`api://inventory-${roleId}`],
          web: {
            redirectUris: ['https://inventory.example/signin'],
            logoutUrl: 'https://inventory.example/logout',
            implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false },
          },
          spa: { redirectUris: ['https://spa.inventory.example/'] },
          publicClient: { redirectUris: ['http://localhost'] },
          api: {
            requestedAccessTokenVersion: 2,
            oauth2PermissionScopes: [scope],
            knownClientApplications: [a.daemon.appId],
            preAuthorizedApplications: [{ appId: a.daemon.appId, delegatedPermissionIds: [scopeId] }],
          },
          appRoles: [role],
          requiredResourceAccess: [
            {
              resourceAppId: DIRECTORY_APP_ID,
              resourceAccess: [
                { id: USER_READ_SCOPE_ID, type: 'Scope' },
                { id: USER_READ_ALL_ROLE_ID, type: 'Role' },
              ],
            },
          ],
        },
      });
      expect(answer.status).toBe(201);
      const id = answer.body.id as string;
      const appId = answer.body.appId as string;
      expect(answer.headers.get('location')).toBe(`${server.url}/v1.0/applications/${id}`);
      expect(answer.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#applications/$entity`,
        displayName: 'Inventory API',
        signInAudience: 'AzureADMultipleOrgs',
        identifierUris: [`api://inventory-${roleId}`],
        deletedDateTime: null,
        description: null,
        notes: null,
        tags: [],
        keyCredentials: [],
        passwordCredentials: [],
        web: {
          homePageUrl: null,
          logoutUrl: 'https://inventory.example/logout',
          redirectUris: ['https://inventory.example/signin'],
          implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false },
        },
        spa: { redirectUris: ['https://spa.inventory.example/'] },
        publicClient: { redirectUris: ['http://localhost'] },
        api: {
          acceptMappedClaims: null,
          requestedAccessTokenVersion: 2,
          knownClientApplications: [a.daemon.appId],
          preAuthorizedApplications: [{ appId: a.daemon.appId, delegatedPermissionIds: [scopeId] }],
          oauth2PermissionScopes: [scope],
        },
        appRoles: [{ ...role, origin: 'Application' }],
        requiredResourceAccess: [
          {
            resourceAppId: DIRECTORY_APP_ID,
            resourceAccess: [
              { id: USER_READ_SCOPE_ID, type: 'Scope' },
              { id: USER_READ_ALL_ROLE_ID, type: 'Role' },
            ],
          },
        ],
      });
      expect(answer.body.appId).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.body.createdDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(await server.directory.store.servicePrincipals.listByAppId(appId)).toEqual([]);
      expect(await read(id)).toEqual(answer.body);
    });

    it.each([
      ['an unknown property', { displayName: 'x', color: 'blue' }, "Invalid property 'color'."],
      [
        'a wrong JSON type',
        { displayName: 42 },
        "Cannot convert the value of property 'displayName' to the expected type 'Edm.String'.",
      ],
      [
        'a nested wrong type',
        { displayName: 'x', web: { redirectUris: 'https://x.example/' } },
        "Cannot convert the value of property 'web.redirectUris' to the expected type 'Collection'.",
      ],
      [
        'a read-only property',
        { displayName: 'x', appId: randomUUID() },
        "Property 'appId' is read-only and cannot be set.",
      ],
      [
        'no display name',
        { signInAudience: 'AzureADMyOrg' },
        "Property 'displayName' is required to create an application.",
      ],
      ['an unknown sign-in audience', { displayName: 'x', signInAudience: 'Everyone' }, /signInAudience/],
      [
        'a role id that is no GUID',
        { displayName: 'x', appRoles: [{ id: 'r1', value: 'R', allowedMemberTypes: ['User'] }] },
        /not a GUID/,
      ],
      [
        'a Role entry naming a scope',
        {
          displayName: 'x',
          requiredResourceAccess: [
            { resourceAppId: DIRECTORY_APP_ID, resourceAccess: [{ id: USER_READ_SCOPE_ID, type: 'Role' }] },
          ],
        },
        /has no application permission/,
      ],
      [
        'an unknown required resource',
        {
          displayName: 'x',
          requiredResourceAccess: [{ resourceAppId: randomUUID(), resourceAccess: [] }],
        },
        /does not exist/,
      ],
      [
        'a malformed redirect URI',
        { displayName: 'x', web: { redirectUris: ['http://evil.example/'] } },
        /redirect URI/,
      ],
      ['a body that is no object', [], 'Expected a JSON object for the request body.'],
    ])('%s: 400 Request_BadRequest, nothing registered', async (_label, body, message) => {
      const before = await server.directory.applications.list({ tenant: a.tenantId, top: 999 });
      const answer = await call('/v1.0/applications', token('a'), { method: 'POST', body });
      expectRefusal(answer, 400, 'Request_BadRequest', message);
      const after = await server.directory.applications.list({ tenant: a.tenantId, top: 999 });
      expect(after.items.length).toBe(before.items.length);
    });

    it('a duplicate App ID URI: Graph’s 400 ObjectConflict, within the app or taken by another', async () => {
      const uri = `api://dup-${randomUUID()}`;
      await create({ displayName: 'First', identifierUris: [uri] });
      const taken = await call('/v1.0/applications', token('b'), {
        method: 'POST',
        body: { displayName: 'Second', identifierUris: [uri.toUpperCase()] },
      });
      expectRefusal(
        taken,
        400,
        'Request_BadRequest',
        'Another object with the same value for property identifierUris already exists.',
      );
      expect((taken.body.error as { details: unknown }).details).toEqual([
        {
          code: 'ObjectConflict',
          message: 'Another object with the same value for property identifierUris already exists.',
        },
      ]);
      const twice = await call('/v1.0/applications', token('a'), {
        method: 'POST',
        body: { displayName: 'Third', identifierUris: [`${uri}-x`, `${uri}-X`] },
      });
      expectRefusal(twice, 400, 'Request_BadRequest', /Duplicate App ID URIs/);
    });
  });

  describe('GET /v1.0/applications and by key', () => {
    it('lists only the caller’s tenant, with $select and paging', async () => {
      const mine = await create({ displayName: 'Listed of A' });
      const theirs = await create({ displayName: 'Listed of B' }, 'b');
      const seen: Record<string, unknown>[] = [];
      let next: string | undefined = '/v1.0/applications?$top=2&$select=id,displayName';
      while (next !== undefined) {
        const answer = await call(next, token('a'));
        expect(answer.status).toBe(200);
        expect(answer.body['@odata.context']).toBe(
          `${server.url}/v1.0/$metadata#applications(id,displayName)`,
        );
        seen.push(...(answer.body.value as Record<string, unknown>[]));
        const link = answer.body['@odata.nextLink'] as string | undefined;
        next = link?.slice(server.url.length);
      }
      expect(seen).toContainEqual({ id: mine.id, displayName: 'Listed of A' });
      expect(seen.map((app) => app.id)).not.toContain(theirs.id);
      for (const app of seen) expect(Object.keys(app)).toEqual(['id', 'displayName']);
    });

    it('$filter on displayName and identifierUris finds only the caller’s tenant', async () => {
      const name = `Filtered ${randomUUID()}`;
      const uri = `api://filtered-${randomUUID()}`;
      const mine = await create({ displayName: name, identifierUris: [uri] });
      await create({ displayName: name }, 'b');
      const byName = await call(
        `/v1.0/applications?$filter=${encodeURIComponent(`displayName eq '${name}'`)}&$select=id`,
        token('a'),
      );
      expect(byName.body.value).toEqual([{ id: mine.id }]);
      const byUri = await call(
        `/v1.0/applications?$filter=${encodeURIComponent(`identifierUris/any(x:x eq '${uri}')`)}&$select=id`,
        token('a'),
      );
      expect(byUri.body.value).toEqual([{ id: mine.id }]);
    });

    it('GET by id and by applications(appId=…), with $select', async () => {
      const app = await create({ displayName: 'Keyed' });
      expect(await read(app.id as string)).toEqual(app);
      const byAppId = await call(`/v1.0/applications(appId='${app.appId as string}')`, token('a'));
      expect(byAppId).toMatchObject({ status: 200, body: app });
      const selected = await call(
        `/v1.0/applications(appId='${app.appId as string}')?$select=appId,displayName`,
        token('a'),
      );
      expect(selected.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#applications(appId,displayName)/$entity`,
        appId: app.appId,
        displayName: 'Keyed',
      });
    });

    it.each([
      ["applications(appId='bad')", 400, 'Request_BadRequest', "Invalid object identifier 'bad'."],
      ['applications(appId=bad)', 400, 'Request_BadRequest', /applications\(appId='\{appId\}'\)/],
      ['applications/not-a-guid', 400, 'Request_BadRequest', "Invalid object identifier 'not-a-guid'."],
      [
        `applications/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`,
        404,
        'Request_ResourceNotFound',
        /does not exist/,
      ],
      [`applications(appId='${DIRECTORY_APP_ID}')`, 404, 'Request_ResourceNotFound', /does not exist/],
      [
        'applications?$select=nothing',
        400,
        'Request_BadRequest',
        /Could not find a property named 'nothing'/,
      ],
    ])('GET %s: %i %s', async (path, status, code, message) => {
      expectRefusal(await call(`/v1.0/${path}`, token('a')), status, code, message);
    });
  });

  describe('PATCH /v1.0/applications/{id}', () => {
    it('changes Graph’s properties and answers 204; complex values merge, collections replace', async () => {
      const app = await create({
        displayName: 'Patched',
        web: {
          redirectUris: ['https://patched.example/a'],
          implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false },
        },
      });
      const roleId = randomUUID();
      const answer = await call(`/v1.0/applications(appId='${app.appId as string}')`, token('a'), {
        method: 'PATCH',
        body: {
          displayName: 'Patched twice',
          identifierUris: [`api://patched-${roleId}`],
          web: { redirectUris: ['https://patched.example/b'] },
          appRoles: [{ id: roleId, value: 'Patched.All', allowedMemberTypes: ['Application', 'User'] }],
          requiredResourceAccess: [
            { resourceAppId: app.appId, resourceAccess: [{ id: roleId, type: 'Role' }] },
          ],
          api: { requestedAccessTokenVersion: 2 },
        },
      });
      expect(answer).toMatchObject({ status: 204, body: {} });
      const after = await read(app.id as string);
      expect(after).toMatchObject({
        displayName: 'Patched twice',
        identifierUris: [`api://patched-${roleId}`],
        web: {
          redirectUris: ['https://patched.example/b'],
          implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false },
        },
        appRoles: [
          {
            id: roleId,
            value: 'Patched.All',
            displayName: 'Patched.All',
            description: 'Patched.All',
            allowedMemberTypes: ['Application', 'User'],
            isEnabled: true,
            origin: 'Application',
          },
        ],
        requiredResourceAccess: [
          { resourceAppId: app.appId, resourceAccess: [{ id: roleId, type: 'Role' }] },
        ],
        api: { requestedAccessTokenVersion: 2 },
      });
    });

    it('an enabled role or scope cannot be removed or renamed until disabled (Graph’s rule)', async () => {
      const roleId = randomUUID();
      const scopeId = randomUUID();
      const app = await create({
        displayName: 'Entitled',
        appRoles: [{ id: roleId, value: 'Role.One', allowedMemberTypes: ['Application'], isEnabled: true }],
        api: { oauth2PermissionScopes: [{ id: scopeId, value: 'Scope.One', type: 'User', isEnabled: true }] },
      });
      const path = `/v1.0/applications/${app.id as string}`;
      const before = await read(app.id as string);
      for (const body of [
        { appRoles: [] },
        {
          appRoles: [
            { id: roleId, value: 'Role.Renamed', allowedMemberTypes: ['Application'], isEnabled: true },
          ],
        },
        { api: { oauth2PermissionScopes: [] } },
      ]) {
        expectRefusal(
          await call(path, token('a'), { method: 'PATCH', body }),
          400,
          'CannotDeleteOrUpdateEnabledEntitlement',
          'Permission (scope or role) cannot be deleted or updated unless disabled first.',
        );
      }
      expect(await read(app.id as string)).toEqual(before);
      const disabled = await call(path, token('a'), {
        method: 'PATCH',
        body: {
          appRoles: [
            { id: roleId, value: 'Role.One', allowedMemberTypes: ['Application'], isEnabled: false },
          ],
          api: {
            oauth2PermissionScopes: [{ id: scopeId, value: 'Scope.One', type: 'User', isEnabled: false }],
          },
        },
      });
      expect(disabled.status).toBe(204);
      const removed = await call(path, token('a'), {
        method: 'PATCH',
        body: { appRoles: [], api: { oauth2PermissionScopes: [] } },
      });
      expect(removed.status).toBe(204);
      expect(await read(app.id as string)).toMatchObject({
        appRoles: [],
        api: { oauth2PermissionScopes: [] },
      });
    });

    it.each([
      ['an unknown property', { displayName: 'New', color: 'blue' }, "Invalid property 'color'."],
      ['a wrong JSON type', { displayName: 'New', signInAudience: true }, /Edm.String/],
      [
        'a read-only id',
        { displayName: 'New', id: randomUUID() },
        "Property 'id' is read-only and cannot be set.",
      ],
      ['a read-only appId', { appId: randomUUID() }, "Property 'appId' is read-only and cannot be set."],
      ['passwordCredentials', { passwordCredentials: [] }, /use addPassword/],
      ['an empty display name', { displayName: ' ' }, 'An application needs a display name.'],
      [
        'duplicate role values',
        {
          displayName: 'New',
          appRoles: [
            { id: randomUUID(), value: 'Same', allowedMemberTypes: ['User'] },
            { id: randomUUID(), value: 'Same', allowedMemberTypes: ['User'] },
          ],
        },
        /Duplicate app role values/,
      ],
      [
        'duplicate role ids',
        (() => {
          const id = randomUUID();
          return {
            appRoles: [
              { id, value: 'One', allowedMemberTypes: ['User'] },
              { id, value: 'Two', allowedMemberTypes: ['User'] },
            ],
          };
        })(),
        /Duplicate app role ids/,
      ],
      [
        'an invalid scope value',
        { api: { oauth2PermissionScopes: [{ id: randomUUID(), value: 'has space', type: 'User' }] } },
        /not a valid scope value/,
      ],
      [
        'an unknown required scope',
        {
          requiredResourceAccess: [
            { resourceAppId: DIRECTORY_APP_ID, resourceAccess: [{ id: randomUUID(), type: 'Scope' }] },
          ],
        },
        /has no delegated scope/,
      ],
      [
        'a requestedAccessTokenVersion of 3',
        { api: { requestedAccessTokenVersion: 3 } },
        /requestedAccessTokenVersion/,
      ],
    ])('%s: 400, nothing written', async (_label, body, message) => {
      const app = await create({ displayName: 'Unchanged' });
      const before = await read(app.id as string);
      const answer = await call(`/v1.0/applications/${app.id as string}`, token('a'), {
        method: 'PATCH',
        body,
      });
      expectRefusal(answer, 400, 'Request_BadRequest', message);
      expect(await read(app.id as string)).toEqual(before);
    });

    it('a taken App ID URI: 400 ObjectConflict, nothing written', async () => {
      const uri = `api://taken-${randomUUID()}`;
      await create({ displayName: 'Owner of the URI', identifierUris: [uri] }, 'b');
      const app = await create({ displayName: 'Wants the URI' });
      const before = await read(app.id as string);
      const answer = await call(`/v1.0/applications/${app.id as string}`, token('a'), {
        method: 'PATCH',
        body: { displayName: 'Renamed', identifierUris: [uri] },
      });
      expectRefusal(
        answer,
        400,
        'Request_BadRequest',
        'Another object with the same value for property identifierUris already exists.',
      );
      expect(await read(app.id as string)).toEqual(before);
    });
  });

  describe('one rule for the CLI and the API', () => {
    it('the directory service’s update refuses removing an enabled role, as PATCH does', async () => {
      const roleId = randomUUID();
      const app = await create({
        displayName: 'Ruled',
        appRoles: [{ id: roleId, value: 'Ruled.All', allowedMemberTypes: ['Application'], isEnabled: true }],
      });
      await expect(
        server.directory.applications.update(app.appId as string, () => ({ appRoles: [] })),
      ).rejects.toMatchObject({ code: 'enabled_permission' });
      await expect(
        server.directory.applications.update(app.appId as string, (current) => ({
          requiredResourceAccess: [
            { resourceAppId: current.appId, resourceAccess: [{ id: randomUUID(), type: 'Role' }] },
          ],
        })),
      ).rejects.toMatchObject({ code: 'invalid' });
      expect((await read(app.id as string)).appRoles).toMatchObject([{ id: roleId, isEnabled: true }]);
    });

    it('the CLI’s registration makes a service principal, the API’s does not', async () => {
      const viaCli = await server.directory.applications.create({
        tenant: a.tenantId,
        displayName: 'Via CLI',
      });
      expect(await server.directory.store.servicePrincipals.listByAppId(viaCli.application.appId)).toEqual([
        viaCli.servicePrincipal,
      ]);
      const viaApi = await create({ displayName: 'Via API' });
      expect(await server.directory.store.servicePrincipals.listByAppId(viaApi.appId as string)).toEqual([]);
    });
  });

  describe('DELETE /v1.0/applications/{id}', () => {
    it('deletes the application with its owners; then 404', async () => {
      const app = await create({ displayName: 'Doomed' });
      const owner = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `doomed-owner-${randomUUID().slice(0, 8)}@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Doomed owner',
      });
      const added = await call(`/v1.0/applications/${app.id as string}/owners/$ref`, token('a'), {
        method: 'POST',
        body: { '@odata.id': `${GRAPH}/v1.0/directoryObjects/${owner.id}` },
      });
      expect(added.status).toBe(204);
      expect(
        (await call(`/v1.0/applications/${app.id as string}`, token('a'), { method: 'DELETE' })).status,
      ).toBe(204);
      expectRefusal(
        await call(`/v1.0/applications/${app.id as string}`, token('a')),
        404,
        'Request_ResourceNotFound',
      );
      const rows = await server.directory.store.db
        .selectFrom('application_owners')
        .selectAll()
        .where('application_id', '=', app.id as string)
        .execute();
      expect(rows).toEqual([]);
    });
  });

  describe('credentials', () => {
    it('addPassword answers the secret once; it authenticates; removePassword ends it', async () => {
      const app = await create({ displayName: 'Secretive' });
      const path = `/v1.0/applications/${app.id as string}`;
      const added = await call(`${path}/addPassword`, token('a'), {
        method: 'POST',
        body: { passwordCredential: { displayName: 'ci', endDateTime: '2099-01-01T00:00:00Z' } },
      });
      expect(added.status).toBe(200);
      expect(added.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#microsoft.graph.passwordCredential`,
        customKeyIdentifier: null,
        displayName: 'ci',
        endDateTime: '2099-01-01T00:00:00Z',
      });
      const secretText = added.body.secretText as string;
      expect(secretText.length).toBeGreaterThanOrEqual(40);
      expect(added.body.hint).toBe(secretText.slice(0, 3));
      const listed = await read(app.id as string);
      expect(listed.passwordCredentials).toEqual([
        {
          customKeyIdentifier: null,
          displayName: 'ci',
          endDateTime: '2099-01-01T00:00:00Z',
          hint: secretText.slice(0, 3),
          keyId: added.body.keyId,
          secretText: null,
          startDateTime: added.body.startDateTime,
        },
      ]);
      expect(JSON.stringify(listed)).not.toContain(secretText);
      expectRefusal(
        await call(`${path}/addPassword`, token('a'), {
          method: 'POST',
          body: { passwordCredential: { endDateTime: 'soon' } },
        }),
        400,
        'Request_BadRequest',
        /Edm.DateTimeOffset/,
      );
      expectRefusal(
        await call(`${path}/removePassword`, token('a'), { method: 'POST', body: { keyId: randomUUID() } }),
        404,
        'Request_ResourceNotFound',
      );
      const removed = await call(`${path}/removePassword`, token('a'), {
        method: 'POST',
        body: { keyId: added.body.keyId },
      });
      expect(removed.status).toBe(204);
      expect((await read(app.id as string)).passwordCredentials).toEqual([]);
    });

    it('the first certificate by PATCH of keyCredentials, then addKey and removeKey with a proof', async () => {
      const app = await create({ displayName: 'Certified' });
      const path = `/v1.0/applications/${app.id as string}`;
      const first = await createClientCertificate();
      const second = await createClientCertificate();
      const noProofYet = await call(`${path}/addKey`, token('a'), {
        method: 'POST',
        body: {
          keyCredential: {
            type: 'AsymmetricX509Cert',
            usage: 'Verify',
            key: derBase64(first.certificatePem),
          },
          passwordCredential: null,
          proof: await proofFor(first, app.id as string),
        },
      });
      expectRefusal(noProofYet, 400, 'Request_BadRequest', /PATCH of keyCredentials/);
      const patched = await call(path, token('a'), {
        method: 'PATCH',
        body: {
          keyCredentials: [
            {
              type: 'AsymmetricX509Cert',
              usage: 'Verify',
              key: derBase64(first.certificatePem),
              displayName: 'CN=first',
            },
          ],
        },
      });
      expect(patched.status).toBe(204);
      const [firstKey] = (await read(app.id as string)).keyCredentials as Record<string, unknown>[];
      expect(firstKey).toMatchObject({
        customKeyIdentifier: first.thumbprintHex.toUpperCase(),
        displayName: 'CN=first',
        key: null,
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
      });
      const newKey = { type: 'AsymmetricX509Cert', usage: 'Verify', key: derBase64(second.certificatePem) };
      for (const [label, proof] of [
        ['signed by another key', await proofFor(second, app.id as string)],
        ['another issuer', await proofFor(first, randomUUID())],
        ['another audience', await proofFor(first, app.id as string, { aud: GRAPH })],
        [
          'too long a lifetime',
          await proofFor(first, app.id as string, { exp: Math.floor(Date.now() / 1000) + 3600 }),
        ],
        ['expired', await proofFor(first, app.id as string, { nbf: 1_000_000, exp: 1_000_100 })],
      ] as const) {
        const refused = await call(`${path}/addKey`, token('a'), {
          method: 'POST',
          body: { keyCredential: newKey, passwordCredential: null, proof },
        });
        expect({ label, status: refused.status }).toEqual({ label, status: 400 });
        expectRefusal(refused, 400, 'Request_BadRequest', 'The proof of possession is not valid.');
      }
      expect((await read(app.id as string)).keyCredentials).toHaveLength(1);
      const added = await call(`${path}/addKey`, token('a'), {
        method: 'POST',
        body: {
          keyCredential: newKey,
          passwordCredential: null,
          proof: await proofFor(first, app.id as string),
        },
      });
      expect(added.status).toBe(200);
      expect(added.body).toMatchObject({
        '@odata.context': `${server.url}/v1.0/$metadata#microsoft.graph.keyCredential`,
        customKeyIdentifier: second.thumbprintHex.toUpperCase(),
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
        key: null,
      });
      const removeNoProof = await call(`${path}/removeKey`, token('a'), {
        method: 'POST',
        body: { keyId: firstKey?.keyId },
      });
      expectRefusal(removeNoProof, 400, 'Request_BadRequest', "Property 'body.proof' is required.");
      const removed = await call(`${path}/removeKey`, token('a'), {
        method: 'POST',
        body: { keyId: firstKey?.keyId, proof: await proofFor(second, app.id as string) },
      });
      expect(removed.status).toBe(204);
      const left = (await read(app.id as string)).keyCredentials as Record<string, unknown>[];
      expect(left.map((key) => key.keyId)).toEqual([added.body.keyId]);
      // PATCH replaces the collection: an entry without key keeps a registered keyId, the rest go.
      const kept = await call(path, token('a'), {
        method: 'PATCH',
        body: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', keyId: added.body.keyId }] },
      });
      expect(kept.status).toBe(204);
      expect(((await read(app.id as string)).keyCredentials as unknown[]).length).toBe(1);
      const cleared = await call(path, token('a'), { method: 'PATCH', body: { keyCredentials: [] } });
      expect(cleared.status).toBe(204);
      expect((await read(app.id as string)).keyCredentials).toEqual([]);
    });

    it.each([
      [
        'not a certificate',
        () => Buffer.from('not a certificate').toString('base64'),
        /^Not a usable X\.509 certificate: it is neither DER nor PEM\.$/,
      ],
      [
        'an expired certificate',
        async () => derBase64((await createClientCertificate('RS256', { validDays: -1 })).certificatePem),
        /expired/,
      ],
    ])('PATCH keyCredentials with %s: 400, nothing written', async (_label, key, message) => {
      const app = await create({ displayName: 'Badly keyed' });
      const answer = await call(`/v1.0/applications/${app.id as string}`, token('a'), {
        method: 'PATCH',
        body: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: await key() }] },
      });
      expectRefusal(answer, 400, 'Request_BadRequest', message);
      expect((await read(app.id as string)).keyCredentials).toEqual([]);
    });
    it('PATCH keyCredentials with a symmetric key or an encryption key: 400, nothing written', async () => {
      const app = await create({ displayName: 'Symmetric' });
      const key = derBase64((await createClientCertificate()).certificatePem);
      for (const entry of [
        { type: 'Symmetric', usage: 'Verify', key },
        { type: 'AsymmetricX509Cert', usage: 'Encrypt', key },
      ]) {
        const answer = await call(`/v1.0/applications/${app.id as string}`, token('a'), {
          method: 'PATCH',
          body: { keyCredentials: [entry] },
        });
        expectRefusal(
          answer,
          400,
          'Request_BadRequest',
          "A key credential must have type 'AsymmetricX509Cert' and usage 'Verify'.",
        );
      }
      expect((await read(app.id as string)).keyCredentials).toEqual([]);
    });

    it('an EC P-256 certificate is accepted', async () => {
      const app = await create({ displayName: 'Elliptic' });
      const certificate = await createClientCertificate('ES256');
      const answer = await call(`/v1.0/applications/${app.id as string}`, token('a'), {
        method: 'PATCH',
        body: {
          keyCredentials: [
            { type: 'AsymmetricX509Cert', usage: 'Verify', key: derBase64(certificate.certificatePem) },
          ],
        },
      });
      expect(answer.status).toBe(204);
      expect((await read(app.id as string)).keyCredentials).toMatchObject([
        { customKeyIdentifier: certificate.thumbprintHex.toUpperCase() },
      ]);
    });
  });

  describe('owners', () => {
    it('adds, lists and removes users of the tenant; refuses others', async () => {
      const app = await create({ displayName: 'Owned' });
      const path = `/v1.0/applications(appId='${app.appId as string}')/owners`;
      const owner = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `owner-${randomUUID().slice(0, 8)}@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Owner',
      });
      const stranger = await server.directory.users.create({
        tenant: b.tenantId,
        userPrincipalName: `stranger-${randomUUID().slice(0, 8)}@${b.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Stranger',
      });
      const ref = (id: string) => ({ '@odata.id': `${GRAPH}/v1.0/directoryObjects/${id}` });
      expect((await call(`${path}/$ref`, token('a'), { method: 'POST', body: ref(owner.id) })).status).toBe(
        204,
      );
      expectRefusal(
        await call(`${path}/$ref`, token('a'), { method: 'POST', body: ref(owner.id) }),
        400,
        'Request_BadRequest',
        "One or more added object references already exist for the following modified properties: 'owners'.",
      );
      expectRefusal(
        await call(`${path}/$ref`, token('a'), { method: 'POST', body: ref(stranger.id) }),
        404,
        'Request_ResourceNotFound',
      );
      expectRefusal(
        await call(`${path}/$ref`, token('a'), { method: 'POST', body: { '@odata.id': 'nonsense' } }),
        400,
        'Request_BadRequest',
      );
      const listed = await call(path, token('a'));
      expect(listed).toMatchObject({
        status: 200,
        body: {
          '@odata.context': `${server.url}/v1.0/$metadata#directoryObjects`,
          value: [
            {
              '@odata.type': '#microsoft.graph.user',
              id: owner.id,
              displayName: 'Owner',
              userPrincipalName: owner.userPrincipalName,
            },
          ],
        },
      });
      expectRefusal(
        await call(`${path}/${stranger.id}/$ref`, token('a'), { method: 'DELETE' }),
        404,
        'Request_ResourceNotFound',
      );
      expect((await call(`${path}/${owner.id}/$ref`, token('a'), { method: 'DELETE' })).status).toBe(204);
      expect((await call(path, token('a'))).body.value).toEqual([]);
    });

    it('owners page with $top and @odata.nextLink, with $select', async () => {
      const app = await create({ displayName: 'Many owners' });
      const path = `/v1.0/applications/${app.id as string}/owners`;
      const ids: string[] = [];
      for (const name of ['one', 'two', 'three']) {
        const user = await server.directory.users.create({
          tenant: a.tenantId,
          userPrincipalName: `${name}-${randomUUID().slice(0, 8)}@${a.domain}`,
          password: 'Correct-Horse-9',
          displayName: name,
        });
        ids.push(user.id);
        await call(`${path}/$ref`, token('a'), {
          method: 'POST',
          body: { '@odata.id': `${GRAPH}/v1.0/directoryObjects/${user.id}` },
        });
      }
      const first = await call(`${path}?$top=2&$select=id`, token('a'));
      expect(first.body.value).toEqual(
        [...ids]
          .sort()
          .slice(0, 2)
          .map((id) => ({ '@odata.type': '#microsoft.graph.user', id })),
      );
      const next = first.body['@odata.nextLink'] as string;
      expect(next.startsWith(`${server.url}${path}?`)).toBe(true);
      const second = await call(next.slice(server.url.length), token('a'));
      expect(second.body.value).toEqual([{ '@odata.type': '#microsoft.graph.user', id: [...ids].sort()[2] }]);
      expect(second.body['@odata.nextLink']).toBeUndefined();
    });

    it('a deleted user is no longer an owner', async () => {
      const app = await create({ displayName: 'Orphaned' });
      const owner = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `leaving-${randomUUID().slice(0, 8)}@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Leaving',
      });
      const path = `/v1.0/applications/${app.id as string}/owners`;
      await call(`${path}/$ref`, token('a'), {
        method: 'POST',
        body: { '@odata.id': `${GRAPH}/v1.0/users/${owner.id}` },
      });
      expect((await call(path, token('a'))).body.value).toHaveLength(1);
      await server.directory.users.delete(a.tenantId, owner.id);
      expect((await call(path, token('a'))).body.value).toEqual([]);
    });
  });

  describe('authorization and tenant isolation', () => {
    it('Application.Read.All reads but cannot write: 403 Authorization_RequestDenied', async () => {
      expect((await call('/v1.0/applications', token('n'))).status).toBe(200);
      expectRefusal(
        await call('/v1.0/applications', token('n'), { method: 'POST', body: { displayName: 'No' } }),
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
    });

    it('no Application permission at all: 403 on list', async () => {
      const scenario = await seedClientCredentialsScenario(server.directory);
      const bare = await appToken(scenario);
      expectRefusal(await call('/v1.0/applications', bare), 403, 'Authorization_RequestDenied');
      expectRefusal(
        await call('/v1.0/applications', bare, { method: 'POST', body: { displayName: 'No' } }),
        403,
        'Authorization_RequestDenied',
      );
    });

    it('an application of tenant B is 404 to tenant A on every route and action, and unchanged', async () => {
      const theirs = await create({ displayName: 'Of B' }, 'b');
      const before = await read(theirs.id as string, 'b');
      const owner = randomUUID();
      for (const prefix of [
        `/v1.0/applications/${theirs.id as string}`,
        `/v1.0/applications(appId='${theirs.appId as string}')`,
      ]) {
        for (const [method, suffix, body] of [
          ['GET', '', undefined],
          ['PATCH', '', { displayName: 'Hijacked' }],
          ['DELETE', '', undefined],
          ['POST', '/addPassword', { passwordCredential: {} }],
          ['POST', '/removePassword', { keyId: randomUUID() }],
          [
            'POST',
            '/addKey',
            { keyCredential: { type: 'AsymmetricX509Cert', usage: 'Verify', key: 'AA' }, proof: 'x' },
          ],
          ['POST', '/removeKey', { keyId: randomUUID(), proof: 'x' }],
          ['GET', '/owners', undefined],
          ['POST', '/owners/$ref', { '@odata.id': `${GRAPH}/v1.0/directoryObjects/${owner}` }],
          ['DELETE', `/owners/${owner}/$ref`, undefined],
        ] as const) {
          const answer = await call(`${prefix}${suffix}`, token('a'), { method, body });
          expect({ route: `${method} ${suffix}`, status: answer.status }).toEqual({
            route: `${method} ${suffix}`,
            status: 404,
          });
          expectRefusal(answer, 404, 'Request_ResourceNotFound');
        }
      }
      expect(await read(theirs.id as string, 'b')).toEqual(before);
    });

    it('a method an application path does not answer: 405', async () => {
      const app = await create({ displayName: 'Methodical' });
      expectRefusal(
        await call(`/v1.0/applications/${app.id as string}`, token('a'), { method: 'PUT', body: {} }),
        405,
        'Request_BadRequest',
      );
    });
  });

  describe('delegated tokens', () => {
    it('Application.ReadWrite.All consented for the organization: a plain user cannot register (403), an administrator can, in their own tenant', async () => {
      const admin = await userToken(i.admin.userPrincipalName, `${GRAPH}/Application.ReadWrite.All`, true);
      const alice = await userToken(i.user.userPrincipalName, `${GRAPH}/Application.ReadWrite.All`);
      expectRefusal(
        await call('/v1.0/applications', alice, { method: 'POST', body: { displayName: 'By Alice' } }),
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
      expectRefusal(await call('/v1.0/applications', alice), 403, 'Authorization_RequestDenied');
      const created = await call('/v1.0/applications', admin, {
        method: 'POST',
        body: { displayName: 'By the administrator' },
      });
      expect(created.status).toBe(201);
      const listed = await call('/v1.0/applications?$select=id,displayName', admin);
      expect(listed.body.value).toContainEqual({ id: created.body.id, displayName: 'By the administrator' });
      expectRefusal(
        await call(`/v1.0/applications/${created.body.id as string}`, token('a')),
        404,
        'Request_ResourceNotFound',
      );
    });
  });

  describe('an app-only token with Application.ReadWrite.All', () => {
    it('registers an app that then gets its own client-credentials token', async () => {
      const app = await create({ displayName: 'Self-service daemon' });
      const secret = await call(`/v1.0/applications/${app.id as string}/addPassword`, token('a'), {
        method: 'POST',
        body: { passwordCredential: { displayName: 'first' } },
      });
      expect(secret.status).toBe(200);
      // Graph's POST /applications makes no service principal; the directory service makes it here, as
      // POST /servicePrincipals does.
      await server.directory.servicePrincipals.create(a.tenantId, app.appId as string);
      await server.server.refresh();
      const response = await postForm(endpointUrl(server.url, a.tenantId, 'token'), {
        grant_type: 'client_credentials',
        client_id: app.appId as string,
        client_secret: secret.body.secretText as string,
        scope: `${a.api.identifierUri}/.default`,
      });
      expect(response.status).toBe(200);
      const noPermission = await call(`/v1.0/applications/${app.id as string}/addPassword`, token('n'), {
        method: 'POST',
        body: { passwordCredential: {} },
      });
      expectRefusal(noPermission, 403, 'Authorization_RequestDenied');
    });
  });
});
