/**
 * `npm run bench:token`: OAuth 2.0 client credentials token issuance (tokens/s), Tessera vs oidc-provider vs the
 * raw `node:http` + `node:crypto` limit, RS256 and ES256, in one run.
 *
 * Method:
 * - Each server is its own process pinned to one core (`taskset -c BENCH_SERVER_CPU`, default 0), over plain
 *   HTTP on 127.0.0.1. The load generator (autocannon, load.mjs) is a separate process pinned to the other core
 *   (`taskset -c BENCH_LOAD_CPU`, default 1); this orchestrator pins itself there too. The three servers are up
 *   together but only one is under load at any time; an idle server costs nothing.
 * - Tessera's directory is seeded with its CLI (tenant, two resource APIs RS256/ES256 with an app role, a daemon
 *   client with a secret, the role granted). The other two servers are configured with the same client id and
 *   secret; the raw server signs the same claim set as Tessera.
 * - Per algorithm, one token is first requested from each server and checked: 200, a JWT of the expected `alg`
 *   whose signature verifies against the server's JWKS (BENCH_VERBOSE=1 prints its header and claims).
 * - Then each server gets BENCH_WARMUP_SECONDS (3) of warm-up, discarded, and BENCH_DURATION_SECONDS (10) of
 *   measurement, served in round-robin slices of BENCH_SLICE_SECONDS (2) so that machine speed drift hits every
 *   server alike. BENCH_CONNECTIONS (16) keep-alive connections, pipelining 1, one fixed POST body per server. Any
 *   non-2xx response, socket error, timeout or non-token body fails the run (exit code 1).
 * - Reported: tokens/s (2xx responses / measured wall time), p50/p99 latency, CPU use of the server (all threads
 *   and main thread), of other processes on the server core, and of the load generator; Tessera's ratios to
 *   oidc-provider and to the limit against the targets. Written to bench/.results/token.json. Other load on the
 *   server core or an unsaturated server core is reported as a warning: the figures are then not trustworthy.
 *
 * Other knobs: BENCH_SERVERS (comma list of tessera, oidc-provider, raw), BENCH_ALGS (RS256,ES256),
 * BENCH_RAW_SIGN (async: `crypto.sign` with a callback, the default and the faster; sync: the synchronous call),
 * BENCH_PROFILE=1 (Tessera runs with --cpu-prof; the profile goes to bench/.results/profiles/ and is summarised;
 * use with BENCH_SERVERS=tessera), BENCH_TESSERA_CLI (another Tessera build's cli/main.js, to measure a candidate
 * change against this baseline).
 *
 * `--nodes N` (N >= 2; needs DATABASE_URL, a PostgreSQL server): Tessera on PostgreSQL, one node beside N nodes
 * on the same database (a fresh schema, dropped afterwards), all on the server core, the connections shared out
 * among the nodes; reported as server CPU per token, every node's CPU time summed. The servers default to
 * `tessera,tessera-nodes` then; every node's first token must verify against the first node's JWKS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { formatAlgorithm, loadErrors, ratios, reliabilityWarnings, TARGETS } from './report.mjs';
import { summariseProfile } from './profile-summary.mjs';
import { freePort, installCleanup, stopChild } from '../lib/processes.mjs';
import { choiceSetting, intSetting, listSetting, pinSelf, preflight } from '../lib/settings.mjs';
import { tesseraCli, tesseraEnvironment } from '../lib/tessera.mjs';
import { seedTessera, serverDefinitions } from './servers.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(repoRoot, 'bench/.results');

function readSettings() {
  const nodes = nodesArgument();
  return {
    durationSeconds: intSetting('BENCH_DURATION_SECONDS', 10, 1, 600),
    warmupSeconds: intSetting('BENCH_WARMUP_SECONDS', 3, 0, 120),
    connections: intSetting('BENCH_CONNECTIONS', 16, 1, 256),
    sliceSeconds: intSetting('BENCH_SLICE_SECONDS', 2, 1, 60),
    serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
    loadCpu: intSetting('BENCH_LOAD_CPU', 1, 0, 1023),
    servers: listSetting(
      'BENCH_SERVERS',
      nodes > 1 ? ['tessera', 'tessera-nodes'] : ['tessera', 'oidc-provider', 'raw'],
    ),
    algorithms: listSetting('BENCH_ALGS', ['RS256', 'ES256']),
    rawSignMode: choiceSetting('BENCH_RAW_SIGN', ['async', 'sync']),
    verbose: process.env.BENCH_VERBOSE === '1',
    profile: process.env.BENCH_PROFILE === '1',
    nodes,
  };
}

/** `--nodes N` on the command line (`npm run bench:token -- --nodes 2`); 1 without it. */
function nodesArgument() {
  const index = process.argv.indexOf('--nodes');
  if (index === -1) return 1;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1 || value > 16)
    throw new Error('--nodes takes a whole number, 1 to 16');
  return value;
}

