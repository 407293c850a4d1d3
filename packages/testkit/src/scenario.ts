import { randomUUID } from 'node:crypto';
import { seedClientCredentials, type Directory } from '@tessera/server';
import { createClientCertificate, type ClientCertificate } from './certificates.js';

/**
 * The client credentials scenario (RFC 6749 §4.4): a tenant, a resource API with app roles, a daemon granted one.
 * The same scenario as the demo seed (`seedClientCredentials` of the server), with the tests' names.
 */
export interface ClientCredentialsScenario {
  readonly tenantId: string;
  readonly domain: string;
  readonly api: { readonly appId: string; readonly identifierUri: string; readonly roles: readonly string[] };
  readonly daemon: {
    readonly appId: string;
    readonly secret: string;
    readonly certificate: ClientCertificate;
    readonly servicePrincipalId: string;
  };
  /** Roles granted to the daemon on the API. */
  readonly grantedRoles: readonly string[];
}

const API_ROLES = ['Data.Read.All', 'Data.Write.All'] as const;
const GRANTED_ROLE = 'Data.Read.All';

/**
 * Seeds a tenant (`Tenant {domain}`, `domain` default a unique `*.test` name), an API `api://{domain}/api`
 * exposing `Data.Read.All` and `Data.Write.All` (access token version `tokenVersion`, default 2, signed with
 * `tokenAlg`, default the server's), and a daemon with a secret and an RSA certificate that is granted
 * `Data.Read.All`.
 */
export async function seedClientCredentialsScenario(
  directory: Directory,
  options: { domain?: string; tokenVersion?: 1 | 2; tokenAlg?: 'RS256' | 'ES256' } = {},
): Promise<ClientCredentialsScenario> {
  const domain = options.domain ?? `t${randomUUID().slice(0, 8)}.test`;
  const identifierUri = `api://${domain}/api`;
  const certificate = await createClientCertificate();
  const seeded = await seedClientCredentials(directory, {
    tenant: { displayName: `Tenant ${domain}`, domain },
    api: {
      displayName: 'API',
      identifierUris: [identifierUri],
      appRoles: API_ROLES,
      requestedAccessTokenVersion: options.tokenVersion ?? 2,
      ...(options.tokenAlg === undefined ? {} : { accessTokenSigningAlgorithm: options.tokenAlg }),
    },
    daemon: { displayName: 'Daemon', certificatePem: certificate.certificatePem },
    grantedRole: GRANTED_ROLE,
  });
  return {
    tenantId: seeded.tenantId,
    domain,
    api: { appId: seeded.api.appId, identifierUri, roles: [...API_ROLES] },
    daemon: {
      appId: seeded.daemon.appId,
      secret: seeded.daemon.secret,
      certificate,
      servicePrincipalId: seeded.daemon.servicePrincipalId,
    },
    grantedRoles: [GRANTED_ROLE],
  };
}
