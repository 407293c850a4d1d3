import { X509Certificate, createHash, createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { createSelfSignedKey, type Directory } from '@tessera/server';
import { SignJWT, type JWTPayload } from 'jose';

/** A client certificate with its private key, for private_key_jwt. */
export interface ClientCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly privateKey: KeyObject;
  /** base64url SHA-1 (`x5t`). */
  readonly x5t: string;
  /** base64url SHA-256 (`x5t#S256`). */
  readonly x5tS256: string;
  /** Hex SHA-1, as MSAL's `thumbprint`. */
  readonly thumbprintHex: string;
  /** Hex SHA-256, as MSAL's `thumbprintSha256`. */
  readonly thumbprintSha256Hex: string;
}

/** Makes a self-signed client certificate (RSA unless `ES256`). */
export async function createClientCertificate(alg: 'RS256' | 'ES256' = 'RS256'): Promise<ClientCertificate> {
  const generated = await createSelfSignedKey(alg, `CN=test client ${randomUUID()}`, 30);
  const raw = new X509Certificate(generated.certificatePem).raw;
  const privateKey = createPrivateKey({ key: generated.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  return {
    certificatePem: generated.certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey,
    x5t: createHash('sha1').update(raw).digest('base64url'),
    x5tS256: createHash('sha256').update(raw).digest('base64url'),
    thumbprintHex: createHash('sha1').update(raw).digest('hex'),
    thumbprintSha256Hex: createHash('sha256').update(raw).digest('hex'),
  };
}

/** The client credentials scenario of seed 003: a tenant, a resource API with app roles, a daemon granted one. */
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

/**
 * Seeds a tenant (`domain`, default a unique `*.test` name), an API exposing `Data.Read.All` and `Data.Write.All`
 * (access token version `tokenVersion`, default 2), and a daemon with a secret and an RSA certificate that is
 * granted `Data.Read.All`.
 */
export async function seedClientCredentialsScenario(
  directory: Directory,
  options: { domain?: string; tokenVersion?: 1 | 2; tokenAlg?: 'RS256' | 'ES256' } = {},
): Promise<ClientCredentialsScenario> {
  const domain = options.domain ?? `t${randomUUID().slice(0, 8)}.test`;
  const tenant = await directory.tenants.create({ displayName: `Tenant ${domain}`, domains: [domain] });
  const identifierUri = `api://${domain}/api`;
  const api = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'API',
    identifierUris: [identifierUri],
    appRoles: ['Data.Read.All', 'Data.Write.All'],
    requestedAccessTokenVersion: options.tokenVersion ?? 2,
    ...(options.tokenAlg === undefined ? {} : { accessTokenSigningAlgorithm: options.tokenAlg }),
  });
  const daemon = await directory.applications.create({ tenant: tenant.id, displayName: 'Daemon' });
  const password = await directory.credentials.addPassword({ appId: daemon.application.appId });
  const certificate = await createClientCertificate();
  await directory.credentials.addCertificate({
    appId: daemon.application.appId,
    certificatePem: certificate.certificatePem,
  });
  await directory.grants.grantAppRole({
    tenant: tenant.id,
    clientAppId: daemon.application.appId,
    resource: identifierUri,
    role: 'Data.Read.All',
  });
  return {
    tenantId: tenant.id,
    domain,
    api: { appId: api.application.appId, identifierUri, roles: ['Data.Read.All', 'Data.Write.All'] },
    daemon: {
      appId: daemon.application.appId,
      secret: password.secretText,
      certificate,
      servicePrincipalId: daemon.servicePrincipal.id,
    },
    grantedRoles: ['Data.Read.All'],
  };
}

/** Options of {@link signClientAssertion}; every claim and header field can be overridden to build attacks. */
export interface ClientAssertionOptions {
  readonly clientId: string;
  readonly audience: string | string[];
  readonly key: KeyObject;
  /** Default PS256 with `x5t#S256` (what MSAL sends for `thumbprintSha256`). */
  readonly alg?: string;
  readonly header?: Record<string, unknown>;
  /** Claims merged over the defaults (`iss`, `sub`, `aud`, `jti`, `nbf`, `iat`, `exp` = now + 600). */
  readonly claims?: Record<string, unknown>;
  /** Unix seconds; default now. */
  readonly now?: number;
}

/** Signs a client assertion (RFC 7523 §2.2) as MSAL builds it, with overridable parts. */
export async function signClientAssertion(options: ClientAssertionOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    aud: options.audience,
    iss: options.clientId,
    sub: options.clientId,
    jti: randomUUID(),
    nbf: now,
    iat: now,
    exp: now + 600,
    ...options.claims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'PS256', typ: 'JWT', ...options.header })
    .sign(options.key);
}
