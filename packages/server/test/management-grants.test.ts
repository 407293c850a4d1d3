import {
  authorizeUrl,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTORY_APP_ID } from '../src/directory/builtin-directory-app.js';
import {
  callApi,
  DIALECTS,
  delegatedToken,
  expectGraphError,
  GRAPH,
  graphAppToken,
  seedDirectoryClient,
  type Answer,
} from './support/management-api.js';

// /v1.0/oauth2PermissionGrants over HTTPS against a real server on SQLite and PostgreSQL: Graph's JSON, $filter
// and paging, every refusal with its status and code (and nothing written), tenant isolation, and a grant made
// through the API used by the next authorization request without asking the user to consent.

const NOT_FOUND = 'Request_ResourceNotFound';
const BAD_REQUEST = 'Request_BadRequest';
const DENIED = 'Authorization_RequestDenied';

/** A tenant of the interactive scenario with the service principal ids of its clients and API. */
interface Tenant {
  readonly scenario: InteractiveScenario;
  readonly webSp: string;
  readonly spaSp: string;
  readonly apiSp: string;
}

describe.each(DIALECTS)('management API oauth2PermissionGrants on $name', ({ database }) => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;
  const tokens = new Map<string, string>();
  const call = (
    path: string,
    as: string | undefined,
    init: { method?: string; body?: unknown } = {},
  ): Promise<Answer> => callApi(server, path, as === undefined ? undefined : tokens.get(as), init);

  /** Seeds an interactive tenant and a daemon in it holding `roles` on the directory API; its token as `name`. */
  async function tenantWithDaemon(name: string, roles: readonly string[]): Promise<Tenant> {
    const scenario = await seedInteractiveScenario(server.directory);
    const spOf = async (appId: string) =>
      (await server.directory.servicePrincipals.get(scenario.tenantId, { appId })).id;
    const daemon = await seedDirectoryClient(server, scenario.tenantId, 'Consent Daemon', roles);
    tokens.set(name, (await graphAppToken(server, scenario.tenantId, daemon)).token);
    return {
      scenario,
      webSp: await spOf(scenario.web.appId),
      spaSp: await spOf(scenario.spa.appId),
      apiSp: await spOf(scenario.api.appId),
    };
  }

  /** The grants of a tenant as stored. */
  const stored = async (tenant: Tenant) =>
    (await server.directory.grants.listPermissionGrants({ tenant: tenant.scenario.tenantId, top: 999 }))
      .items;

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await tenantWithDaemon('a', ['DelegatedPermissionGrant.ReadWrite.All']);
    b = await tenantWithDaemon('b', ['DelegatedPermissionGrant.ReadWrite.All']);
    await tenantWithDaemon('n', ['Application.Read.All']);
  });
  afterAll(() => server.close());

  /** Whether Alice of tenant A signs in to the web app for `scope` without being asked to consent. */
  async function signsInWithoutConsent(scope: string): Promise<boolean> {
    const redirect = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, a.scenario.tenantId, a.scenario.web, { scope: `openid ${scope}` }),
      { userName: a.scenario.user.userPrincipalName, password: a.scenario.password, consent: 'decline' },
    );
    const location = new URL(redirect.location ?? 'https://none.example/');
    return location.searchParams.get('code') !== null;
  }

  it('POST, GET, PATCH, DELETE an AllPrincipals grant; it takes effect at the next authorization, no consent asked', async () => {
    const filesRead = `${a.scenario.api.identifierUri}/Files.Read`;
    expect(await signsInWithoutConsent(filesRead)).toBe(false);
    // The OpenID Connect scopes are the directory API's: consented for everyone first, Files.Read still missing.
    const directory = await server.directory.servicePrincipals.get(a.scenario.tenantId, {
      appId: DIRECTORY_APP_ID,
    });
    const openid = await call('/v1.0/oauth2PermissionGrants', 'a', {
      method: 'POST',
      body: { clientId: a.webSp, consentType: 'AllPrincipals', resourceId: directory.id, scope: 'openid' },
    });
    expect(openid.status).toBe(201);
    expect(await signsInWithoutConsent(filesRead)).toBe(false);

    const created = await call('/v1.0/oauth2PermissionGrants', 'a', {
      method: 'POST',
      body: { clientId: a.webSp, consentType: 'AllPrincipals', resourceId: a.apiSp, scope: 'files.read' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#oauth2PermissionGrants/$entity`,
      clientId: a.webSp,
      consentType: 'AllPrincipals',
      id: expect.any(String) as unknown,
      principalId: null,
      resourceId: a.apiSp,
      scope: 'Files.Read',
    });
    const id = String(created.body.id);
    expect(created.headers.get('location')).toBe(`${server.url}/v1.0/oauth2PermissionGrants/${id}`);
    expect(await signsInWithoutConsent(filesRead)).toBe(true);

    const got = await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a');
    expect(got.body).toEqual(created.body);
    const selected = await call(`/v1.0/oauth2PermissionGrants/${id}?$select=scope`, 'a');
    expect(selected.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#oauth2PermissionGrants(scope)/$entity`,
      scope: 'Files.Read',
    });

    const patched = await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a', {
      method: 'PATCH',
      body: { scope: 'Files.Read Files.Admin' },
    });
    expect(patched.status).toBe(204);
    expect((await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a')).body.scope).toBe('Files.Read Files.Admin');
    expect(await signsInWithoutConsent(`${a.scenario.api.identifierUri}/Files.Admin`)).toBe(true);
    expect(
      (
        await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a', {
          method: 'PATCH',
          body: { scope: 'Files.Admin' },
        })
      ).status,
    ).toBe(204);
    expect(await signsInWithoutConsent(filesRead)).toBe(false);

    expect((await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a', { method: 'DELETE' })).status).toBe(204);
    expectGraphError(await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a'), 404, NOT_FOUND);
    expectGraphError(
      await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a', { method: 'DELETE' }),
      404,
      NOT_FOUND,
    );
    expect(await signsInWithoutConsent(`${a.scenario.api.identifierUri}/Files.Admin`)).toBe(false);
  });

  it('a Principal grant for one user, listed with $filter on each property and paged', async () => {
    const alice = a.scenario.user.id;
    const principal = await call('/v1.0/oauth2PermissionGrants', 'a', {
      method: 'POST',
      body: {
        clientId: a.spaSp,
        consentType: 'Principal',
        principalId: alice,
        resourceId: a.apiSp,
        scope: 'Files.Read',
      },
    });
    expect(principal.status).toBe(201);
    expect(principal.body).toMatchObject({ consentType: 'Principal', principalId: alice });
    const all = await call('/v1.0/oauth2PermissionGrants', 'a', {
      method: 'POST',
      body: {
        clientId: a.spaSp,
        consentType: 'AllPrincipals',
        principalId: null,
        resourceId: a.apiSp,
        scope: '',
      },
    });
    expect(all.status).toBe(201);
    const { '@odata.context': _p, ...principalEntity } = principal.body;
    const { '@odata.context': _a, ...allEntity } = all.body;

    const list = async (filter: string) => {
      const answer = await call(`/v1.0/oauth2PermissionGrants?$filter=${encodeURIComponent(filter)}`, 'a');
      expect(answer.status).toBe(200);
      expect(answer.body['@odata.context']).toBe(`${server.url}/v1.0/$metadata#oauth2PermissionGrants`);
      return answer.body.value as Record<string, unknown>[];
    };
    expect(await list(`principalId eq '${alice}'`)).toEqual([principalEntity]);
    expect(await list(`clientId eq '${a.spaSp}' and consentType eq 'AllPrincipals'`)).toEqual([allEntity]);
    expect(
      new Set(
        (await list(`resourceId eq '${a.apiSp.toUpperCase()}' and clientId eq '${a.spaSp}'`)).map(
          (g) => g.id,
        ),
      ),
    ).toEqual(new Set([principal.body.id, all.body.id]));
    expect(await list(`consentType eq 'Nobody'`)).toEqual([]);
    expect(await list(`clientId eq '${a.spaSp}' and clientId eq '${a.webSp}'`)).toEqual([]);
    expect(await list(`clientId eq '${b.spaSp}'`)).toEqual([]);

    const seen: unknown[] = [];
    let next: string | undefined = '/v1.0/oauth2PermissionGrants?$top=1';
    while (next !== undefined) {
      const page = await call(next, 'a');
      expect(page.status).toBe(200);
      expect((page.body.value as unknown[]).length).toBeLessThanOrEqual(1);
      seen.push(...(page.body.value as unknown[]));
      next = (page.body['@odata.nextLink'] as string | undefined)?.slice(server.url.length);
    }
    expect(seen).toEqual((await call('/v1.0/oauth2PermissionGrants', 'a')).body.value);
    expect(seen.length).toBe((await stored(a)).length);
  });

  it('GET /servicePrincipals/{id}/oauth2PermissionGrants: the client’s grants, paged; another tenant’s client is 404', async () => {
    const mine = (await stored(a)).filter((grant) => grant.clientId === a.spaSp);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    const seen: { clientId: string }[] = [];
    let next: string | undefined = `/v1.0/servicePrincipals/${a.spaSp}/oauth2PermissionGrants?$top=1`;
    while (next !== undefined) {
      const page = await call(next, 'a');
      expect(page.status).toBe(200);
      expect(page.body['@odata.context']).toBe(`${server.url}/v1.0/$metadata#oauth2PermissionGrants`);
      seen.push(...(page.body.value as { clientId: string }[]));
      const link = page.body['@odata.nextLink'] as string | undefined;
      if (link !== undefined)
        expect(link).toContain(`/v1.0/servicePrincipals/${a.spaSp}/oauth2PermissionGrants?`);
      next = link?.slice(server.url.length);
    }
    expect(seen.map((grant) => grant.clientId)).toEqual(mine.map(() => a.spaSp));
    const filtered = await call(
      `/v1.0/servicePrincipals/${a.spaSp}/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq '${a.webSp}'`)}`,
      'a',
    );
    expect(filtered.body.value).toEqual([]);
    expectGraphError(
      await call(`/v1.0/servicePrincipals/${b.spaSp}/oauth2PermissionGrants`, 'a'),
      404,
      NOT_FOUND,
    );
    expectGraphError(
      await call(`/v1.0/servicePrincipals/${a.spaSp}/oauth2PermissionGrants`, 'n'),
      403,
      DENIED,
    );
  });

  it('migration 010 indexes assignments and grants for their keyset lists', async () => {
    const db = server.directory.store.db;
    const names =
      database === 'sqlite'
        ? (
            await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db)
          ).rows.map((row) => row.name)
        : (
            await sql<{
              name: string;
            }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(db)
          ).rows.map((row) => row.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'app_role_assignments_tenant_id',
        'app_role_assignments_principal_id',
        'app_role_assignments_resource_id',
        'oauth2_permission_grants_tenant_id',
        'oauth2_permission_grants_client_id',
        'oauth2_permission_grants_resource_id',
        'oauth2_permission_grants_principal_id',
      ]),
    );
  });

  it.each([
    ['startswith', `startswith(clientId,'a')`, 'Request_UnsupportedQuery'],
    ['a property not filterable', `scope eq 'Files.Read'`, 'Request_UnsupportedQuery'],
    ['an id that is no GUID', `clientId eq 'nope'`, BAD_REQUEST],
    [
      'or',
      `clientId eq '00000000-0000-0000-0000-000000000001' or consentType eq 'Principal'`,
      'Request_UnsupportedQuery',
    ],
  ])('$filter with %s: 400', async (_label, filter, code) => {
    expectGraphError(
      await call(`/v1.0/oauth2PermissionGrants?$filter=${encodeURIComponent(filter)}`, 'a'),
      400,
      code,
    );
  });

  it('refuses bad bodies, unknown scopes and duplicates, writing nothing', async () => {
    const good = {
      clientId: a.webSp,
      consentType: 'Principal',
      principalId: a.scenario.admin.id,
      resourceId: a.apiSp,
      scope: 'Files.Read',
    };
    const created = await call('/v1.0/oauth2PermissionGrants', 'a', { method: 'POST', body: good });
    expect(created.status).toBe(201);
    const before = await stored(a);
    const refusals: [unknown, number, string, string | undefined][] = [
      [good, 409, 'Request_MultipleObjectsWithSameKeyValue', 'Permission entry already exists.'],
      [
        { ...good, scope: 'Files.Nope' },
        400,
        BAD_REQUEST,
        "The resource 'Files API' has no delegated scope 'Files.Nope'.",
      ],
      [
        { ...good, consentType: 'Everyone' },
        400,
        BAD_REQUEST,
        "Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.",
      ],
      [
        { ...good, consentType: 'AllPrincipals' },
        400,
        BAD_REQUEST,
        'An AllPrincipals grant has no principalId.',
      ],
      [
        { ...good, principalId: null },
        400,
        BAD_REQUEST,
        'A Principal grant needs the principalId of the user.',
      ],
      [
        { ...good, principalId: a.webSp },
        400,
        BAD_REQUEST,
        'The principalId of a Principal grant names a user.',
      ],
      [{ ...good, clientId: 'nope' }, 400, BAD_REQUEST, "Invalid object identifier 'nope'."],
      [{ ...good, colour: 'red' }, 400, BAD_REQUEST, "Invalid property 'colour'."],
      [{ ...good, id: 'x' }, 400, BAD_REQUEST, "Property 'id' is read-only and cannot be set."],
      [
        { ...good, scope: 7 },
        400,
        BAD_REQUEST,
        "Cannot convert the value of property 'scope' to the expected type 'Edm.String'.",
      ],
      [
        { clientId: a.webSp, consentType: 'AllPrincipals', resourceId: a.apiSp },
        400,
        BAD_REQUEST,
        "Property 'scope' is required to create an oAuth2PermissionGrant.",
      ],
      [{ ...good, clientId: b.webSp }, 404, NOT_FOUND, undefined],
      [{ ...good, resourceId: b.apiSp }, 404, NOT_FOUND, undefined],
      [{ ...good, principalId: b.scenario.user.id }, 404, NOT_FOUND, undefined],
      ['not json', 400, BAD_REQUEST, undefined],
    ];
    for (const [body, status, code, message] of refusals) {
      expectGraphError(
        await call('/v1.0/oauth2PermissionGrants', 'a', { method: 'POST', body }),
        status,
        code,
        message,
      );
    }
    const id = String(created.body.id);
    for (const [body, message] of [
      [{ scope: 'Files.Nope' }, "The resource 'Files API' has no delegated scope 'Files.Nope'."],
      [
        { scope: 'Files.Read', consentType: 'AllPrincipals' },
        "Property 'consentType' is read-only and cannot be set.",
      ],
      [{}, "Property 'scope' is required to update an oAuth2PermissionGrant."],
      [{ expiryTime: '2030-01-01T00:00:00Z' }, "Invalid property 'expiryTime'."],
    ] as const) {
      expectGraphError(
        await call(`/v1.0/oauth2PermissionGrants/${id}`, 'a', { method: 'PATCH', body }),
        400,
        BAD_REQUEST,
        message,
      );
    }
    expect(await stored(a)).toEqual(before);
  });

  it('tenant isolation: another tenant’s grant is 404 for GET, PATCH and DELETE and never listed', async () => {
    const theirs = await call('/v1.0/oauth2PermissionGrants', 'b', {
      method: 'POST',
      body: { clientId: b.webSp, consentType: 'AllPrincipals', resourceId: b.apiSp, scope: 'Files.Read' },
    });
    expect(theirs.status).toBe(201);
    const path = `/v1.0/oauth2PermissionGrants/${String(theirs.body.id)}`;
    for (const init of [{}, { method: 'PATCH', body: { scope: '' } }, { method: 'DELETE' }]) {
      expectGraphError(await call(path, 'a', init), 404, NOT_FOUND);
    }
    expect((await call(path, 'b')).body.scope).toBe('Files.Read');
    const listed = (await call('/v1.0/oauth2PermissionGrants?$top=999', 'a')).body.value as { id: string }[];
    expect(listed.map((g) => g.id)).not.toContain(theirs.body.id);
    expectGraphError(await call('/v1.0/oauth2PermissionGrants/not*an*id', 'a'), 404, NOT_FOUND);
  });

  it('needs DelegatedPermissionGrant.ReadWrite.All: 403 for every method, nothing written', async () => {
    const [grant] = await stored(a);
    const before = await stored(a);
    for (const [path, init] of [
      ['/v1.0/oauth2PermissionGrants', {}],
      [
        '/v1.0/oauth2PermissionGrants',
        {
          method: 'POST',
          body: { clientId: a.webSp, consentType: 'AllPrincipals', resourceId: a.apiSp, scope: '' },
        },
      ],
      [`/v1.0/oauth2PermissionGrants/${grant?.id ?? ''}`, {}],
      [`/v1.0/oauth2PermissionGrants/${grant?.id ?? ''}`, { method: 'PATCH', body: { scope: '' } }],
      [`/v1.0/oauth2PermissionGrants/${grant?.id ?? ''}`, { method: 'DELETE' }],
    ] as const) {
      expectGraphError(
        await call(path, 'n', init),
        403,
        DENIED,
        'Insufficient privileges to complete the operation.',
      );
    }
    expectGraphError(
      await call('/v1.0/oauth2PermissionGrants', undefined),
      401,
      'InvalidAuthenticationToken',
    );
    expectGraphError(
      await call('/v1.0/oauth2PermissionGrants', 'a', { method: 'PUT', body: {} }),
      405,
      BAD_REQUEST,
    );
    expect(await stored(a)).toEqual(before);
  });

  it('delegated: an administrator with DelegatedPermissionGrant.ReadWrite.All reads and writes; a plain user with the scope gets 403', async () => {
    const scope = `${GRAPH}/DelegatedPermissionGrant.ReadWrite.All`;
    const admin = await delegatedToken(server, a.scenario, a.scenario.admin.userPrincipalName, scope, true);
    const listed = await callApi(server, '/v1.0/oauth2PermissionGrants', admin);
    expect(listed.status).toBe(200);
    const consent = (listed.body.value as { clientId: string; resourceId: string; scope: string }[]).find(
      (grant) => grant.clientId === a.webSp && grant.scope.includes('DelegatedPermissionGrant.ReadWrite.All'),
    );
    expect(consent).toMatchObject({ consentType: 'AllPrincipals', principalId: null });
    const created = await callApi(server, '/v1.0/oauth2PermissionGrants', admin, {
      method: 'POST',
      body: {
        '@odata.type': '#microsoft.graph.oAuth2PermissionGrant',
        clientId: a.spaSp,
        consentType: 'Principal',
        principalId: a.scenario.admin.id,
        resourceId: a.apiSp,
        scope: 'Files.Admin',
      },
    });
    expect(created.status).toBe(201);

    const user = await delegatedToken(server, a.scenario, a.scenario.user.userPrincipalName, scope);
    const before = await stored(a);
    expectGraphError(await callApi(server, '/v1.0/oauth2PermissionGrants', user), 403, DENIED);
    expectGraphError(
      await callApi(server, `/v1.0/oauth2PermissionGrants/${String(created.body.id)}`, user, {
        method: 'DELETE',
      }),
      403,
      DENIED,
    );
    expect(await stored(a)).toEqual(before);
  });
});
