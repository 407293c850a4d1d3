import { randomUUID } from 'node:crypto';
import { Client, GraphError } from '@microsoft/microsoft-graph-client';
import {
  endpointUrl,
  postForm,
  runTesseraCli,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTORY_ROLE_TEMPLATE_IDS } from '../src/directory/conditional-access-policy.js';
import {
  callApi,
  DIALECTS,
  expectGraphError,
  GRAPH,
  graphAppToken,
  seedScenarioWith,
  type Answer,
} from './support/management-api.js';

// Graph's /identity/conditionalAccess/policies on a real server: CRUD in Graph's shape, permissions, tenant
// isolation, strict bodies (nothing written, the refusal audited), the Graph SDK, and the tessera policy CLI.

const PATH = '/v1.0/identity/conditionalAccess/policies';
const BAD_REQUEST = 'Request_BadRequest';
const DENIED = 'Authorization_RequestDenied';

/** A valid policy body: MFA for every user for `appId`. */
function policyBody(appId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    displayName: 'Require MFA for the API',
    state: 'enabled',
    conditions: {
      clientAppTypes: ['all'],
      applications: { includeApplications: [appId] },
      users: { includeUsers: ['All'] },
    },
    grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    ...extra,
  };
}

describe.each(DIALECTS)('management API conditional access policies on $name', ({ database }) => {
  let server: TestServer;
  let a: ClientCredentialsScenario;
  let b: ClientCredentialsScenario;
  let reader: ClientCredentialsScenario;
  const tokens = new Map<string, string>();
  const call = (
    path: string,
    as: string | undefined,
    init: Parameters<typeof callApi>[3] = {},
  ): Promise<Answer> => callApi(server, path, as === undefined ? undefined : tokens.get(as), init);
  const stored = (tenantId: string) => server.directory.conditionalAccessPolicies.list(tenantId);

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedScenarioWith(server, ['Policy.ReadWrite.ConditionalAccess']);
    b = await seedScenarioWith(server, ['Policy.ReadWrite.ConditionalAccess']);
    reader = await seedScenarioWith(server, ['Policy.Read.All']);
    const none = await seedScenarioWith(server, ['Application.Read.All']);
    for (const [name, scenario] of [
      ['a', a],
      ['b', b],
      ['reader', reader],
      ['none', none],
    ] as const) {
      tokens.set(name, (await graphAppToken(server, scenario.tenantId, scenario.daemon)).token);
    }
    // The reader's tenant has one policy to read.
    await server.directory.conditionalAccessPolicies.create(reader.tenantId, {
      displayName: 'Read me',
      state: 'disabled',
      conditions: { users: { includeUsers: ['All'] }, applications: { includeApplications: ['All'] } },
      grantControls: { builtInControls: ['mfa'] },
    });
  });
  afterAll(() => server.close());

  it('POST, GET, list with $filter/$select, PATCH, DELETE in Graph’s shape', async () => {
    const created = await call(PATH, 'a', {
      method: 'POST',
      body: {
        '@odata.type': '#microsoft.graph.conditionalAccessPolicy',
        ...policyBody(a.api.appId, { state: 'enabledForReportingButNotEnforced' }),
      },
    });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect(created.headers.get('location')).toBe(`${server.url}${PATH}/${id}`);
    expect(created.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#identity/conditionalAccess/policies/$entity`,
      id,
      templateId: null,
      displayName: 'Require MFA for the API',
      createdDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
      modifiedDateTime: null,
      state: 'enabledForReportingButNotEnforced',
      sessionControls: null,
      conditions: {
        userRiskLevels: [],
        signInRiskLevels: [],
        clientAppTypes: ['all'],
        servicePrincipalRiskLevels: [],
        platforms: null,
        locations: null,
        devices: null,
        clientApplications: null,
        applications: {
          includeApplications: [a.api.appId],
          excludeApplications: [],
          includeUserActions: [],
          includeAuthenticationContextClassReferences: [],
          applicationFilter: null,
        },
        users: {
          includeUsers: ['All'],
          excludeUsers: [],
          includeGroups: [],
          excludeGroups: [],
          includeRoles: [],
          excludeRoles: [],
          includeGuestsOrExternalUsers: null,
          excludeGuestsOrExternalUsers: null,
        },
      },
      grantControls: {
        operator: 'OR',
        builtInControls: ['mfa'],
        customAuthenticationFactors: [],
        termsOfUse: [],
        authenticationStrength: null,
      },
    });

    const got = await call(`${PATH}/${id}?$select=id,displayName,state`, 'a');
    expect(got.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#identity/conditionalAccess/policies(id,displayName,state)/$entity`,
      id,
      displayName: 'Require MFA for the API',
      state: 'enabledForReportingButNotEnforced',
    });

    const patched = await call(`${PATH}/${id}`, 'a', {
      method: 'PATCH',
      body: {
        state: 'enabled',
        conditions: { users: { includeRoles: ['Global Administrator'], includeUsers: [] } },
      },
    });
    expect(patched.status).toBe(204);
    const after = (await stored(a.tenantId)).find((policy) => policy.id === id);
    expect(after).toMatchObject({
      state: 'enabled',
      conditions: {
        users: { includeUsers: [], includeRoles: [DIRECTORY_ROLE_TEMPLATE_IDS['Global Administrator']] },
        applications: { includeApplications: [a.api.appId] },
      },
    });
    expect(after?.modifiedAt).not.toBeNull();

    const listed = await call(`${PATH}?$filter=${encodeURIComponent("state eq 'enabled'")}&$select=id`, 'a');
    expect(listed.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#identity/conditionalAccess/policies(id)`,
      value: [{ id }],
    });
    const none = await call(`${PATH}?$filter=${encodeURIComponent("startswith(displayName,'zzz')")}`, 'a');
    expect(none.body.value).toEqual([]);

    expect((await call(`${PATH}/${id}`, 'a', { method: 'DELETE' })).status).toBe(204);
    expectGraphError(await call(`${PATH}/${id}`, 'a'), 404, 'Request_ResourceNotFound');
    expect(await stored(a.tenantId)).toEqual([]);
  });

  it('audits each write under Entra’s activity names (category Policy)', async () => {
    const correlationId = randomUUID();
    const headers = { 'client-request-id': correlationId };
    const created = await call(PATH, 'a', { method: 'POST', body: policyBody(a.api.appId), headers });
    const id = String(created.body.id);
    await call(`${PATH}/${id}`, 'a', { method: 'PATCH', body: { state: 'disabled' }, headers });
    await call(`${PATH}/${id}`, 'a', { method: 'DELETE', headers });
    const page = await server.directory.audits.repository.listAudits({
      tenantId: a.tenantId,
      top: 10,
      filter: { correlationId },
    });
    expect(
      page.items
        .map((x) => [x.activityDisplayName, x.category, x.operationType, x.result, x.targetResources[0]?.id])
        .sort(),
    ).toEqual(
      [
        ['Add conditional access policy', 'Policy', 'Add', 'success', id],
        ['Update conditional access policy', 'Policy', 'Update', 'success', id],
        ['Delete conditional access policy', 'Policy', 'Delete', 'success', id],
      ].sort(),
    );
  });

  const badBodies: readonly (readonly [string, unknown, string])[] = [
    ['not an object', [1], 'Expected a JSON object for the request body.'],
    ['an unknown property', { ...policyBody('All'), color: 'red' }, "Invalid property 'color'."],
    [
      'a read-only property',
      { ...policyBody('All'), id: randomUUID() },
      "Property 'id' is read-only and cannot be set.",
    ],
    [
      'an unknown nested property',
      policyBody('All', {
        conditions: {
          users: { includeUsers: ['All'], everyone: true },
          applications: { includeApplications: ['All'] },
        },
      }),
      "Invalid property 'conditions.users.everyone'.",
    ],
    [
      'a string for a list',
      policyBody('All', {
        conditions: { users: { includeUsers: 'All' }, applications: { includeApplications: ['All'] } },
      }),
      "Cannot convert the value of property 'conditions.users.includeUsers' to the expected type 'Collection(Edm.String)'.",
    ],
    [
      'a number for the name',
      policyBody('All', { displayName: 7 }),
      "Cannot convert the value of property 'displayName' to the expected type 'Edm.String'.",
    ],
    [
      'a condition Tessera does not evaluate',
      policyBody('All', {
        conditions: {
          users: { includeUsers: ['All'] },
          applications: { includeApplications: ['All'] },
          locations: { includeLocations: ['All'] },
        },
      }),
      "The property 'conditions.locations' is not supported by Tessera: leave it unset (null or []).",
    ],
    [
      'an unknown state',
      policyBody('All', { state: 'on' }),
      "The state 'on' is not one of enabled, disabled, enabledForReportingButNotEnforced.",
    ],
    [
      'block',
      policyBody('All', { grantControls: { operator: 'OR', builtInControls: ['block'] } }),
      "The built-in control 'block' is not supported: Tessera enforces 'mfa' only.",
    ],
    [
      'no control',
      policyBody('All', { grantControls: { operator: 'OR', builtInControls: [] } }),
      "grantControls.builtInControls must name a control: ['mfa'].",
    ],
    [
      'a user that is no id',
      policyBody('All', {
        conditions: { users: { includeUsers: ['alice'] }, applications: { includeApplications: ['All'] } },
      }),
      "'alice' is not a user object id, 'All' or 'None'.",
    ],
    [
      'an unknown role',
      policyBody('All', {
        conditions: { users: { includeRoles: ['Overlord'] }, applications: { includeApplications: ['All'] } },
      }),
      "'Overlord' is not a directory role template id or role name Tessera knows.",
    ],
    [
      'a bad authentication context',
      policyBody('All', {
        conditions: {
          users: { includeUsers: ['All'] },
          applications: { includeAuthenticationContextClassReferences: ['c100'] },
        },
      }),
      "'c100' is not an authentication context id: 'c1' to 'c99'.",
    ],
    [
      'All with an id',
      policyBody('All', {
        conditions: {
          users: { includeUsers: ['All', randomUUID()] },
          applications: { includeApplications: ['All'] },
        },
      }),
      "'All' and 'None' stand alone in includeUsers.",
    ],
    [
      'no users',
      policyBody('All', { conditions: { users: {}, applications: { includeApplications: ['All'] } } }),
      'A conditional access policy must include users: conditions.users.includeUsers or includeRoles.',
    ],
    [
      'no name',
      { state: 'enabled', grantControls: { builtInControls: ['mfa'] } },
      "A conditional access policy needs 'displayName'.",
    ],
  ];

  it.each(badBodies)(
    'refuses %s with 400, writing nothing, audited as a failure',
    async (_name, body, message) => {
      const correlationId = randomUUID();
      const answer = await call(PATH, 'a', {
        method: 'POST',
        body,
        headers: { 'client-request-id': correlationId },
      });
      expectGraphError(answer, 400, BAD_REQUEST, message);
      expect(await stored(a.tenantId)).toEqual([]);
      const page = await server.directory.audits.repository.listAudits({
        tenantId: a.tenantId,
        top: 10,
        filter: { correlationId },
      });
      expect(page.items.map((x) => [x.activityDisplayName, x.result])).toEqual([
        ['Add conditional access policy', 'failure'],
      ]);
    },
  );

  it('PATCH refuses a bad body and an unknown policy, changing nothing', async () => {
    const created = await call(PATH, 'a', { method: 'POST', body: policyBody(a.api.appId) });
    const id = String(created.body.id);
    const before = await stored(a.tenantId);
    expectGraphError(
      await call(`${PATH}/${id}`, 'a', { method: 'PATCH', body: { state: 7 } }),
      400,
      BAD_REQUEST,
    );
    expectGraphError(
      await call(`${PATH}/${id}`, 'a', {
        method: 'PATCH',
        body: {
          conditions: {
            applications: { includeApplications: [], includeAuthenticationContextClassReferences: [] },
          },
        },
      }),
      400,
      BAD_REQUEST,
    );
    expectGraphError(
      await call(`${PATH}/${randomUUID()}`, 'a', { method: 'PATCH', body: { state: 'disabled' } }),
      404,
      'Request_ResourceNotFound',
    );
    expect(await stored(a.tenantId)).toEqual(before);
    await call(`${PATH}/${id}`, 'a', { method: 'DELETE' });
  });

  it('tenant isolation: another tenant’s policy is 404 for GET, PATCH and DELETE and never listed', async () => {
    const created = await call(PATH, 'b', { method: 'POST', body: policyBody(b.api.appId) });
    const id = String(created.body.id);
    for (const init of [{}, { method: 'PATCH', body: { state: 'disabled' } }, { method: 'DELETE' }]) {
      expectGraphError(await call(`${PATH}/${id}`, 'a', init), 404, 'Request_ResourceNotFound');
    }
    expect(((await call(PATH, 'a')).body.value as { id: string }[]).map((p) => p.id)).not.toContain(id);
    expect((await stored(b.tenantId)).map((p) => [p.id, p.state])).toEqual([[id, 'enabled']]);
    await call(`${PATH}/${id}`, 'b', { method: 'DELETE' });
  });

  it('needs the permission: Policy.Read.All reads but not writes; without either, 403; no token, 401', async () => {
    const [policy] = await stored(reader.tenantId);
    const id = policy?.id ?? '';
    expect((await call(PATH, 'reader')).status).toBe(200);
    expect((await call(`${PATH}/${id}`, 'reader')).status).toBe(200);
    for (const [as, path, init] of [
      ['reader', PATH, { method: 'POST', body: policyBody('All') }],
      ['reader', `${PATH}/${id}`, { method: 'PATCH', body: { state: 'enabled' } }],
      ['reader', `${PATH}/${id}`, { method: 'DELETE' }],
      ['none', PATH, {}],
      ['none', `${PATH}/${id}`, {}],
    ] as const) {
      expectGraphError(
        await call(path, as, init),
        403,
        DENIED,
        'Insufficient privileges to complete the operation.',
      );
    }
    expectGraphError(await call(PATH, undefined), 401, 'InvalidAuthenticationToken');
    expectGraphError(await call(PATH, 'a', { method: 'PUT', body: {} }), 405, BAD_REQUEST);
    expect((await stored(reader.tenantId)).map((p) => [p.id, p.state])).toEqual([[id, 'disabled']]);
  });
});

