import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, GRAPH, graphAppToken } from './support/management-api.js';

// A page of users without $select is written by a compiled serializer (the route's JSON schema), with $select by
// JSON.stringify: both must write exactly the JSON of the same body, whatever the users' names hold, with
// Graph's property order, and the same bearer token must keep working page after page.

const NAMES = [
  'Quote " and backslash \\ and slash /',
  'Ünïcödé – “typographic” ‘quotes’',
  'Emoji 🧑‍💻 and a non-BMP 𝔘',
  'Line \u2028 and paragraph \u2029 separators inside',
  '<script>alert(1)</script> & ampersand',
  'A long name '.repeat(8).trim(),
];

/** A page's body as text, its parsed JSON, and its content type. */
async function page(
  server: TestServer,
  path: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; json: Record<string, unknown>; type: string | null }> {
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: JSON.parse(text) as Record<string, unknown>,
    type: response.headers.get('content-type'),
  };
}

describe.each(DIALECTS)('GET /v1.0/users pages on $name', ({ database }) => {
  let server: TestServer;
  let tenant: ClientCredentialsScenario;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ database });
    tenant = await seedClientCredentialsScenario(server.directory);
    await server.directory.grants.grantAppRole({
      tenant: tenant.tenantId,
      clientAppId: tenant.daemon.appId,
      resource: GRAPH,
      role: 'User.Read.All',
    });
    for (const [index, displayName] of NAMES.entries()) {
      await server.directory.users.create({
        tenant: tenant.tenantId,
        userPrincipalName: `user${index}@${tenant.domain}`,
        password: 'Correct-Horse-9',
        displayName,
      });
    }
    token = (await graphAppToken(server, tenant.tenantId, tenant.daemon)).token;
  });

  afterAll(async () => {
    await server.close();
  });

  it('writes the JSON.stringify text of its own body, in Graph order, on every page', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/v1.0/users?$top=2';
    while (path !== undefined) {
      const answer = await page(server, path, token);
      expect(answer.status).toBe(200);
      expect(answer.type).toBe('application/json; charset=utf-8');
      expect(answer.text).toBe(JSON.stringify(answer.json));
      const next = answer.json['@odata.nextLink'];
      expect(Object.keys(answer.json)).toEqual(
        next === undefined ? ['@odata.context', 'value'] : ['@odata.context', 'value', '@odata.nextLink'],
      );
      for (const user of answer.json.value as Record<string, unknown>[]) {
        expect(Object.keys(user)).toEqual([
          'businessPhones',
          'displayName',
          'givenName',
          'jobTitle',
          'mail',
          'mobilePhone',
          'officeLocation',
          'preferredLanguage',
          'surname',
          'userPrincipalName',
          'id',
        ]);
        seen.push(user.displayName as string);
      }
      path = typeof next === 'string' ? next.slice(server.url.length) : undefined;
    }
    expect(seen.sort()).toEqual([...NAMES].sort());
  });

  it('puts @odata.count before value, as JSON.stringify of the body does', async () => {
    const answer = await page(server, '/v1.0/users?$top=3&$count=true', token, {
      consistencylevel: 'eventual',
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(JSON.stringify(answer.json));
    expect(Object.keys(answer.json)).toEqual(['@odata.context', '@odata.count', 'value', '@odata.nextLink']);
    expect(answer.json['@odata.count']).toBe(NAMES.length);
  });

  it('keeps the $select order and values with $select', async () => {
    const answer = await page(server, '/v1.0/users?$select=id,displayName,accountEnabled&$top=10', token);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(JSON.stringify(answer.json));
    for (const user of answer.json.value as Record<string, unknown>[]) {
      expect(Object.keys(user)).toEqual(['id', 'displayName', 'accountEnabled']);
      expect(user.accountEnabled).toBe(true);
    }
  });
});
