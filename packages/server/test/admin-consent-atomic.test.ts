import { postgresAvailable, seedInteractiveScenario, startTestServer } from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryError } from '../src/directory/errors.js';
import { seedDaemon, type DaemonScenario } from './support/admin-consent-daemon.js';

// `grants.grantAdminConsent`: an administrator's consent for the organization is one write — service principals,
// app role assignments and the `AllPrincipals` grant all land, or none does — and approving again changes nothing.
const postgresUp = await postgresAvailable();

describe.each([
  ['SQLite', 'sqlite', true],
  ['PostgreSQL', 'postgres', postgresUp],
] as const)('admin consent is one write (%s)', (_name, database, available) => {
  let server: TestServer;
  let home: InteractiveScenario;
  let d: DaemonScenario;
  let ordersAppId: string;

  beforeAll(async () => {
    if (!available) return;
    server = await startTestServer({ database });
    home = await seedInteractiveScenario(server.directory);
    d = await seedDaemon(server, home);
    const orders = await server.directory.applications.create({
      tenant: home.tenantId,
      displayName: 'Orders API',
      identifierUris: [`api://${home.domain}/orders`],
      appRoles: ['Orders.Read.All'],
      signInAudience: 'AzureADMultipleOrgs',
    });
    ordersAppId = orders.application.appId;
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  const consentOf = (ordersRole: string) => ({
    appRoles: [
      { resourceAppId: d.apiAppId, roles: ['Inventory.Read.All'] },
      { resourceAppId: ordersAppId, roles: [ordersRole] },
    ],
    scopes: [{ resourceAppId: d.apiAppId, scopes: ['Inventory.Read'] }],
  });

  /** The service principals of the daemon and both APIs in `tenant` (`undefined` where absent). */
  async function principalsIn(tenant: string) {
    const store = server.directory.store;
    return Promise.all(
      [d.daemonAppId, d.apiAppId, ordersAppId].map((appId) => store.servicePrincipals.find(tenant, appId)),
    );
  }

  it.skipIf(!available)('a role refused midway (removed meanwhile) leaves nothing written', async () => {
    const customer = await seedInteractiveScenario(server.directory);
    const before = await server.directory.store.version();
    const refusal = await server.directory.grants
      .grantAdminConsent(customer.tenantId, d.daemonAppId, consentOf('Orders.Write.All'))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(DirectoryError);
    expect((refusal as DirectoryError).code).toBe('not_found');
    expect(await principalsIn(customer.tenantId)).toEqual([undefined, undefined, undefined]);
    expect(await server.directory.store.version()).toBe(before);
  });

  it.skipIf(!available)(
    'a write refused by the database at its last step (the grant) leaves nothing written',
    async () => {
      const customer = await seedInteractiveScenario(server.directory);
      const db = server.directory.store.db;
      // A real refusal of the last insert of the transaction, after the service principals and assignments.
      if (database === 'sqlite') {
        await sql`CREATE TRIGGER refuse_grants BEFORE INSERT ON oauth2_permission_grants
          BEGIN SELECT RAISE(ABORT, 'grants refused'); END`.execute(db);
      } else {
        await sql`CREATE FUNCTION refuse_grants() RETURNS trigger LANGUAGE plpgsql
          AS $$ BEGIN RAISE EXCEPTION 'grants refused'; END $$`.execute(db);
        await sql`CREATE TRIGGER refuse_grants BEFORE INSERT ON oauth2_permission_grants
          FOR EACH ROW EXECUTE FUNCTION refuse_grants()`.execute(db);
      }
      const before = await server.directory.store.version();
      try {
        const refusal = await server.directory.grants
          .grantAdminConsent(customer.tenantId, d.daemonAppId, consentOf('Orders.Read.All'))
          .catch((error: unknown) => error);
        expect(String(refusal)).toContain('grants refused');
      } finally {
        if (database === 'sqlite') await sql`DROP TRIGGER refuse_grants`.execute(db);
        else {
          await sql`DROP TRIGGER refuse_grants ON oauth2_permission_grants`.execute(db);
          await sql`DROP FUNCTION refuse_grants()`.execute(db);
        }
      }
      expect(await principalsIn(customer.tenantId)).toEqual([undefined, undefined, undefined]);
      const assignments = await db
        .selectFrom('app_role_assignments')
        .select('id')
        .where('tenant_id', '=', customer.tenantId)
        .execute();
      expect(assignments).toEqual([]);
      expect(await server.directory.store.version()).toBe(before);
    },
  );

  it.skipIf(!available)('a role that cannot be granted to applications leaves nothing written', async () => {
    const customer = await seedInteractiveScenario(server.directory);
    const userRole = await server.directory.applications.create({
      tenant: home.tenantId,
      displayName: 'Roster API',
      userRoles: ['Roster.Edit'],
      signInAudience: 'AzureADMultipleOrgs',
    });
    const before = await server.directory.store.version();
    const refusal = await server.directory.grants
      .grantAdminConsent(customer.tenantId, d.daemonAppId, {
        appRoles: [
          { resourceAppId: d.apiAppId, roles: ['Inventory.Read.All'] },
          { resourceAppId: userRole.application.appId, roles: ['Roster.Edit'] },
        ],
        scopes: [],
      })
      .catch((error: unknown) => error);
    expect((refusal as DirectoryError).code).toBe('invalid');
    expect(await principalsIn(customer.tenantId)).toEqual([undefined, undefined, undefined]);
    expect(await server.directory.store.version()).toBe(before);
  });

  it.skipIf(!available)(
    'grants everything at once, only in its tenant; approving again changes nothing',
    async () => {
      const customer = await seedInteractiveScenario(server.directory);
      const other = await seedInteractiveScenario(server.directory);
      const first = await server.directory.grants.grantAdminConsent(
        customer.tenantId,
        d.daemonAppId,
        consentOf('Orders.Read.All'),
      );
      const [daemonSp, apiSp, ordersSp] = await principalsIn(customer.tenantId);
      expect(daemonSp?.id).toBe(first.servicePrincipal.id);
      expect(apiSp).toBeDefined();
      expect(ordersSp).toBeDefined();
      expect(first.appRoleAssignments.map((a) => a.resourceId).sort()).toEqual(
        [apiSp?.id, ordersSp?.id].sort(),
      );
      const roles = await server.directory.grants.listAppRoleAssignmentsOf({
        tenant: customer.tenantId,
        principalId: first.servicePrincipal.id,
      });
      expect(roles.items).toHaveLength(2);
      const grants = await server.directory.grants.listPermissionGrantsOf({
        tenant: customer.tenantId,
        clientId: first.servicePrincipal.id,
      });
      expect(grants.items.map((g) => [g.consentType, g.principalId, g.resourceId, g.scope])).toEqual([
        ['AllPrincipals', null, apiSp?.id, 'Inventory.Read'],
      ]);

      const version = await server.directory.store.version();
      const again = await server.directory.grants.grantAdminConsent(
        customer.tenantId,
        d.daemonAppId,
        consentOf('Orders.Read.All'),
      );
      expect(again.servicePrincipal.id).toBe(first.servicePrincipal.id);
      expect(again.appRoleAssignments.map((a) => a.id).sort()).toEqual(
        first.appRoleAssignments.map((a) => a.id).sort(),
      );
      expect(await server.directory.store.version()).toBe(version);

      // Each approval is one audit, Graph's "Consent to application" on the client's service principal.
      const audits = await server.directory.audits.repository.listAudits({
        tenantId: customer.tenantId,
        top: 50,
        filter: {},
      });
      const consents = audits.items.filter((a) => a.activityDisplayName === 'Consent to application');
      expect(consents).toHaveLength(2);
      expect(consents[0]).toMatchObject({
        category: 'ApplicationManagement',
        operationType: 'Assign',
        result: 'success',
        targetResources: [{ id: first.servicePrincipal.id, type: 'ServicePrincipal' }],
      });
      expect(audits.items.map((a) => a.activityDisplayName)).not.toContain(
        'Add app role assignment to service principal',
      );

      // Nothing reached another tenant.
      expect(await principalsIn(other.tenantId)).toEqual([undefined, undefined, undefined]);
    },
  );

  it.skipIf(!available)('two approvals at once both succeed and write it once', async () => {
    const customer = await seedInteractiveScenario(server.directory);
    const [a, b] = await Promise.all([
      server.directory.grants.grantAdminConsent(
        customer.tenantId,
        d.daemonAppId,
        consentOf('Orders.Read.All'),
      ),
      server.directory.grants.grantAdminConsent(
        customer.tenantId,
        d.daemonAppId,
        consentOf('Orders.Read.All'),
      ),
    ]);
    expect(a.servicePrincipal.id).toBe(b.servicePrincipal.id);
    const roles = await server.directory.grants.listAppRoleAssignmentsOf({
      tenant: customer.tenantId,
      principalId: a.servicePrincipal.id,
    });
    expect(roles.items).toHaveLength(2);
  });
});
