import { randomUUID } from 'node:crypto';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { createTokenValidator, type AuthRequirement, type TokenValidator } from '@tessera/resource';
import { startLocalIssuer, type LocalIssuer } from './local-issuer.js';
import { appToken } from './tokens.js';

/** The world a sample API runs in: a real server and daemon, plus a local key for delegated tokens. */
export interface SampleWorld {
  readonly server: TestServer;
  readonly scenario: ClientCredentialsScenario;
  readonly local: LocalIssuer;
  /** One validator for both: the local JWKS serves the server's keys and the local key. */
  readonly validator: TokenValidator;
  readonly issuer: string;
  /** A real client credentials token of the daemon (granted `Data.Read.All`). */
  appToken(): Promise<string>;
  /**
   * A delegated (user) v2.0 token, signed with the local key. The server cannot issue delegated tokens yet
   * (interactive sign-in comes in a later issue), so these are minted here with the claims the platform will
   * put in them (`scp`, `idtyp=user`, `azp` of a SPA).
   */
  userToken(claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export const SPA_CLIENT_ID = '5a0b6b4c-6f7e-4c2a-9d3e-2f1a0b9c8d7e';

export async function startSampleWorld(): Promise<SampleWorld> {
  const server = await startTestServer();
  const scenario = await seedClientCredentialsScenario(server.directory);
  const local = await startLocalIssuer({
    upstream: `${server.url}/${scenario.tenantId}/discovery/v2.0/keys`,
  });
  const issuer = `${server.url}/${scenario.tenantId}/v2.0`;
  const validator = createTokenValidator({
    authority: `${server.url}/${scenario.tenantId}`,
    jwksUri: local.jwksUri,
    audience: [scenario.api.appId, scenario.api.identifierUri],
  });
  return {
    server,
    scenario,
    local,
    validator,
    issuer,
    appToken: () => appToken(server, scenario),
    userToken(claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      const userId = randomUUID();
      return local.sign({
        aud: scenario.api.appId,
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + 3600,
        azp: SPA_CLIENT_ID,
        azpacr: '0',
        idtyp: 'user',
        name: 'Ada Lovelace',
        oid: userId,
        preferred_username: 'ada@contoso.test',
        scp: 'User.Read Reports.Read',
        sub: randomUUID(),
        tid: scenario.tenantId,
        uti: randomUUID(),
        ver: '2.0',
        ...claims,
      });
    },
    async close() {
      await local.close();
      await server.close();
    },
  };
}

/** The routes both sample APIs expose, with what each requires. */
export function sampleRoutes(world: SampleWorld): Record<string, AuthRequirement> {
  return {
    'GET /api/data': { roles: ['Data.Read.All'] },
    'POST /api/data': { roles: ['Data.Write.All'] },
    'GET /api/me': { scopes: ['User.Read'] },
    'GET /api/reports': { scopes: ['Reports.Read'], roles: ['Data.Read.All'] },
    'GET /api/acl': { acl: [{ appId: world.scenario.daemon.appId, issuer: world.issuer }] },
    'GET /api/transfer': { scopes: ['User.Read'], authenticationContext: 'c1' },
  };
}
