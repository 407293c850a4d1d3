/**
 * The three servers under test, each started as its own child process pinned to the server core with
 * `taskset -c <core>`, listening on 127.0.0.1 over plain HTTP:
 *
 * - Tessera (`packages/server/dist/cli/main.js serve`), its directory seeded beforehand with the CLI;
 * - oidc-provider (oidc-provider-server.mjs);
 * - the raw `node:http` + `node:crypto` limit (raw-server.mjs).
 *
 * Every child and temporary directory is registered with {@link Cleanup} so that it is removed on exit, on
 * failure and on Ctrl-C.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { freePort, HOST, spawnPinned, waitUntilListening } from '../lib/processes.mjs';
import { runTesseraCli, tesseraCli } from '../lib/tessera.mjs';

const TENANT_DOMAIN = 'bench.test';
const ROLE = 'Data.Read.All';
const LIFETIME_SECONDS = 3599;
/** The two resources: one per signing algorithm. */
export const RESOURCES = { RS256: 'api://bench-api', ES256: 'api://bench-api-es' };

/**
 * Seeds a fresh Tessera directory: tenant bench.test, two resource APIs (RS256 default and ES256) exposing the
 * app role Data.Read.All with v2.0 tokens, a daemon client with a secret, and the role granted on both.
 *
 * @returns the identifiers and the secret every server is configured with.
 */
export async function seedTessera(repoRoot, env, dataDir) {
  const run = (args) => runTesseraCli(repoRoot, env, dataDir, args);
  const tenant = await run(['tenant', 'create', '--name', 'Bench', '--domain', TENANT_DOMAIN]);
  const api = (name, identifier, extra = []) =>
    run([
      ...['app', 'create', '--tenant', TENANT_DOMAIN, '--name', name, '--identifier-uri', identifier],
      ...['--app-role', ROLE, '--token-version', '2', ...extra],
    ]);
  const apiRs = await api('API', RESOURCES.RS256);
  const apiEs = await api('API ES', RESOURCES.ES256, ['--token-alg', 'ES256']);
  const daemon = await run(['app', 'create', '--tenant', TENANT_DOMAIN, '--name', 'Daemon']);
  const password = await run(['app', 'add-password', '--tenant', TENANT_DOMAIN, '--app', daemon.appId]);
  for (const resource of Object.values(RESOURCES)) {
    await run([
      ...['app', 'grant', '--tenant', TENANT_DOMAIN, '--client', daemon.appId],
      ...['--resource', resource, '--role', ROLE],
    ]);
  }
  return {
    tenantId: tenant.id,
    clientId: daemon.appId,
    clientServicePrincipalId: daemon.servicePrincipalId,
    clientSecret: password.secretText,
    resourceAppIds: { RS256: apiRs.appId, ES256: apiEs.appId },
  };
}

function form(fields) {
  return new URLSearchParams(fields).toString();
}

/** The token request body of Tessera and the raw server (Microsoft identity platform form). */
function msBody(seed, alg) {
  return form({
    grant_type: 'client_credentials',
    client_id: seed.clientId,
    client_secret: seed.clientSecret,
    scope: `${RESOURCES[alg]}/.default`,
  });
}

/** The token request body of oidc-provider (RFC 8707 `resource` plus the resource's scope). */
function oidcBody(seed, alg) {
  return form({
    grant_type: 'client_credentials',
    client_id: seed.clientId,
    client_secret: seed.clientSecret,
    scope: ROLE,
    resource: RESOURCES[alg],
  });
}

async function startTesseraNode({
  cleanup,
  cpu,
  port,
  repoRoot,
  seed,
  tesseraEnv,
  tesseraDataDir,
  profileDir,
}) {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const args = [...profile, tesseraCli(repoRoot), 'serve', '--data', tesseraDataDir, '--port', String(port)];
  const child = spawnPinned(cleanup, cpu, args, tesseraEnv);
  const base = `http://${HOST}:${port}`;
  await waitUntilListening(child, `${base}/${TENANT_DOMAIN}/v2.0/.well-known/openid-configuration`);
  return {
    child,
    tokenUrl: `${base}/${TENANT_DOMAIN}/oauth2/v2.0/token`,
    jwksUrl: `${base}/${TENANT_DOMAIN}/discovery/v2.0/keys`,
    body: (alg) => msBody(seed, alg),
  };
}

