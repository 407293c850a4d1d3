import { X509Certificate, createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Directory } from '../directory/directory.js';
import type { DirectoryStore } from '../store/directory-store.js';
import { createSelfSignedKey, privateKeyPem } from '../keys/x509.js';
import { seedClientCredentials } from './client-credentials.js';

/** What the demo seed created; written to `<dataDir>/demo/demo.json` (development only, mode 0600). */
export interface DemoSeed {
  readonly tenantId: string;
  readonly tenantDomain: string;
  readonly apiAppId: string;
  readonly apiIdentifierUri: string;
  readonly apiRole: string;
  readonly daemonAppId: string;
  readonly daemonSecret: string;
  readonly daemonCertificateFile: string;
  readonly daemonPrivateKeyFile: string;
  /** Hex SHA-256 thumbprint of the daemon certificate, as MSAL's `thumbprintSha256` takes it. */
  readonly daemonThumbprintSha256: string;
}

/**
 * On an empty directory, creates the demo scenario: tenant `contoso.test`, a resource API with the application
 * permission `Data.Read.All`, and a daemon app with a secret and a certificate that holds that permission.
 * Idempotent: returns the stored seed when the directory already has tenants.
 *
 * @returns the seed, or undefined when the directory has tenants but no demo seed file.
 */
export async function seedDemo(
  directory: Directory,
  store: DirectoryStore,
  dataDir: string,
): Promise<DemoSeed | undefined> {
  const dir = join(dataDir, 'demo');
  const file = join(dir, 'demo.json');
  if ((await store.tenants.listIds()).length > 0) {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoSeed) : undefined;
  }
  const apiIdentifierUri = 'api://demo-api';
  const certificate = await createSelfSignedKey('RS256', 'CN=Demo daemon', 365);
  const seeded = await seedClientCredentials(directory, {
    tenant: { displayName: 'Contoso (demo)', domain: 'contoso.test' },
    api: {
      displayName: 'Demo API',
      identifierUris: [apiIdentifierUri],
      appRoles: ['Data.Read.All'],
      scopes: ['Data.Read'],
      requestedAccessTokenVersion: 2,
    },
    daemon: {
      displayName: 'Demo daemon',
      secretDisplayName: 'demo secret',
      certificatePem: certificate.certificatePem,
    },
    grantedRole: 'Data.Read.All',
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'daemon-cert.pem');
  const keyFile = join(dir, 'daemon-key.pem');
  writeFileSync(certFile, certificate.certificatePem, { mode: 0o644 });
  writeFileSync(keyFile, privateKeyPem(certificate.privateKeyPkcs8), { mode: 0o600 });
  const seed: DemoSeed = {
    tenantId: seeded.tenantId,
    tenantDomain: 'contoso.test',
    apiAppId: seeded.api.appId,
    apiIdentifierUri,
    apiRole: 'Data.Read.All',
    daemonAppId: seeded.daemon.appId,
    daemonSecret: seeded.daemon.secret,
    daemonCertificateFile: certFile,
    daemonPrivateKeyFile: keyFile,
    daemonThumbprintSha256: createHash('sha256')
      .update(new X509Certificate(certificate.certificatePem).raw)
      .digest('hex'),
  };
  writeFileSync(file, `${JSON.stringify(seed, null, 2)}\n`, { mode: 0o600 });
  return seed;
}

/** The ready-to-paste `curl` and MSAL configuration printed at start. */
export function demoInstructions(seed: DemoSeed, baseUrl: string, caFile: string | undefined): string {
  const host = new URL(baseUrl).host;
  const trust = caFile === undefined ? '' : `--cacert '${caFile}' `;
  return [
    '',
    'Demo tenant ready (development only; credentials in the data directory under demo/).',
    '',
    'Get an app-only token with curl:',
    `  curl ${trust}-s -X POST '${baseUrl}/${seed.tenantDomain}/oauth2/v2.0/token' \\`,
    `    -d client_id=${seed.daemonAppId} \\`,
    `    --data-urlencode 'client_secret=${seed.daemonSecret}' \\`,
    `    --data-urlencode 'scope=${seed.apiIdentifierUri}/.default' \\`,
    '    -d grant_type=client_credentials',
    '',
    ...(caFile === undefined ? [] : [`Run MSAL (Node.js) with NODE_EXTRA_CA_CERTS=${caFile} and:`]),
    '  new ConfidentialClientApplication({ auth: {',
    `    clientId: '${seed.daemonAppId}',`,
    `    authority: '${baseUrl}/${seed.tenantId}',`,
    `    knownAuthorities: ['${host}'],`,
    `    clientSecret: '${seed.daemonSecret}',`,
    `    // or clientCertificate: { thumbprintSha256: '${seed.daemonThumbprintSha256}', privateKey: <${seed.daemonPrivateKeyFile}> }`,
    `  } }).acquireTokenByClientCredential({ scopes: ['${seed.apiIdentifierUri}/.default'] })`,
    '',
  ].join('\n');
}
