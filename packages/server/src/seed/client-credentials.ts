import type { CreateApplicationInput, Directory } from '../directory/directory.js';

/** Input of {@link seedClientCredentials}. */
export interface ClientCredentialsSeedInput {
  /** The tenant: its display name and its one verified domain. */
  readonly tenant: { readonly displayName: string; readonly domain: string };
  /** The resource API's registration (its home tenant is the seeded tenant); it must expose `grantedRole`. */
  readonly api: Omit<CreateApplicationInput, 'tenant'>;
  /**
   * The daemon (confidential client): its display name, the display name of its client secret (default that of
   * `credentials.addPassword`) and the PEM of the certificate it signs client assertions with (RFC 7523 §2.2).
   */
  readonly daemon: {
    readonly displayName: string;
    readonly secretDisplayName?: string;
    readonly certificatePem: string;
  };
  /** The app role (application permission) of the API granted to the daemon. */
  readonly grantedRole: string;
}

/** What {@link seedClientCredentials} created. */
export interface ClientCredentialsSeed {
  readonly tenantId: string;
  readonly api: { readonly appId: string };
  readonly daemon: {
    readonly appId: string;
    /** The daemon's service principal in the seeded tenant (`oid` / `sub` of its app-only tokens). */
    readonly servicePrincipalId: string;
    /** The client secret's value, shown once (`client_secret`). */
    readonly secret: string;
  };
}

/**
 * Seeds the client credentials scenario (RFC 6749 §4.4; docs/endpoints.md): a tenant, a resource API, and a
 * daemon app with a client secret and a certificate that is granted one application permission of the API. The
 * demo seed (`tessera serve --demo`) and the tests' scenario are both this, with their own names.
 *
 * @throws DirectoryError when the directory refuses an input (e.g. a domain already taken, a role the API lacks).
 */
export async function seedClientCredentials(
  directory: Directory,
  input: ClientCredentialsSeedInput,
): Promise<ClientCredentialsSeed> {
  const tenant = await directory.tenants.create({
    displayName: input.tenant.displayName,
    domains: [input.tenant.domain],
  });
  const api = await directory.applications.create({ ...input.api, tenant: tenant.id });
  const daemon = await directory.applications.create({
    tenant: tenant.id,
    displayName: input.daemon.displayName,
  });
  const password = await directory.credentials.addPassword({
    appId: daemon.application.appId,
    ...(input.daemon.secretDisplayName === undefined ? {} : { displayName: input.daemon.secretDisplayName }),
  });
  await directory.credentials.addCertificate({
    appId: daemon.application.appId,
    certificatePem: input.daemon.certificatePem,
  });
  await directory.grants.grantAppRole({
    tenant: tenant.id,
    clientAppId: daemon.application.appId,
    resource: api.application.appId,
    role: input.grantedRole,
  });
  return {
    tenantId: tenant.id,
    api: { appId: api.application.appId },
    daemon: {
      appId: daemon.application.appId,
      servicePrincipalId: daemon.servicePrincipal.id,
      secret: password.secretText,
    },
  };
}
