import type { InteractiveScenario, TestServer } from '@tessera/testkit';

/** The redirect URI the daemon registered for the admin consent endpoint's answers. */
export const DAEMON_REDIRECT = 'https://daemon.example/permissions';

/** A multi-tenant API with an application permission and a delegated scope, and a daemon asking for both. */
export interface DaemonScenario {
  readonly apiAppId: string;
  readonly apiUri: string;
  readonly daemonAppId: string;
  readonly daemonSecret: string;
}

/**
 * Seeds, in the `home` tenant, the multi-tenant Inventory API (app role `Inventory.Read.All` for applications,
 * delegated scope `Inventory.Read`, v2 tokens) and the multi-tenant Inventory Daemon requiring both, with a secret
 * and the web redirect URI {@link DAEMON_REDIRECT}.
 */
export async function seedDaemon(server: TestServer, home: InteractiveScenario): Promise<DaemonScenario> {
  const directory = server.directory;
  const apiUri = `api://${home.domain}/inventory`;
  const api = await directory.applications.create({
    tenant: home.tenantId,
    displayName: 'Inventory API',
    identifierUris: [apiUri],
    appRoles: ['Inventory.Read.All'],
    scopes: ['Inventory.Read'],
    signInAudience: 'AzureADMultipleOrgs',
    requestedAccessTokenVersion: 2,
  });
  const role = api.application.appRoles.find((r) => r.value === 'Inventory.Read.All');
  const scope = api.application.api.oauth2PermissionScopes.find((s) => s.value === 'Inventory.Read');
  const daemon = await directory.applications.create({
    tenant: home.tenantId,
    displayName: 'Inventory Daemon',
    signInAudience: 'AzureADMultipleOrgs',
    redirectUris: { web: [DAEMON_REDIRECT] },
  });
  await directory.applications.update(daemon.application.appId, () => ({
    requiredResourceAccess: [
      {
        resourceAppId: api.application.appId,
        resourceAccess: [
          { id: role?.id ?? '', type: 'Role' as const },
          { id: scope?.id ?? '', type: 'Scope' as const },
        ],
      },
    ],
  }));
  const secret = await directory.credentials.addPassword({ appId: daemon.application.appId });
  return {
    apiAppId: api.application.appId,
    apiUri,
    daemonAppId: daemon.application.appId,
    daemonSecret: secret.secretText,
  };
}
