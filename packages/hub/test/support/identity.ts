import { createTokenValidator, type TokenValidator, type TokenValidatorOptions } from '@tessera/resource';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';

/** A daemon app used as an authenticated identity (delegated user tokens arrive with another issue). */
export interface Daemon {
  readonly appId: string;
  readonly secret: string;
  /** `oid` of its service principal: the hub's default user identifier. */
  readonly oid: string;
}

/** A real Tessera identity server with one API and two daemons: A (`Data.Read.All`) and B (both roles). */
export interface IdentityFixture {
  readonly server: TestServer;
  readonly scenario: ClientCredentialsScenario;
  readonly alice: Daemon;
  readonly bob: Daemon;
  /** A fresh access token for the API, issued by the token endpoint. */
  token(daemon: Daemon): Promise<string>;
  validator(options?: Partial<TokenValidatorOptions>): TokenValidator;
  close(): Promise<void>;
}

export async function startIdentity(): Promise<IdentityFixture> {
  const server = await startTestServer();
  const scenario = await seedClientCredentialsScenario(server.directory);
  const created = await server.directory.applications.create({
    tenant: scenario.tenantId,
    displayName: 'Daemon B',
  });
  const password = await server.directory.credentials.addPassword({ appId: created.application.appId });
  for (const role of ['Data.Read.All', 'Data.Write.All']) {
    await server.directory.grants.grantAppRole({
      tenant: scenario.tenantId,
      clientAppId: created.application.appId,
      resource: scenario.api.identifierUri,
      role,
    });
  }
  const alice: Daemon = {
    appId: scenario.daemon.appId,
    secret: scenario.daemon.secret,
    oid: scenario.daemon.servicePrincipalId,
  };
  const bob: Daemon = {
    appId: created.application.appId,
    secret: password.secretText,
    oid: created.servicePrincipal.id,
  };
  return {
    server,
    scenario,
    alice,
    bob,
    async token(daemon) {
      const response = await fetch(`${server.url}/${scenario.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: daemon.appId,
          client_secret: daemon.secret,
          scope: `${scenario.api.identifierUri}/.default`,
        }),
      });
      const body = (await response.json()) as { access_token?: string };
      if (response.status !== 200 || body.access_token === undefined) {
        throw new Error(`token request failed: ${response.status}`);
      }
      return body.access_token;
    },
    validator(options = {}) {
      return createTokenValidator({
        authority: `${server.url}/${scenario.tenantId}`,
        audience: [scenario.api.appId, scenario.api.identifierUri],
        ...options,
      });
    },
    close: () => server.close(),
  };
}
