import { Client, GraphError, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import {
  endpointUrl,
  postForm,
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The unmodified Microsoft Graph JavaScript SDK against a real server: an auth provider that supplies Tessera
// client-credentials tokens, its base URL pointed at Tessera, listing users with $filter, $select, $top and
// PageIterator paging, and Graph errors surfacing as the SDK's GraphError.

const GRAPH = 'https://graph.microsoft.com';

let server: TestServer;
let scenario: ClientCredentialsScenario;
let client: Client;
const created: { id: string; displayName: string }[] = [];

beforeAll(async () => {
  server = await startTestServer();
  scenario = await seedClientCredentialsScenario(server.directory);
  await server.directory.grants.grantAppRole({
    tenant: scenario.tenantId,
    clientAppId: scenario.daemon.appId,
    resource: GRAPH,
    role: 'User.Read.All',
  });
  for (const name of ['Ann', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay', 'Gus']) {
    const user = await server.directory.users.create({
      tenant: scenario.tenantId,
      userPrincipalName: `${name.toLowerCase()}@${scenario.domain}`,
      password: 'Correct-Horse-9',
      displayName: name === 'Bob' || name === 'Gus' ? name : `Team ${name}`,
    });
    created.push({ id: user.id, displayName: user.displayName });
  }
  created.sort((x, y) => (x.id < y.id ? -1 : 1));
  await server.server.refresh();
  client = Client.initWithMiddleware({
    authProvider: {
      async getAccessToken() {
        const response = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
          grant_type: 'client_credentials',
          client_id: scenario.daemon.appId,
          client_secret: scenario.daemon.secret,
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

describe('the Microsoft Graph JavaScript SDK', () => {
  it('lists users with $filter, $select and $top, paging with PageIterator', async () => {
    const first = (await client
      .api('/users')
      .filter("startswith(displayName,'Team')")
      .select(['id', 'displayName'])
      .top(2)
      .get()) as PageCollection;
    expect(first.value).toHaveLength(2);
    expect(first['@odata.nextLink']).toBeDefined();
    const seen: unknown[] = [];
    const iterator = new PageIterator(client, first, (user) => {
      seen.push(user);
      return true;
    });
    await iterator.iterate();
    expect(seen).toEqual(
      created
        .filter((user) => user.displayName.startsWith('Team'))
        .map((user) => ({ id: user.id, displayName: user.displayName })),
    );
  });

  it('reads a user by UPN', async () => {
    const user = (await client
      .api(`/users/bob@${scenario.domain}`)
      .select('displayName,userPrincipalName')
      .get()) as unknown;
    expect(user).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#users(displayName,userPrincipalName)/$entity`,
      displayName: 'Bob',
      userPrincipalName: `bob@${scenario.domain}`,
    });
  });

  it('Graph errors reach the caller as GraphError with Graph’s code', async () => {
    const error = await client
      .api('/users/nobody@nowhere.test')
      .get()
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
    const unsupported = await client
      .api('/users')
      .filter("displayName ne 'x'")
      .get()
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(unsupported).toMatchObject({ statusCode: 400, code: 'Request_UnsupportedQuery' });
  });
});