function ensureBuilt() {
  if (existsSync(join(repoRoot, 'packages/server/dist/cli/main.js'))) return;
  console.log('Building (npx tsc -b)...');
  execFileSync('npx', ['tsc', '-b'], { cwd: repoRoot, stdio: 'inherit' });
}

/**
 * Requests one token and checks it: 200, JSON with `access_token`, a JWT signed with `alg` that verifies against
 * the server's JWKS.
 *
 * @returns the decoded header and claims.
 */
async function verifyToken(handle, alg) {
  const response = await globalThis.fetch(handle.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: handle.body(alg),
  });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`token request: HTTP ${response.status} ${text.slice(0, 500)}`);
  const json = JSON.parse(text);
  if (typeof json.access_token !== 'string') throw new Error(`no access_token in ${text.slice(0, 500)}`);
  const header = decodeProtectedHeader(json.access_token);
  if (header.alg !== alg) throw new Error(`token alg ${header.alg}, expected ${alg}`);
  const jwks = await (await globalThis.fetch(handle.jwksUrl)).json();
  const { payload } = await jwtVerify(json.access_token, createLocalJWKSet(jwks), {
    algorithms: [alg],
    typ: 'at+jwt',
  });
  return { header, claims: payload, responseFields: Object.keys(json), tokenBytes: json.access_token.length };
}

/** Runs the load generator (load.mjs) pinned to the load core; resolves with its results by server. */
function runLoad(cleanup, settings, job) {
  const script = join(repoRoot, 'bench/token/load.mjs');
  const args = ['-c', String(settings.loadCpu), process.execPath, script, JSON.stringify(job)];
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.children.add(child);
  const slices = Math.ceil(job.durationSeconds / job.sliceSeconds);
  const limitMs = (job.targets.length * (job.warmupSeconds + slices * (job.sliceSeconds + 1)) + 60) * 1000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      cleanup.children.delete(child);
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').pop()));
      else reject(new Error(`load generator exited with ${code}`));
    });
  });
}

/** Starts every server (one after the other, each on the server core). */
async function startServers(cleanup, settings, servers) {
  const handles = [];
  for (const server of servers) {
    const handle = await server.start(cleanup, settings.serverCpu, await freePort());
    handles.push({ ...handle, server });
  }
  return handles;
}

/** Checks one token per server, then measures them all for one algorithm. */
async function benchAlgorithm(cleanup, settings, handles, alg) {
  const samples = {};
  for (const { server, ...handle } of handles) {
    // Several nodes: each one's token must verify against the first node's keys (one key set for all).
    for (const node of handle.nodes?.slice(1) ?? [])
      await verifyToken({ ...node, jwksUrl: handle.jwksUrl }, alg);
    const sample = await verifyToken(handle, alg);
    samples[server.name] = sample;
    if (settings.verbose) {
      console.log(
        `\n${server.label} ${alg} token (${sample.tokenBytes} bytes), response ${sample.responseFields}`,
      );
      console.log(JSON.stringify({ header: sample.header, claims: sample.claims }, null, 2));
    }
  }
  console.log(`Measuring ${alg}...`);
  const results = await runLoad(cleanup, settings, {
    targets: handles.map(({ server, ...handle }) => ({
      name: server.name,
      url: handle.tokenUrl,
      ...(handle.tokenUrls === undefined ? {} : { urls: handle.tokenUrls }),
      body: handle.body(alg),
      serverPid: handle.child.pid,
      ...(handle.children === undefined ? {} : { serverPids: handle.children.map((c) => c.pid) }),
    })),
    connections: settings.connections,
    warmupSeconds: settings.warmupSeconds,
    durationSeconds: settings.durationSeconds,
    sliceSeconds: settings.sliceSeconds,
    serverCpu: settings.serverCpu,
  });
  return { results, samples };
}

function environmentInfo(settings) {
  // Called before pinSelf: afterwards availableParallelism() counts the one core this process may use.
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    serverCpu: settings.serverCpu,
    loadCpu: settings.loadCpu,
    command: 'npm run bench:token',
    tesseraCli: relative(repoRoot, tesseraCli(repoRoot)),
  };
}

function printProfileSummary(profileDir) {
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    console.log(`\nTessera CPU profile ${relative(repoRoot, join(profileDir, file))}`);
    console.log(summariseProfile(join(profileDir, file)));
  }
}

/** Seeds Tessera and returns the definitions of the servers selected by BENCH_SERVERS. */
/**
 * A fresh PostgreSQL schema for `--nodes` on DATABASE_URL.
 *
 * @returns the URL Tessera is given (the schema as its search_path) and `drop`, which removes the schema.
 */
