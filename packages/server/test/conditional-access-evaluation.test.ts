import {
  seedInteractiveScenario,
  startTestServer,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateConditionalAccess, meetsControls } from '../src/directory/conditional-access.js';
import { DIRECTORY_ROLE_TEMPLATE_IDS } from '../src/directory/conditional-access-policy.js';
import { DirectoryCache } from '../src/directory/directory-cache.js';
import type { ConditionalAccessPolicyChange } from '../src/directory/directory.js';
import type { User } from '../src/directory/model.js';
import { DIALECTS } from './support/management-api.js';

// The policy engine on a real store: which policies apply to whom for what, and what they require.

const OTHER_APP = '0b1c2d3e-4f50-4617-8899-aabbccddeeff';
const GLOBAL_ADMIN = DIRECTORY_ROLE_TEMPLATE_IDS['Global Administrator'];

describe.each(DIALECTS)('conditional access evaluation on $name', ({ database }) => {
  let server: TestServer;
  let s: InteractiveScenario;
  let cache: DirectoryCache;
  let alice: User;
  let admin: User;

  beforeAll(async () => {
    server = await startTestServer({ database });
    s = await seedInteractiveScenario(server.directory);
    cache = new DirectoryCache(server.server.store);
    alice = await server.directory.users.get(s.tenantId, s.user.id);
    admin = await server.directory.users.get(s.tenantId, s.admin.id);
  });
  afterAll(() => server.close());

  /** Replaces the tenant's policies with `policies` (each requiring MFA unless it says otherwise). */
  async function only(...policies: ConditionalAccessPolicyChange[]): Promise<string[]> {
    for (const existing of await server.directory.conditionalAccessPolicies.list(s.tenantId)) {
      await server.directory.conditionalAccessPolicies.delete(s.tenantId, existing.id);
    }
    const ids: string[] = [];
    for (const [index, policy] of policies.entries()) {
      const created = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
        displayName: `Policy ${index}`,
        state: 'enabled',
        grantControls: { operator: 'OR', builtInControls: ['mfa'] },
        ...policy,
      });
      ids.push(created.id);
    }
    return ids;
  }

  const users = (u: Record<string, string[]>) => ({ users: u });
  const apps = (a: Record<string, string[]>) => ({ applications: a });

  type Row = readonly [
    name: string,
    policy: () => ConditionalAccessPolicyChange,
    who: 'alice' | 'admin',
    resource: 'api' | 'other',
    contexts: readonly string[],
    applies: boolean,
  ];

  const table: readonly Row[] = [
    [
      'All users, All apps',
      () => ({
        conditions: { ...users({ includeUsers: ['All'] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      true,
    ],
    [
      'the user by id, the resource by appId',
      () => ({
        conditions: {
          ...users({ includeUsers: [s.user.id] }),
          ...apps({ includeApplications: [s.api.appId] }),
        },
      }),
      'alice',
      'api',
      [],
      true,
    ],
    [
      'another user only',
      () => ({
        conditions: { ...users({ includeUsers: [s.admin.id] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'All users but the user',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'], excludeUsers: [s.user.id] }),
          ...apps({ includeApplications: ['All'] }),
        },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'a role the user holds (template id)',
      () => ({
        conditions: { ...users({ includeRoles: [GLOBAL_ADMIN] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'admin',
      'api',
      [],
      true,
    ],
    [
      'a role the user holds (display name)',
      () => ({
        conditions: {
          ...users({ includeRoles: ['Global Administrator'] }),
          ...apps({ includeApplications: ['All'] }),
        },
      }),
      'admin',
      'api',
      [],
      true,
    ],
    [
      'a role the user does not hold',
      () => ({
        conditions: { ...users({ includeRoles: [GLOBAL_ADMIN] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'All users, the role excluded',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'], excludeRoles: [GLOBAL_ADMIN] }),
          ...apps({ includeApplications: ['All'] }),
        },
      }),
      'admin',
      'api',
      [],
      false,
    ],
    [
      'None',
      () => ({
        conditions: { ...users({ includeUsers: ['None'] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'another resource only',
      () => ({
        conditions: { ...users({ includeUsers: ['All'] }), ...apps({ includeApplications: [OTHER_APP] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'All apps but the resource',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'] }),
          ...apps({ includeApplications: ['All'], excludeApplications: [s.api.appId] }),
        },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'All apps but another resource',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'] }),
          ...apps({ includeApplications: ['All'], excludeApplications: [OTHER_APP] }),
        },
      }),
      'alice',
      'api',
      [],
      true,
    ],
    [
      'an authentication context asked for',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'] }),
          ...apps({ includeAuthenticationContextClassReferences: ['c1'] }),
        },
      }),
      'alice',
      'other',
      ['c1'],
      true,
    ],
    [
      'an authentication context not asked for',
      () => ({
        conditions: {
          ...users({ includeUsers: ['All'] }),
          ...apps({ includeAuthenticationContextClassReferences: ['c2'] }),
        },
      }),
      'alice',
      'api',
      ['c1'],
      false,
    ],
    [
      'disabled',
      () => ({
        state: 'disabled',
        conditions: { ...users({ includeUsers: ['All'] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
    [
      'report-only',
      () => ({
        state: 'enabledForReportingButNotEnforced',
        conditions: { ...users({ includeUsers: ['All'] }), ...apps({ includeApplications: ['All'] }) },
      }),
      'alice',
      'api',
      [],
      false,
    ],
  ];

  it.each(table)('%s', async (_name, policy, who, resource, contexts, applies) => {
    const [id] = await only(policy());
    const outcome = await evaluateConditionalAccess(cache, {
      user: who === 'alice' ? alice : admin,
      resourceAppId: resource === 'api' ? s.api.appId : OTHER_APP,
      authenticationContexts: contexts,
    });
    expect(outcome.policyIds).toEqual(applies ? [id] : []);
    expect(outcome.requiredControls).toEqual(applies ? ['mfa'] : []);
    expect(outcome.authenticationContexts).toEqual(applies ? contexts : []);
  });

  it('report-only policies are reported, never required', async () => {
    const [id] = await only({
      state: 'enabledForReportingButNotEnforced',
      conditions: { users: { includeUsers: ['All'] }, applications: { includeApplications: ['All'] } },
    });
    const outcome = await evaluateConditionalAccess(cache, {
      user: alice,
      resourceAppId: s.api.appId,
      authenticationContexts: [],
    });
    expect(outcome).toEqual({
      policyIds: [],
      requiredControls: [],
      authenticationContexts: [],
      reportOnlyPolicyIds: [id],
    });
  });

  it('several applying policies: every id, one control; a change is seen at once through the cache', async () => {
    const ids = await only(
      { conditions: { users: { includeUsers: ['All'] }, applications: { includeApplications: ['All'] } } },
      {
        conditions: {
          users: { includeUsers: [s.user.id] },
          applications: { includeApplications: [s.api.appId] },
        },
      },
    );
    const subject = { user: alice, resourceAppId: s.api.appId, authenticationContexts: [] };
    const outcome = await evaluateConditionalAccess(cache, subject);
    expect([...outcome.policyIds].sort()).toEqual([...ids].sort());
    expect(outcome.requiredControls).toEqual(['mfa']);
    await server.directory.conditionalAccessPolicies.update(s.tenantId, ids[0] ?? '', { state: 'disabled' });
    expect((await evaluateConditionalAccess(cache, subject)).policyIds).toEqual([ids[1]]);
  });

  it('meetsControls: mfa needs mfa in amr', () => {
    expect(meetsControls(['pwd'], ['mfa'])).toBe(false);
    expect(meetsControls(['pwd', 'mfa', 'otp'], ['mfa'])).toBe(true);
    expect(meetsControls(['pwd'], [])).toBe(true);
  });

  it('another tenant’s policies never apply', async () => {
    await only({
      conditions: { users: { includeUsers: ['All'] }, applications: { includeApplications: ['All'] } },
    });
    const other = await seedInteractiveScenario(server.directory);
    const bob = await server.directory.users.get(other.tenantId, other.user.id);
    const outcome = await evaluateConditionalAccess(cache, {
      user: bob,
      resourceAppId: other.api.appId,
      authenticationContexts: [],
    });
    expect(outcome.policyIds).toEqual([]);
  });
});