/**
 * Server descriptors: how to start each one and what to send it. `tessera-nodes` is `nodes` Tessera processes
 * on the same database (`--nodes`, PostgreSQL through DATABASE_URL), all on the server core, the load shared
 * out among them.
 */
export function serverDefinitions({
  repoRoot,
  seed,
  tesseraEnv,
  tesseraDataDir,
  profileDir,
  rawSignMode,
  nodes = 1,
}) {
  const resourceFor = (alg) => ({ appId: seed.resourceAppIds[alg], alg });
  return [
    {
      name: 'tessera',
      label: nodes > 1 ? 'Tessera, one node' : 'Tessera',
      async start(cleanup, cpu, port) {
        return startTesseraNode({
          cleanup,
          cpu,
          port,
          repoRoot,
          seed,
          tesseraEnv,
          tesseraDataDir,
          profileDir,
        });
      },
    },
    {
      name: 'tessera-nodes',
      label: `Tessera, ${nodes} nodes`,
      async start(cleanup, cpu, port) {
        const started = [];
        for (let node = 0; node < nodes; node += 1) {
          const nodePort = node === 0 ? port : await freePort();
          // Each node a data directory of its own: only the database (DATABASE_URL) is shared.
          const dataDir = cleanup.tempDir('tessera-bench-node-');
          started.push(
            await startTesseraNode({
              cleanup,
              cpu,
              port: nodePort,
              repoRoot,
              seed,
              tesseraEnv,
              tesseraDataDir: dataDir,
            }),
          );
        }
        return {
          ...started[0],
          children: started.map((s) => s.child),
          tokenUrls: started.map((s) => s.tokenUrl),
          nodes: started,
        };
      },
    },
    {
      name: 'oidc-provider',
      label: 'oidc-provider',
      async start(cleanup, cpu, port) {
        const config = {
          port,
          clientId: seed.clientId,
          clientSecret: seed.clientSecret,
          scope: ROLE,
          lifetimeSeconds: LIFETIME_SECONDS,
          resources: { [RESOURCES.RS256]: resourceFor('RS256'), [RESOURCES.ES256]: resourceFor('ES256') },
        };
        const script = join(repoRoot, 'bench/token/oidc-provider-server.mjs');
        const env = { ...process.env, NODE_ENV: 'production', BENCH_OIDC_CONFIG: JSON.stringify(config) };
        const child = spawnPinned(cleanup, cpu, [script], env);
        const base = `http://${HOST}:${port}`;
        await waitUntilListening(child, `${base}/.well-known/openid-configuration`);
        return {
          child,
          tokenUrl: `${base}/token`,
          jwksUrl: `${base}/jwks`,
          body: (alg) => oidcBody(seed, alg),
        };
      },
    },
    {
      name: 'raw',
      label: 'raw node:http + node:crypto (limit)',
      async start(cleanup, cpu, port) {
        const config = {
          port,
          tenantId: seed.tenantId,
          tenantDomain: TENANT_DOMAIN,
          clientId: seed.clientId,
          clientServicePrincipalId: seed.clientServicePrincipalId,
          secretSha256: createHash('sha256').update(seed.clientSecret, 'utf8').digest('hex'),
          roles: [ROLE],
          lifetimeSeconds: LIFETIME_SECONDS,
          resources: { [RESOURCES.RS256]: resourceFor('RS256'), [RESOURCES.ES256]: resourceFor('ES256') },
          signMode: rawSignMode,
        };
        const script = join(repoRoot, 'bench/token/raw-server.mjs');
        const env = { ...process.env, BENCH_RAW_CONFIG: JSON.stringify(config) };
        const child = spawnPinned(cleanup, cpu, [script], env);
        const base = `http://${HOST}:${port}`;
        await waitUntilListening(child, `${base}/keys`);
        return {
          child,
          tokenUrl: `${base}/${TENANT_DOMAIN}/oauth2/v2.0/token`,
          jwksUrl: `${base}/keys`,
          body: (alg) => msBody(seed, alg),
        };
      },
    },
  ];
}
