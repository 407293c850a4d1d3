import {
  postgresAvailable,
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLICATION_TYPE,
  listApplications,
  listServicePrincipals,
  listUsers,
  SERVICE_PRINCIPAL_TYPE,
} from '../src/management/collection-queries.js';
import { parseCollectionQuery, type CollectionQuery, type EntityType } from '../src/management/odata.js';
import { USER_TYPE } from '../src/management/users.js';
import { callApi, expectGraphError, GRAPH, graphAppToken, type Answer } from './support/management-api.js';

// The OData subset of the management API over HTTPS (GET /v1.0/users) and through collection-queries.ts
// (applications, service principals), on SQLite and PostgreSQL: every $filter operator and grouping, $orderby
// both ways with keyset paging (also with writes between pages), $count with and without ConsistencyLevel,
// $search, lambda any() on identifierUris and servicePrincipalNames, every refusal with its status and code,
// and tenant isolation.

const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

interface Person {
  readonly id: string;
  readonly displayName: string;
  readonly userPrincipalName: string;
  readonly accountEnabled: boolean;
}

/** Display names of tenant A's users; the last two are disabled. */
const NAMES = [
  'Alpha One',
  'alpha two',
  'Beta',
  'Gamma-Ray',
  'Delta_Force',
  'Team 100%',
  'Team Blue',
  'Team Red',
  'Zed',
  'zed',
  'Omega',
  'Psi',
];
const DISABLED = new Set(['Omega', 'Psi']);