describe('conditional access policies through the Graph SDK and the CLI', () => {
  let server: TestServer;
  let a: ClientCredentialsScenario;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer();
    a = await seedScenarioWith(server, ['Policy.ReadWrite.ConditionalAccess']);
    client = Client.initWithMiddleware({
      authProvider: {
        async getAccessToken() {
          const response = await postForm(endpointUrl(server.url, a.tenantId, 'token'), {
            grant_type: 'client_credentials',
            client_id: a.daemon.appId,
            client_secret: a.daemon.secret,
            scope: `${GRAPH}/.default`,
          });
          return ((await response.json()) as { access_token: string }).access_token;
        },
      },
      baseUrl: server.url,
      customHosts: new Set([new URL(server.url).hostname]),
    });
  });
  afterAll(() => server.close());

  it('the Microsoft Graph JavaScript SDK creates and lists a policy; a bad one is its GraphError', async () => {
    const created = (await client
      .api('/identity/conditionalAccess/policies')
      .post(policyBody(a.api.appId))) as { id: string; state: string };
    expect(created.state).toBe('enabled');
    const listed = (await client
      .api('/identity/conditionalAccess/policies')
      .select(['id', 'displayName'])
      .get()) as { value: { id: string; displayName: string }[] };
    expect(listed.value).toEqual([{ id: created.id, displayName: 'Require MFA for the API' }]);
    const failure = await client
      .api('/identity/conditionalAccess/policies')
      .post(policyBody(a.api.appId, { state: 'sometimes' }))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(GraphError);
    expect(failure).toMatchObject({ statusCode: 400, code: BAD_REQUEST });
    await client.api(`/identity/conditionalAccess/policies/${created.id}`).delete();
  });

  it('tessera policy create | list | show | disable | enable | delete on the server’s database', async () => {
    const cli = async (...args: string[]) => {
      const result = await runTesseraCli([...args, '--data', server.dataDir, '--json']);
      return {
        code: result.code,
        json: JSON.parse(result.stdout || 'null') as unknown,
        stderr: result.stderr,
      };
    };
    const created = await cli(
      'policy',
      'create',
      '--tenant',
      a.tenantId,
      '--name',
      'Require MFA for API',
      '--resource',
      a.api.appId,
      '--users',
      'All',
      '--exclude-roles',
      'Global Administrator',
      '--state',
      'reportOnly',
    );
    expect(created.code).toBe(0);
    const policy = created.json as {
      id: string;
      state: string;
      conditions: { users: { excludeRoles: string[] } };
    };
    expect(policy.state).toBe('enabledForReportingButNotEnforced');
    expect(policy.conditions.users.excludeRoles).toEqual([
      DIRECTORY_ROLE_TEMPLATE_IDS['Global Administrator'],
    ]);
    expect(
      ((await cli('policy', 'list', '--tenant', a.tenantId)).json as { id: string }[]).map((p) => p.id),
    ).toEqual([policy.id]);
    expect(
      ((await cli('policy', 'enable', '--tenant', a.tenantId, '--id', policy.id)).json as { state: string })
        .state,
    ).toBe('enabled');
    expect(
      ((await cli('policy', 'disable', '--tenant', a.tenantId, '--id', policy.id)).json as { state: string })
        .state,
    ).toBe('disabled');
    expect(
      ((await cli('policy', 'show', '--tenant', a.tenantId, '--id', policy.id)).json as { state: string })
        .state,
    ).toBe('disabled');
    const refused = await cli(
      'policy',
      'create',
      '--tenant',
      a.tenantId,
      '--name',
      'x',
      '--resource',
      'All',
      '--users',
      'All',
      '--acrs',
      'c0',
    );
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error: { code: 'invalid' } });
    expect((await cli('policy', 'delete', '--tenant', a.tenantId, '--id', policy.id)).code).toBe(0);
    expect(await server.directory.conditionalAccessPolicies.list(a.tenantId)).toEqual([]);
  });
});
