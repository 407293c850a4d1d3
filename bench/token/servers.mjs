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
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { URLSearchParams } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const HOST = '127.0.0.1';
const TENANT_DOMAIN = 'bench.test';
const ROLE = 'Data.Read.All';
const LIFETIME_SECONDS = 3599;
/** The two resources: one per signing algorithm. */
export const RESOURCES = { RS256: 'api://bench-api', ES256: 'api://bench-api-es' };

/** Children and temporary directories to remove, whatever happens. */
export class Cleanup {
  children = new Set();
  dirs = new Set();

  tempDir(prefix) {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  /** Synchronous, so it also works from `process.on('exit')`. */
  now() {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    this.children.clear();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * The Tessera CLI to benchmark: the build in this checkout, or BENCH_TESSERA_CLI (e.g. a patched copy, to
 * measure a candidate change against the same baseline).
 */
export function tesseraCli(repoRoot) {
  return resolve(repoRoot, process.env.BENCH_TESSERA_CLI ?? 'packages/server/dist/cli/main.js');
}

/** Runs the Tessera CLI with `--json` and returns its parsed output. */
async function tessera(repoRoot, env, dataDir, args) {
  const cli = tesseraCli(repoRoot);
  const { stdout } = await execFileAsync(process.execPath, [cli, ...args, '--data', dataDir, '--json'], {
    env,
    cwd: repoRoot,
  });
  const parsed = JSON.parse(stdout);
  if (parsed.error !== undefined) throw new Error(`tessera ${args.join(' ')}: ${parsed.error.message}`);
  return parsed;
}

/**
 * Seeds a fresh Tessera directory: tenant bench.test, two resource APIs (RS256 default and ES256) exposing the
 * app role Data.Read.All with v2.0 tokens, a daemon client with a secret, and the role granted on both.
 *
 * @returns the identifiers and the secret every server is configured with.
 */
export async function seedTessera(repoRoot, env, dataDir) {
  const run = (args) => tessera(repoRoot, env, dataDir, args);
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

/**
 * Spawns `node <args>` pinned to `cpu`. Output is discarded (logging is off) except stderr, which is kept to explain
 * a failed start.
 */
function spawnPinned(cleanup, cpu, nodeArgs, env) {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanup.children.add(child);
  child.stderrText = '';
  child.stderr.on('data', (chunk) => {
    if (child.stderrText.length < 8192) child.stderrText += chunk;
  });
  return child;
}

/** Polls `url` until it answers (any status), bounded by `attempts` × 100 ms. */
async function waitUntilListening(child, url, attempts = 150) {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (child.exitCode !== null) break;
    try {
      await globalThis.fetch(url, { method: 'GET' });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`server did not start at ${url} (exit ${child.exitCode}): ${child.stderrText.trim()}`);
}

/** Stops a child with SIGTERM (so `--cpu-prof` can write its profile), then SIGKILL after `graceMs`. */
export async function stopChild(cleanup, child, graceMs = 10_000) {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) child.kill('SIGKILL');
  }
  cleanup.children.delete(child);
}

/** Server descriptors: how to start each one and what to send it. */
export function serverDefinitions({ repoRoot, seed, tesseraEnv, tesseraDataDir, profileDir, rawSignMode }) {
  const resourceFor = (alg) => ({ appId: seed.resourceAppIds[alg], alg });
  return [
    {
      name: 'tessera',
      label: 'Tessera',
      async start(cleanup, cpu, port) {
        const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
        const args = [
          ...profile,
          tesseraCli(repoRoot),
          'serve',
          '--data',
          tesseraDataDir,
          '--port',
          String(port),
        ];
        const child = spawnPinned(cleanup, cpu, args, tesseraEnv);
        const base = `http://${HOST}:${port}`;
        await waitUntilListening(child, `${base}/${TENANT_DOMAIN}/v2.0/.well-known/openid-configuration`);
        return {
          child,
          tokenUrl: `${base}/${TENANT_DOMAIN}/oauth2/v2.0/token`,
          jwksUrl: `${base}/${TENANT_DOMAIN}/discovery/v2.0/keys`,
          body: (alg) => msBody(seed, alg),
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

/** Environment of the Tessera CLI and server: plain HTTP, warnings only, a fresh master key. */
export function tesseraEnvironment() {
  return {
    ...process.env,
    TESSERA_TLS: 'off',
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_HOST: HOST,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
  };
}
