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
    // Profile properties set on some users (with characters JSON escapes), left null on the others.
    const first = await server.directory.users.get(tenant.tenantId, `user0@${tenant.domain}`);
    await server.directory.users.update(tenant.tenantId, first.id, {
      givenName: 'Zoë "Z" \\ back',
      surname: 'O’Brien </script>',
      jobTitle: 'Engineer 🧑‍💻',
      mail: `zoe"q@${tenant.domain}`,
    });
    const third = await server.directory.users.get(tenant.tenantId, `user2@${tenant.domain}`);
    await server.directory.users.update(tenant.tenantId, third.id, { surname: 'Only a surname' });
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

  it('writes each user of a page as GET /users/{id} writes it, set profile properties and nulls alike', async () => {
    const items: Record<string, unknown>[] = [];
    let path: string | undefined = '/v1.0/users?$top=3';
    while (path !== undefined) {
      const answer = await page(server, path, token);
      expect(answer.status).toBe(200);
      items.push(...(answer.json.value as Record<string, unknown>[]));
      const next = answer.json['@odata.nextLink'];
      path = typeof next === 'string' ? next.slice(server.url.length) : undefined;
    }
    expect(items).toHaveLength(NAMES.length);
    expect(items.filter((user) => user.givenName !== null)).toHaveLength(1);
    expect(items.filter((user) => user.surname !== null)).toHaveLength(2);
    for (const user of items) {
      const entity = await page(server, `/v1.0/users/${String(user.id)}`, token);
      const { '@odata.context': _context, ...properties } = entity.json;
      expect(JSON.stringify(user)).toBe(JSON.stringify(properties));
    }
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

  // Last: it creates users.
  it('pages by id both ways, every user once and in order, also when a user is created between pages', async () => {
    for (const [order, descending] of [
      ['', false],
      ['&$orderby=id', false],
      ['&$orderby=id desc', true],
    ] as const) {
      const before = await listAllIds();
      const ids: string[] = [];
      let path: string | undefined = `/v1.0/users?$top=2${order}`;
      while (path !== undefined) {
        const answer = await page(server, path, token);
        expect(answer.status).toBe(200);
        ids.push(...(answer.json.value as { id: string }[]).map((user) => user.id));
        if (ids.length === 2) {
          // The next pages run the statement kept from earlier ones with another cursor, after a write.
          await server.directory.users.create({
            tenant: tenant.tenantId,
            userPrincipalName: `between${before.length}@${tenant.domain}`,
            password: 'Correct-Horse-9',
            displayName: 'Created between pages',
          });
        }
        const next = answer.json['@odata.nextLink'];
        path = typeof next === 'string' ? next.slice(server.url.length) : undefined;
      }
      const sorted = [...ids].sort();
      expect(ids).toEqual(descending ? sorted.reverse() : sorted);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of before) expect(ids).toContain(id);
      const after = await listAllIds();
      for (const id of ids) expect(after).toContain(id);
    }
  });

  /** Every user id of the tenant, from one page of 999 (with `$select`, so by the other statement). */
  async function listAllIds(): Promise<string[]> {
    const answer = await page(server, '/v1.0/users?$top=999&$select=id', token);
    return (answer.json.value as { id: string }[]).map((user) => user.id);
  }
});
