import {
  postgresAvailable,
  seedInteractiveScenario,
  startTestServer,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The same consent recorded on several nodes at once: the delegated grant and the service principals consent
// creates are atomic upserts, so every consent succeeds (no unique violation, no 500) and no scope is lost.
const postgresUp = await postgresAvailable();

const CONSENTS = 10;

describe.each([
  ['SQLite, one node', 'sqlite', true],
  ['PostgreSQL, two nodes on one schema', 'postgres', postgresUp],
] as const)('racing consents (%s)', (_name, database, available) => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    if (!available) return;
    first = await startTestServer({ database });
    second =
      database === 'postgres' ? await startTestServer({ databaseUrl: first.databaseUrl ?? '' }) : first;
  });
  afterAll(async () => {
    if (!available) return;
    if (second !== first) await second.close();
    await first.close();
  });

  it.skipIf(!available)(
    `${CONSENTS} concurrent consents with different scopes all succeed; the grant holds their union`,
    async () => {
      const home = await seedInteractiveScenario(first.directory);
      const scopes = Array.from({ length: CONSENTS }, (_, i) => `Scope.${i}`);
      const api = await first.directory.applications.create({
        tenant: home.tenantId,
        displayName: 'Racing API',
        identifierUris: [`api://${home.domain}/racing`],
        signInAudience: 'AzureADMultipleOrgs',
      });
      const client = await first.directory.applications.create({
        tenant: home.tenantId,
        displayName: 'Racing client',
        signInAudience: 'AzureADMultipleOrgs',
      });
      // A customer tenant where neither app has a service principal yet: every consent races to create both.
      const customer = await seedInteractiveScenario(first.directory);
      const nodes = [first, second];
      const outcomes = await Promise.allSettled(
        scopes.map((scope, i) =>
          (nodes[i % 2] ?? first).directory.grants.recordConsent({
            tenantId: customer.tenantId,
            userId: customer.user.id,
            forOrganization: false,
            items: [
              {
                clientAppId: client.application.appId,
                resourceAppId: api.application.appId,
                scopes: [scope],
              },
            ],
          }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);

      const store = first.directory.store;
      const clientSp = await store.servicePrincipals.find(customer.tenantId, client.application.appId);
      const apiSp = await store.servicePrincipals.find(customer.tenantId, api.application.appId);
      expect(clientSp).toBeDefined();
      expect(apiSp).toBeDefined();
      const grants = await store.permissionGrants.listBetween(clientSp?.id ?? '', apiSp?.id ?? '');
      expect(grants).toHaveLength(1);
      expect(grants[0]).toMatchObject({ consentType: 'Principal', principalId: customer.user.id });
      expect((grants[0]?.scope ?? '').split(' ').sort()).toEqual([...scopes].sort());
      // One service principal per app in the tenant, whichever node created it.
      const inTenant = await store.servicePrincipals.list({ tenantId: customer.tenantId, top: 999 });
      const racing = inTenant.items.filter((sp) =>
        [client.application.appId, api.application.appId].includes(sp.appId),
      );
      expect(racing).toHaveLength(2);
    },
  );
});