async function postgresSchema() {
  const base = process.env.DATABASE_URL;
  if (base === undefined || !/^postgres(ql)?:\/\//.test(base)) {
    throw new Error('--nodes needs DATABASE_URL, a postgres:// URL: the nodes share one PostgreSQL database');
  }
  const { default: pg } = await import('pg');
  const schema = `tessera_bench_token_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const drop = async () => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  };
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), schema, drop };
}

async function prepareServers(cleanup, settings, profileDir) {
  const tesseraEnv = tesseraEnvironment();
  if (settings.nodes > 1) {
    const { url, schema, drop } = await postgresSchema();
    tesseraEnv.DATABASE_URL = url;
    settings.dropSchema = drop;
    console.log(`Tessera on PostgreSQL (schema ${schema}), one node beside ${settings.nodes} nodes...`);
  } else {
    delete tesseraEnv.DATABASE_URL;
  }
  const tesseraDataDir = cleanup.tempDir('tessera-bench-');
  console.log('Seeding Tessera...');
  const seed = await seedTessera(repoRoot, tesseraEnv, tesseraDataDir);
  const { rawSignMode } = settings;
  const options = {
    repoRoot,
    seed,
    tesseraEnv,
    tesseraDataDir,
    profileDir,
    rawSignMode,
    nodes: settings.nodes,
  };
  return serverDefinitions(options).filter((s) => settings.servers.includes(s.name));
}

/** Starts the servers, measures every algorithm, stops the servers. */
async function measure(cleanup, settings, servers) {
  console.log(
    `Servers on CPU ${settings.serverCpu}, load generator on CPU ${settings.loadCpu}; per server and algorithm ` +
      `${settings.warmupSeconds} s warm-up, ${settings.durationSeconds} s measured in ${settings.sliceSeconds} s slices.`,
  );
  const results = {};
  const samples = {};
  const handles = await startServers(cleanup, settings, servers);
  try {
    for (const alg of settings.algorithms) {
      const measured = await benchAlgorithm(cleanup, settings, handles, alg);
      results[alg] = measured.results;
      samples[alg] = measured.samples;
    }
  } finally {
    for (const handle of handles) {
      for (const child of handle.children ?? [handle.child]) await stopChild(cleanup, child);
    }
  }
  return { results, samples };
}

function writeResults(environment, settings, results, samples) {
  const output = {
    environment,
    settings: {
      connections: settings.connections,
      pipelining: 1,
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      sliceSeconds: settings.sliceSeconds,
      rawSignMode: settings.rawSignMode,
    },
    targets: TARGETS,
    results,
    ratios: Object.fromEntries(settings.algorithms.map((alg) => [alg, ratios(alg, results[alg])])),
    sampleTokens: samples,
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'token.json'), `${JSON.stringify(output, null, 2)}\n`);
  console.log(`Results written to ${relative(repoRoot, join(resultsDir, 'token.json'))}`);
}

async function main() {
  const settings = readSettings();
  preflight(settings);
  ensureBuilt();
  const environment = environmentInfo(settings);
  pinSelf(settings.loadCpu);
  const cleanup = installCleanup();
  const profileDir = settings.profile ? join(resultsDir, 'profiles', `${Date.now()}`) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });

  const servers = await prepareServers(cleanup, settings, profileDir);
  let measured;
  try {
    measured = await measure(cleanup, settings, servers);
  } finally {
    await settings.dropSchema?.();
  }
  const { results, samples } = measured;

  const labels = Object.fromEntries(servers.map((s) => [s.name, s.label]));
  for (const alg of settings.algorithms) {
    console.log(`\n${formatAlgorithm(alg, results[alg], labels, settings)}`);
    const one = results[alg].tessera;
    const many = results[alg]['tessera-nodes'];
    if (one !== undefined && many !== undefined) {
      const us = (r) => 1e6 / r.tokensPerCpuSecond;
      console.log(
        `Server CPU per token (every node summed): one node ${us(one).toFixed(0)} µs, ${settings.nodes} nodes ` +
          `${us(many).toFixed(0)} µs (${(us(many) / us(one)).toFixed(2)}x); tokens/s ${(many.tokensPerSecond / one.tokensPerSecond).toFixed(2)}x`,
      );
    }
  }
  const { date, node, cores, cpuModel } = environment;
  console.log(`\n${date}, Node ${node}, ${cores} x ${cpuModel}, raw limit signs ${settings.rawSignMode}`);
  writeResults(environment, settings, results, samples);
  if (profileDir !== undefined) printProfileSummary(profileDir);

  const warnings = reliabilityWarnings(results);
  if (warnings.length > 0) {
    console.warn(`\nWARNING: figures disturbed, run again on a quiet machine:\n  ${warnings.join('\n  ')}`);
  }
  const problems = loadErrors(results);
  if (problems.length > 0) {
    console.error(`\nFAILED: responses that were not tokens:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:token failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