describe.each(dialects)('management API OData subset on $name', ({ database }) => {
  let server: TestServer;
  let a: ClientCredentialsScenario;
  let b: ClientCredentialsScenario;
  const tokens = new Map<string, string>();
  const people: Person[] = [];
  let counter = 0;

  function call(path: string, tenant = 'a', headers: Record<string, string> = {}): Promise<Answer> {
    return callApi(server, path, tokens.get(tenant), { headers });
  }

  async function createUser(tenantId: string, domain: string, displayName: string, enabled = true) {
    counter += 1;
    return server.directory.users.create({
      tenant: tenantId,
      userPrincipalName: `u${counter}@${domain}`,
      password: 'Correct-Horse-9',
      displayName,
      accountEnabled: enabled,
    });
  }

  /** Ids of the users of tenant A matching `filter`, sorted. */
  function idsWhere(filter: (person: Person) => boolean): string[] {
    return people
      .filter(filter)
      .map((person) => person.id)
      .sort();
  }

  /** Ids of an answer's `value`, sorted. */
  function idsOf(answer: Answer): string[] {
    expect(answer.status).toBe(200);
    return (answer.body.value as { id: string }[]).map((item) => item.id).sort();
  }

  /** Every page of a query, following `@odata.nextLink`; the ids in order. */
  async function allPages(path: string, headers: Record<string, string> = {}): Promise<string[]> {
    const ids: string[] = [];
    let next: string | undefined = path;
    while (next !== undefined) {
      const answer = await call(next, 'a', headers);
      expect(answer.status).toBe(200);
      ids.push(...(answer.body.value as { id: string }[]).map((item) => item.id));
      const link = answer.body['@odata.nextLink'] as string | undefined;
      next = link?.slice(server.url.length);
    }
    return ids;
  }

  const filter = (text: string) => `$filter=${encodeURIComponent(text)}`;
  const eventual = { ConsistencyLevel: 'eventual' };

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    for (const scenario of [a, b]) {
      await server.directory.grants.grantAppRole({
        tenant: scenario.tenantId,
        clientAppId: scenario.daemon.appId,
        resource: GRAPH,
        role: 'User.Read.All',
      });
    }
    for (const name of NAMES) {
      const user = await createUser(a.tenantId, a.domain, name, !DISABLED.has(name));
      people.push({ ...user, accountEnabled: !DISABLED.has(name) });
    }
    await createUser(b.tenantId, b.domain, 'Alpha of B');
    await createUser(b.tenantId, b.domain, 'Team B');
    await server.server.refresh();
    tokens.set('a', (await graphAppToken(server, a.tenantId, a.daemon)).token);
    tokens.set('b', (await graphAppToken(server, b.tenantId, b.daemon)).token);
  });
  afterAll(() => server.close());

  describe('$filter', () => {
    it.each([
      ["displayName eq 'alpha ONE'", (p: Person) => p.displayName === 'Alpha One'],
      ["displayName ne 'Beta'", (p: Person) => p.displayName !== 'Beta'],
      ["startswith(displayName,'team')", (p: Person) => p.displayName.startsWith('Team')],
      ["startswith(displayName,'Team 100%')", (p: Person) => p.displayName === 'Team 100%'],
      [
        "displayName in ('Beta', 'zed', 'nobody')",
        (p: Person) => ['beta', 'zed'].includes(p.displayName.toLowerCase()),
      ],
      ['accountEnabled eq false', (p: Person) => !p.accountEnabled],
      ['accountEnabled ne true', (p: Person) => !p.accountEnabled],
      ['accountEnabled in (false)', (p: Person) => !p.accountEnabled],
      [
        "startswith(displayName,'Team') and displayName ne 'Team Red'",
        (p: Person) => p.displayName.startsWith('Team') && p.displayName !== 'Team Red',
      ],
      [
        "displayName eq 'Beta' or displayName eq 'Omega' or startswith(displayName, 'Gamma')",
        (p: Person) => ['Beta', 'Omega', 'Gamma-Ray'].includes(p.displayName),
      ],
      [
        "(displayName eq 'Beta' or displayName eq 'Omega') and accountEnabled eq true",
        (p: Person) => p.displayName === 'Beta',
      ],
      [
        "displayName eq 'Beta' or (displayName eq 'Omega' and accountEnabled eq false)",
        (p: Person) => ['Beta', 'Omega'].includes(p.displayName),
      ],
      [
        "startswith(displayName,'z') and (accountEnabled eq true and (displayName eq 'ZED'))",
        (p: Person) => p.displayName.toLowerCase() === 'zed',
      ],
      ["displayName eq 'Beta' AND accountEnabled EQ true", (p: Person) => p.displayName === 'Beta'],
    ])('%s', async (text, expected) => {
      expect(idsOf(await call(`/v1.0/users?${filter(text)}`))).toEqual(idsWhere(expected));
    });

    it('id and userPrincipalName compare case-insensitively, in and eq', async () => {
      const [first, second] = people;
      const answer = await call(
        `/v1.0/users?${filter(`id in ('${first?.id.toUpperCase()}', '${second?.id}') or userPrincipalName eq '${people[5]?.userPrincipalName.toUpperCase()}'`)}`,
      );
      expect(idsOf(answer)).toEqual([first?.id, second?.id, people[5]?.id].sort());
    });

    it('profile properties: eq and startswith ignore case, ne holds for users without the property', async () => {
      counter += 1;
      const ada = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `u${counter}@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: 'Lovelace Ada',
        givenName: 'Ada',
        surname: 'Lovelace',
        mail: `Ada.Lovelace@${a.domain}`,
        jobTitle: 'Analyst',
      });
      people.push({ ...ada, accountEnabled: true });
      const select = '$select=id,givenName,surname,mail,jobTitle';
      const found = await call(
        `/v1.0/users?${filter("givenName eq 'ADA' and startswith(surname,'love')")}&${select}`,
      );
      expect(found.body.value).toEqual([
        {
          id: ada.id,
          givenName: 'Ada',
          surname: 'Lovelace',
          mail: `Ada.Lovelace@${a.domain}`,
          jobTitle: 'Analyst',
        },
      ]);
      expect(idsOf(await call(`/v1.0/users?${filter(`mail eq 'ada.lovelace@${a.domain}'`)}`))).toEqual([
        ada.id,
      ]);
      expect(idsOf(await call(`/v1.0/users?${filter("jobTitle in ('analyst', 'chief')")}`))).toEqual([
        ada.id,
      ]);
      expect(idsOf(await call(`/v1.0/users?${filter("jobTitle ne 'Analyst'")}`))).toEqual(
        idsWhere((p) => p.id !== ada.id),
      );
      expect(idsOf(await call(`/v1.0/users?${filter("mailNickname eq 'ada'")}`))).toEqual([]);
    });

    it('a filter with paging keeps the filter on every page', async () => {
      const ids = await allPages(
        `/v1.0/users?$top=2&${filter("displayName ne 'Beta' and accountEnabled eq true")}`,
      );
      expect([...ids].sort()).toEqual(idsWhere((p) => p.displayName !== 'Beta' && p.accountEnabled));
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('tenant B with the same filter sees only its own users', async () => {
      const answer = await call(
        `/v1.0/users?${filter("startswith(displayName,'alpha') or startswith(displayName,'Team')")}`,
        'b',
      );
      expect((answer.body.value as { displayName: string }[]).map((user) => user.displayName).sort()).toEqual(
        ['Alpha of B', 'Team B'],
      );
    });
  });

  describe('$orderby with $skiptoken paging', () => {
    it.each([
      'displayName',
      'displayName asc',
      'displayName desc',
      'userPrincipalName desc',
      'id desc',
      'accountEnabled',
    ])('%s: pages of 3 give the order of one page, each user once', async (order) => {
      const whole = await call(`/v1.0/users?$orderby=${encodeURIComponent(order)}&$select=id,displayName`);
      const expected = (whole.body.value as { id: string }[]).map((user) => user.id);
      expect([...expected].sort()).toEqual(idsWhere(() => true));
      const paged = await allPages(`/v1.0/users?$top=3&$orderby=${encodeURIComponent(order)}&$select=id`);
      expect(paged).toEqual(expected);
    });

    it('displayName sorts case-insensitively, ties by id', async () => {
      const asc = await call('/v1.0/users?$orderby=displayName&$select=id,displayName');
      const names = (asc.body.value as { displayName: string }[]).map((user) =>
        user.displayName.toLowerCase(),
      );
      expect(names).toEqual([...names].sort());
      expect(names.slice(0, 2)).toEqual(['alpha one', 'alpha two']);
      expect(names.slice(-2)).toEqual(['zed', 'zed']);
      const desc = await call('/v1.0/users?$orderby=displayName%20desc&$select=id,displayName');
      const backwards = (desc.body.value as { displayName: string }[]).map((user) =>
        user.displayName.toLowerCase(),
      );
      expect(backwards).toEqual([...names].reverse());
    });

    it('a filter and an order together, in pages', async () => {
      const ids = await allPages(
        `/v1.0/users?$top=2&$orderby=displayName%20desc&${filter("startswith(displayName,'Team')")}`,
      );
      const names = ids.map((id) => people.find((p) => p.id === id)?.displayName);
      expect(names).toEqual(['Team Red', 'Team Blue', 'Team 100%']);
    });

    it('writes between pages: no user repeated or skipped, one added after the cursor appears', async () => {
      const first = await call('/v1.0/users?$top=4&$orderby=displayName&$select=id,displayName');
      const seen = (first.body.value as { id: string; displayName: string }[]).map((user) => user.id);
      const before = await createUser(a.tenantId, a.domain, 'Aardvark');
      const after = await createUser(a.tenantId, a.domain, 'Yak');
      people.push({ ...before, accountEnabled: true }, { ...after, accountEnabled: true });
      const link = (first.body['@odata.nextLink'] as string).slice(server.url.length);
      const rest = await allPages(link);
      const all = [...seen, ...rest];
      expect(new Set(all).size).toBe(all.length);
      expect(all).toContain(after.id);
      expect(all).not.toContain(before.id);
      expect([...all, before.id].sort()).toEqual(idsWhere(() => true));
    });

    it('a cursor after the longest display name (256 characters of three UTF-8 bytes) still pages', async () => {
      const long = await createUser(a.tenantId, a.domain, '漢'.repeat(256));
      people.push({ ...long, accountEnabled: true });
      const first = await call('/v1.0/users?$top=1&$orderby=displayName%20desc&$select=id');
      expect(first.body.value).toEqual([{ id: long.id }]);
      const rest = await allPages((first.body['@odata.nextLink'] as string).slice(server.url.length));
      expect(rest).toHaveLength(people.length - 1);
      expect(rest).not.toContain(long.id);
    });

    it('a $skiptoken made for another $orderby: 400', async () => {
      const first = await call('/v1.0/users?$top=2&$orderby=displayName');
      const token = new URL(first.body['@odata.nextLink'] as string).searchParams.get('$skiptoken') ?? '';
      expectGraphError(
        await call(`/v1.0/users?$top=2&$orderby=userPrincipalName&$skiptoken=${token}`),
        400,
        'Request_BadRequest',
        'The $skiptoken is not valid.',
      );
      expectGraphError(await call(`/v1.0/users?$top=2&$skiptoken=${token}`), 400, 'Request_BadRequest');
    });

    it('a $skiptoken of tenant A used by tenant B lists only B', async () => {
      const first = await call('/v1.0/users?$top=1&$orderby=displayName');
      const token = new URL(first.body['@odata.nextLink'] as string).searchParams.get('$skiptoken') ?? '';
      const answer = await call(`/v1.0/users?$orderby=displayName&$skiptoken=${token}`, 'b');
      expect(answer.status).toBe(200);
      for (const user of answer.body.value as { userPrincipalName: string }[]) {
        expect(user.userPrincipalName.endsWith(`@${b.domain}`)).toBe(true);
      }
    });
  });

  describe('$count and ConsistencyLevel', () => {
    it('$count=true with ConsistencyLevel: eventual adds @odata.count of all pages, on every page', async () => {
      const answer = await call(
        `/v1.0/users?$count=true&$top=2&${filter('accountEnabled eq true')}`,
        'a',
        eventual,
      );
      expect(answer.body['@odata.count']).toBe(people.filter((p) => p.accountEnabled).length);
      expect(Object.keys(answer.body)).toEqual([
        '@odata.context',
        '@odata.count',
        'value',
        '@odata.nextLink',
      ]);
      const next = await call(
        (answer.body['@odata.nextLink'] as string).slice(server.url.length),
        'a',
        eventual,
      );
      expect(next.body['@odata.count']).toBe(people.filter((p) => p.accountEnabled).length);
    });

    it('without the header, Graph ignores $count=true: no @odata.count', async () => {
      const answer = await call('/v1.0/users?$count=true&$top=1');
      expect(answer.status).toBe(200);
      expect(answer.body['@odata.count']).toBeUndefined();
    });

    it('$count=false: no count', async () => {
      const answer = await call('/v1.0/users?$count=false', 'a', eventual);
      expect(answer.body['@odata.count']).toBeUndefined();
    });

    it('tenant B counts only its users', async () => {
      const answer = await call('/v1.0/users?$count=true', 'b', eventual);
      expect(answer.body['@odata.count']).toBe(2);
    });
  });

  describe('$search', () => {
    const search = (text: string) => `$search=${encodeURIComponent(text)}`;
    it.each([
      ['"displayName:alp"', ['Alpha One', 'alpha two']],
      ['"displayName:ONE"', ['Alpha One']],
      ['"displayName:ray"', ['Gamma-Ray']],
      ['"displayName:force"', ['Delta_Force']],
      ['"displayName:team red"', ['Team Red']],
      ['"displayName:blue" OR "displayName:beta"', ['Beta', 'Team Blue']],
      ['"displayName:team" AND "displayName:r"', ['Team Red']],
      ['"displayName:eam"', []],
    ])('%s', async (text, names) => {
      const answer = await call(`/v1.0/users?${search(text)}`, 'a', eventual);
      expect(idsOf(answer)).toEqual(idsWhere((p) => names.includes(p.displayName)));
    });

    it('with $filter, $orderby and $count', async () => {
      const answer = await call(
        `/v1.0/users?${search('"displayName:team"')}&${filter("displayName ne 'Team Blue'")}&$orderby=displayName&$count=true`,
        'a',
        eventual,
      );
      expect(answer.body['@odata.count']).toBe(2);
      expect((answer.body.value as { displayName: string }[]).map((user) => user.displayName)).toEqual([
        'Team 100%',
        'Team Red',
      ]);
    });

    it('on userPrincipalName, mail, givenName and surname (word prefixes; users without the property never match)', async () => {
      const ada = people.find((p) => p.displayName === 'Lovelace Ada');
      const upn = people[0]?.userPrincipalName.split('@')[0] ?? '';
      for (const text of [
        '"givenName:ad"',
        '"surname:LOVE"',
        '"mail:lovelace"',
        `"mail:${a.domain.split('.')[0]}"`,
      ]) {
        expect(idsOf(await call(`/v1.0/users?${search(text)}`, 'a', eventual))).toEqual([ada?.id]);
      }
      expect(
        idsOf(await call(`/v1.0/users?${search(`"userPrincipalName:${upn}"`)}`, 'a', eventual)),
      ).toContain(people[0]?.id);
    });

    it('without ConsistencyLevel: eventual, Graph’s 400 Request_UnsupportedQuery', async () => {
      expectGraphError(
        await call(`/v1.0/users?${search('"displayName:alp"')}`),
        400,
        'Request_UnsupportedQuery',
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      );
    });

    it('tenant B finds only its own', async () => {
      const answer = await call(
        `/v1.0/users?${search('"displayName:alpha"')}&$select=displayName`,
        'b',
        eventual,
      );
      expect(answer.body.value).toEqual([{ displayName: 'Alpha of B' }]);
    });
  });

  describe('refusals', () => {
    const many = (count: number) => Array.from({ length: count }, (_, index) => `'n${index}'`).join(',');
    const ors = (count: number) =>
      Array.from({ length: count }, (_, index) => `displayName eq 'n${index}'`).join(' or ');
    const ands = (count: number) =>
      Array.from({ length: count }, (_, index) => `displayName ne 'n${index}'`).join(' and ');
    it.each([
      [
        filter("displayName gt 'a'"),
        'Request_UnsupportedQuery',
        "The filter operator 'gt' is not supported.",
      ],
      [
        filter("not (displayName eq 'a')"),
        'Request_UnsupportedQuery',
        "The filter operator 'not' is not supported.",
      ],
      [
        filter("endswith(displayName,'a')"),
        'Request_UnsupportedQuery',
        "The filter operator 'endswith' is not supported.",
      ],
      [
        filter("contains(displayName,'a')"),
        'Request_UnsupportedQuery',
        "The filter operator 'contains' is not supported.",
      ],
      [
        filter("mobilePhone eq 'x'"),
        'Request_UnsupportedQuery',
        "Unsupported or invalid query filter clause specified for property 'mobilePhone' of resource 'User'.",
      ],
      [
        filter("nickname eq 'x'"),
        'Request_BadRequest',
        "Could not find a property named 'nickname' on type 'microsoft.graph.user'.",
      ],
      [
        filter('displayName eq null'),
        'Request_UnsupportedQuery',
        "Comparing 'displayName' with null is not supported.",
      ],
      [
        filter("displayName eq 'a' or"),
        'Request_BadRequest',
        "Invalid filter clause: 'displayName eq 'a' or'.",
      ],
      [filter("(displayName eq 'a'"), 'Request_BadRequest', "Invalid filter clause: '(displayName eq 'a''."],
      [filter("displayName eq 'a')"), 'Request_BadRequest', "Invalid filter clause: 'displayName eq 'a')'."],
      [filter('displayName in ()'), 'Request_BadRequest', "Invalid filter clause: 'displayName in ()'."],
      [
        filter("displayName in ('a' 'b')"),
        'Request_BadRequest',
        "Invalid filter clause: 'displayName in ('a' 'b')'.",
      ],
      [
        filter('accountEnabled in (true, 1)'),
        'Request_BadRequest',
        "Invalid filter clause: 'accountEnabled in (true, 1)'.",
      ],
      [
        filter("accountEnabled in (true, 'x')"),
        'Request_BadRequest',
        "A binary operator with incompatible types was detected for property 'accountEnabled'.",
      ],
      [
        filter('startswith(accountEnabled, true)'),
        'Request_BadRequest',
        "A binary operator with incompatible types was detected for property 'accountEnabled'.",
      ],
      [
        filter(`displayName in (${many(16)})`),
        'Request_UnsupportedQuery',
        "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15.",
      ],
      [
        filter(ors(16)),
        'Request_UnsupportedQuery',
        "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15.",
      ],
      [filter(ands(33)), 'Request_UnsupportedQuery', 'The $filter has too many clauses: at most 32.'],
      [
        filter(`${'('.repeat(9)}displayName eq 'a'${')'.repeat(9)}`),
        'Request_UnsupportedQuery',
        'The $filter is nested too deeply: at most 8 levels of parentheses.',
      ],
      [
        filter(`displayName eq '${'x'.repeat(4100)}'`),
        'Request_BadRequest',
        "The query option '$filter' is too long: at most 4096 characters.",
      ],
      [
        filter("identifierUris/any(x:x eq 'a')"),
        'Request_BadRequest',
        "Could not find a property named 'identifierUris' on type 'microsoft.graph.user'.",
      ],
      [
        filter("displayName/any(x:x eq 'a')"),
        'Request_UnsupportedQuery',
        "Unsupported or invalid query filter clause specified for property 'displayName' of resource 'User'.",
      ],
      [
        '$orderby=jobTitle',
        'Request_UnsupportedQuery',
        "Sorting not supported for property 'jobTitle' of resource 'User'.",
      ],
      [
        '$orderby=displayName,id',
        'Request_UnsupportedQuery',
        'Sorting on more than one property is not supported.',
      ],
      ['$orderby=displayName%20up', 'Request_BadRequest', "Invalid $orderby: 'displayName up'."],
      ['$count=yes', 'Request_BadRequest', "Invalid value 'yes' for the query option '$count'."],
      ['$expand=manager', 'Request_UnsupportedQuery', "The query option '$expand' is not supported."],
      ['$skip=2', 'Request_UnsupportedQuery', "The query option '$skip' is not supported."],
      ['$skiptoken=nope', 'Request_BadRequest', 'The $skiptoken is not valid.'],
      [
        `$skiptoken=${Buffer.from('k2:["x"]').toString('base64url')}`,
        'Request_BadRequest',
        'The $skiptoken is not valid.',
      ],
      [
        '$orderby=displayName&$orderby=id',
        'Request_BadRequest',
        "The query option '$orderby' was specified more than once.",
      ],
    ])('%s: 400 %s', async (query, code, message) => {
      expectGraphError(await call(`/v1.0/users?${query}`), 400, code, message);
    });

    it.each([
      ['"displayName"', 'Request_BadRequest', `Invalid $search: '"displayName"'.`],
      ['displayName:alp', 'Request_BadRequest', `Invalid $search: 'displayName:alp'.`],
      [
        '"displayName:alp" NEAR "displayName:b"',
        'Request_BadRequest',
        `Invalid $search: '"displayName:alp" NEAR "displayName:b"'.`,
      ],
      ['"displayName:!!"', 'Request_BadRequest', `Invalid $search: '"displayName:!!"'.`],
      [
        '"jobTitle:chief"',
        'Request_UnsupportedQuery',
        "Unsupported or invalid query search clause specified for property 'jobTitle' of resource 'User'.",
      ],
    ])('$search=%s: 400 %s', async (text, code, message) => {
      expectGraphError(
        await call(`/v1.0/users?$search=${encodeURIComponent(text)}`, 'a', eventual),
        400,
        code,
        message,
      );
    });
  });

  describe('applications and service principals (collection-queries.ts)', () => {
    const query = (entity: EntityType, text: string, headers: Record<string, string> = {}): CollectionQuery =>
      parseCollectionQuery(new URLSearchParams(text), entity, { consistencyLevel: headers.ConsistencyLevel });
    let apps: { appId: string; id: string; spId: string; displayName: string; uri: string }[] = [];

    beforeAll(async () => {
      apps = [];
      for (const name of ['Payroll API', 'payroll-web', 'Inventory', 'Zebra tools']) {
        const slug = name.toLowerCase().replace(/[^a-z]+/g, '-');
        const { application, servicePrincipal } = await server.directory.applications.create({
          tenant: a.tenantId,
          displayName: name,
          identifierUris: [`api://${a.domain}/${slug}`],
        });
        apps.push({
          appId: application.appId,
          id: application.id,
          spId: servicePrincipal.id,
          displayName: name,
          uri: `api://${a.domain}/${slug}`,
        });
      }
      await server.directory.applications.create({
        tenant: b.tenantId,
        displayName: 'Payroll of B',
        identifierUris: [`api://${b.domain}/payroll`],
      });
    });

    it('identifierUris/any eq (case-insensitive) and startswith; tenant B never sees A’s', async () => {
      const store = server.server.store;
      const target = apps[0];
      const eq = await listApplications(
        store,
        a.tenantId,
        query(APPLICATION_TYPE, `$filter=identifierUris/any(x:x eq '${target?.uri.toUpperCase()}')`),
      );
      expect(eq.items.map((app) => app.id)).toEqual([target?.id]);
      expect(eq.items[0]?.identifierUris).toEqual([target?.uri]);
      const prefix = await listApplications(
        store,
        a.tenantId,
        query(
          APPLICATION_TYPE,
          `$filter=identifierUris/any(u:startswith(u, 'api://${a.domain}/payroll'))&$orderby=displayName`,
        ),
      );
      expect(prefix.items.map((app) => app.displayName)).toEqual(['Payroll API', 'payroll-web']);
      const other = await listApplications(
        store,
        b.tenantId,
        query(APPLICATION_TYPE, `$filter=identifierUris/any(x:x eq '${target?.uri}')`),
      );
      expect(other.items).toEqual([]);
    });

    it('applications: $orderby displayName desc in pages, $count, $search', async () => {
      const store = server.server.store;
      const names: string[] = [];
      let text = '$top=2&$orderby=displayName desc&$count=true';
      for (;;) {
        const page = await listApplications(store, a.tenantId, query(APPLICATION_TYPE, text, eventual));
        names.push(...page.items.map((app) => app.displayName));
        if (names.length <= 2) expect(page.count).toBe(apps.length + 2);
        if (page.next === undefined) break;
        text = `$top=2&$orderby=displayName desc&$skiptoken=${page.next}`;
      }
      const mine = names.filter((name) => apps.some((app) => app.displayName === name));
      expect(mine).toEqual(['Zebra tools', 'payroll-web', 'Payroll API', 'Inventory']);
      const found = await listApplications(
        store,
        a.tenantId,
        query(APPLICATION_TYPE, '$search="displayName:web"', eventual),
      );
      expect(found.items.map((app) => app.displayName)).toEqual(['payroll-web']);
    });

    it('a page of applications holds each one’s own URIs and credentials, as loading it alone does', async () => {
      const store = server.server.store;
      for (const app of apps.slice(0, 2)) {
        await server.directory.credentials.addPassword({
          appId: app.appId,
          displayName: `secret of ${app.displayName}`,
        });
        await server.directory.credentials.addPassword({ appId: app.appId, displayName: 'second' });
      }
      const page = await listApplications(store, a.tenantId, query(APPLICATION_TYPE, '$top=999'));
      expect(page.items.length).toBeGreaterThanOrEqual(apps.length);
      for (const item of page.items) expect(item).toEqual(await store.applications.findById(item.id));
      const payroll = page.items.find((app) => app.id === apps[0]?.id);
      expect(payroll?.passwordCredentials.map((p) => p.displayName).sort()).toEqual([
        'second',
        'secret of Payroll API',
      ]);
    });

    it('servicePrincipalNames/any matches the appId and the App ID URIs; appId in; tenant isolation', async () => {
      const store = server.server.store;
      const [first, second] = apps;
      const byUri = await listServicePrincipals(
        store,
        a.tenantId,
        query(SERVICE_PRINCIPAL_TYPE, `$filter=servicePrincipalNames/any(x:x eq '${first?.uri}')`),
      );
      expect(byUri.items.map((sp) => sp.id)).toEqual([first?.spId]);
      const byAppId = await listServicePrincipals(
        store,
        a.tenantId,
        query(
          SERVICE_PRINCIPAL_TYPE,
          `$filter=servicePrincipalNames/any(x:x eq '${second?.appId.toUpperCase()}')`,
        ),
      );
      expect(byAppId.items.map((sp) => sp.id)).toEqual([second?.spId]);
      const both = await listServicePrincipals(
        store,
        a.tenantId,
        query(
          SERVICE_PRINCIPAL_TYPE,
          `$filter=appId in ('${first?.appId}', '${second?.appId}') and accountEnabled eq true&$orderby=displayName`,
        ),
      );
      expect(both.items.map((sp) => sp.displayName)).toEqual(['Payroll API', 'payroll-web']);
      const other = await listServicePrincipals(
        store,
        b.tenantId,
        query(SERVICE_PRINCIPAL_TYPE, `$filter=appId eq '${first?.appId}'`),
      );
      expect(other.items).toEqual([]);
    });

    it('lambda refusals: all(), two comparisons, another operator', () => {
      const refused = (text: string) => {
        try {
          query(SERVICE_PRINCIPAL_TYPE, `$filter=${text}`);
        } catch (error) {
          return { code: (error as { code: string }).code, message: (error as Error).message };
        }
        return undefined;
      };
      expect(refused("servicePrincipalNames/all(x:x eq 'a')")).toEqual({
        code: 'unsupported_query',
        message: "The filter operator 'all' is not supported.",
      });
      expect(refused("servicePrincipalNames/any(x:x eq 'a' or x eq 'b')")).toEqual({
        code: 'unsupported_query',
        message: 'Only one comparison is supported inside a lambda expression (any).',
      });
      expect(refused("servicePrincipalNames/any(x:x ne 'a')")).toEqual({
        code: 'unsupported_query',
        message: "The filter operator 'ne' is not supported.",
      });
      expect(refused("servicePrincipalNames/any(x:y eq 'a')")?.code).toBe('invalid');
      expect(refused("servicePrincipalNames eq 'a'")?.code).toBe('unsupported_query');
    });

    it('a basic entity type: eq / startswith joined by and as clauses; anything more is refused', () => {
      const basic: EntityType = {
        name: 'microsoft.graph.oAuth2PermissionGrant',
        properties: { id: 'string', clientId: 'string', consentType: 'string' },
        filterable: ['clientId', 'consentType'],
      };
      const parsed = query(basic, "$filter=clientId eq 'A' and startswith(consentType,'All')");
      expect(parsed.filter).toEqual([
        { property: 'clientId', operator: 'eq', value: 'A' },
        { property: 'consentType', operator: 'startswith', value: 'All' },
      ]);
      const refused = (text: string, headers: Record<string, string> = {}) => {
        try {
          query(basic, text, headers);
        } catch (error) {
          return { code: (error as { code: string }).code, message: (error as Error).message };
        }
        return undefined;
      };
      const onlyAnd = {
        code: 'unsupported_query',
        message: "This collection supports only 'eq' and 'startswith' clauses joined by 'and' in $filter.",
      };
      expect(refused("$filter=clientId eq 'a' or clientId eq 'b'")).toEqual(onlyAnd);
      expect(refused("$filter=clientId ne 'a'")).toEqual(onlyAnd);
      expect(refused("$filter=clientId in ('a')")).toEqual(onlyAnd);
      for (const option of ['$orderby=clientId', '$count=true', '$search="clientId:a"']) {
        expect(refused(option, eventual)).toEqual({
          code: 'unsupported_query',
          message: `The query option '${option.split('=')[0]}' is not supported.`,
        });
      }
    });

    it('listUsers directly: the same page the API answers', async () => {
      const page = await listUsers(
        server.server.store,
        a.tenantId,
        query(USER_TYPE, "$filter=displayName eq 'Beta'"),
      );
      expect(page.items.map((user) => user.displayName)).toEqual(['Beta']);
    });
  });
});
