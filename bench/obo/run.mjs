/**
 * `npm run bench:obo`: the On-Behalf-Of grant (tokens/s) beside client credentials of the same confidential
 * client, on the same Tessera server, in one run. Target: On-Behalf-Of >= 80% of the client-credentials rate
 * (each issues one signature; On-Behalf-Of also verifies the user's assertion).
 *
 * Method (as bench/token, whose load generator it reuses):
 * - Tessera (the built `dist`) runs as one process pinned to BENCH_SERVER_CPU (0), over plain HTTP on 127.0.0.1;
 *   the load generator (autocannon, bench/token/load.mjs) and this orchestrator are pinned to BENCH_LOAD_CPU (1).
 * - Seeded with the CLI: tenant bench.test, a downstream API `api://bench-api` (delegated scope Files.Read and app
 *   role Data.Read.All, v2.0 tokens, RS256), a web client with a secret, a middle-tier API `api://bench-mid`
 *   (scope access_as_user, v2.0 tokens, a secret, Files.Read as its required permission, the web client as its
 *   known client so that the user's consent is combined consent) granted Data.Read.All, and a user.
 * - The assertion is a real user access token for the middle tier: the user signs in to the web client through
 *   the authorization code flow (PKCE, consent accepted, offline_access), and the code is redeemed with the web
 *   client's secret. BENCH_FRESH_ASSERTIONS (5000) more, all different, come from redeeming the refresh token again
 *   and again.
 * - Three targets: On-Behalf-Of with a new assertion on every request (the fresh ones in turn: more than Tessera
 *   keeps track of, 4096, so every request verifies its assertion's signature and none is remembered: the grant's
 *   full cost, and the target's), On-Behalf-Of with the same assertion on every request (Tessera remembers a
 *   token verified a second time, so its verification is skipped from the third request on), and client
 *   credentials.
 * - Every grant is checked once (200, a JWT that verifies against the tenant's JWKS; On-Behalf-Of: the user's
 *   `oid` and `scp` Files.Read; client credentials: `roles` Data.Read.All), then BENCH_PASSES (3) passes each give
 *   both BENCH_WARMUP_SECONDS (2) of warm-up, discarded, and BENCH_DURATION_SECONDS (6) of measurement in
 *   round-robin slices of BENCH_SLICE_SECONDS (2). BENCH_CONNECTIONS (16) keep-alive connections.
 *   Any non-2xx response, socket error, timeout or non-token body fails the run (exit code 1).
 * - Reported per pass and over all passes: tokens/s, tokens per server CPU second, p50/p99 latency, CPU shares;
 *   the ratio of each On-Behalf-Of variant / client credentials of every pass, their median, and the overall
 *   ratio against the target, and the ratio per server CPU second (what to trust when other processes took the
 *   server core: they slow one grant's slices more than the other's). Written to bench/.results/obo.json. Other load on the server
 *   core or an unsaturated server core is reported as a warning: the figures are then not trustworthy.
 *
 * Other knobs: BENCH_GRANTS (obo_fresh,obo,client_credentials: a subset, e.g. one grant to profile it alone),
 * BENCH_VERBOSE=1 (prints the tokens' claims), BENCH_PROFILE=1 (Tessera runs with --cpu-prof; the
 * profile goes to bench/.results/profiles/ and is summarised), BENCH_TESSERA_CLI (another build's cli/main.js).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { createPkcePair, signInThrough, TestBrowser } from '@tessera/testkit';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import {
  freePort,
  HOST,
  installCleanup,
  spawnPinned,
  stopChild,
  waitUntilListening,
} from '../lib/processes.mjs';
import { fixed, percent, table } from '../lib/report.mjs';
import { intSetting, listSetting, pinSelf, preflight } from '../lib/settings.mjs';
import { runTesseraCli, tesseraCli, tesseraEnvironment } from '../lib/tessera.mjs';
import { summariseProfile } from '../token/profile-summary.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(repoRoot, 'bench/.results');

const DOMAIN = 'bench.test';
const API = 'api://bench-api';
const MID = 'api://bench-mid';
const SCOPE = 'Files.Read';
const ROLE = 'Data.Read.All';
const REDIRECT_URI = 'https://app.example/callback';
const USER = `alice@${DOMAIN}`;
const PASSWORD = 'Correct-Horse-Battery-9';
/** On-Behalf-Of / client credentials, at least. */
const TARGET_RATIO = 0.8;

const ALL_GRANTS = [
  { name: 'obo_fresh', label: 'On-Behalf-Of, a new assertion each' },
  { name: 'obo', label: 'On-Behalf-Of, one assertion' },
  { name: 'client_credentials', label: 'client credentials' },
];
/** The grants measured: BENCH_GRANTS (all by default; one alone gives a profile of that grant only). */
const GRANTS = listSetting(
  'BENCH_GRANTS',
  ALL_GRANTS.map(({ name }) => name),
).map((name) => ALL_GRANTS.find((grant) => grant.name === name));
/** The On-Behalf-Of variants, each compared with client credentials. */
const OBO_GRANTS = GRANTS.some(({ name }) => name === 'client_credentials')
  ? GRANTS.filter(({ name }) => name !== 'client_credentials')
  : [];

function readSettings() {
  return {
    passes: intSetting('BENCH_PASSES', 3, 1, 50),
    durationSeconds: intSetting('BENCH_DURATION_SECONDS', 6, 1, 600),
    warmupSeconds: intSetting('BENCH_WARMUP_SECONDS', 2, 1, 120),
    connections: intSetting('BENCH_CONNECTIONS', 16, 1, 256),
    sliceSeconds: intSetting('BENCH_SLICE_SECONDS', 2, 1, 60),
    // More than Tessera keeps track of (MAX_CACHED_VERIFIED_TOKENS, 4096, for the tokens seen once and for those
    // remembered), so that, sent in turn, every one of them is verified afresh.
    freshAssertions: intSetting('BENCH_FRESH_ASSERTIONS', 5000, 1, 100_000),
    serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
    loadCpu: intSetting('BENCH_LOAD_CPU', 1, 0, 1023),
    verbose: process.env.BENCH_VERBOSE === '1',
    profile: process.env.BENCH_PROFILE === '1',
  };
}

function ensureBuilt() {
  if (existsSync(join(repoRoot, 'packages/server/dist/cli/main.js'))) return;
  console.log('Building (npx tsc -b)...');
  execFileSync('npx', ['tsc', '-b'], { cwd: repoRoot, stdio: 'inherit' });
}

const form = (fields) => new URLSearchParams(fields).toString();

/** Seeds a fresh directory with the CLI (see the method above); the identifiers and secrets. */
async function seedTessera(env, dataDir) {
  const run = (args) => runTesseraCli(repoRoot, env, dataDir, args);
  await run(['tenant', 'create', '--name', 'Bench', '--domain', DOMAIN]);
  await run([
    ...['app', 'create', '--tenant', DOMAIN, '--name', 'Files API', '--identifier-uri', API],
    ...['--scope', SCOPE, '--app-role', ROLE, '--token-version', '2'],
  ]);
  const web = await run([
    ...['app', 'create', '--tenant', DOMAIN, '--name', 'Web'],
    ...['--redirect-uri', `web=${REDIRECT_URI}`],
  ]);
  const webPassword = await run(['app', 'add-password', '--tenant', DOMAIN, '--app', web.appId]);
  const mid = await run([
    ...['app', 'create', '--tenant', DOMAIN, '--name', 'Middle Tier API', '--identifier-uri', MID],
    ...['--scope', 'access_as_user', '--token-version', '2', '--required-scope', `${API}=${SCOPE}`],
    ...['--known-client', web.appId],
  ]);
  const midPassword = await run(['app', 'add-password', '--tenant', DOMAIN, '--app', mid.appId]);
  await run([
    ...['app', 'grant', '--tenant', DOMAIN, '--client', mid.appId],
    ...['--resource', API, '--role', ROLE],
  ]);
  await run(['user', 'create', '--tenant', DOMAIN, '--upn', USER, '--password', PASSWORD]);
  return {
    web: { appId: web.appId, secret: webPassword.secretText },
    mid: { appId: mid.appId, secret: midPassword.secretText },
  };
}

async function startTessera(cleanup, settings, env, dataDir, profileDir) {
  const port = await freePort();
  const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const args = [...profile, tesseraCli(repoRoot), 'serve', '--data', dataDir, '--port', String(port)];
  const child = spawnPinned(cleanup, settings.serverCpu, args, env);
  const base = `http://${HOST}:${port}`;
  await waitUntilListening(child, `${base}/${DOMAIN}/v2.0/.well-known/openid-configuration`);
  return {
    child,
    base,
    tokenUrl: `${base}/${DOMAIN}/oauth2/v2.0/token`,
    jwksUrl: `${base}/${DOMAIN}/discovery/v2.0/keys`,
  };
}

async function postToken(tessera, body) {
  const response = await globalThis.fetch(tessera.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, json: await response.json() };
}

/**
 * The user's access token for the middle tier, as the web client gets it: sign-in (password form, consent
 * accepted, which is combined consent for the middle tier's Files.Read), then the code redeemed with PKCE and
 * the web client's secret.
 */
async function userAccessToken(tessera, seed) {
  const { verifier, challenge } = createPkcePair();
  const params = {
    client_id: seed.web.appId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: `openid offline_access ${MID}/access_as_user`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  const url = `${tessera.base}/${DOMAIN}/oauth2/v2.0/authorize?${form(params)}`;
  const back = await signInThrough(new TestBrowser(), url, {
    userName: USER,
    password: PASSWORD,
    consent: 'accept',
  });
  const code = back.location === undefined ? null : new URL(back.location).searchParams.get('code');
  if (code === null) throw new Error(`sign-in ended without a code (HTTP ${back.status})`);
  const { status, json } = await postToken(
    tessera,
    form({
      grant_type: 'authorization_code',
      client_id: seed.web.appId,
      client_secret: seed.web.secret,
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }),
  );
  if (typeof json.access_token !== 'string' || typeof json.refresh_token !== 'string')
    throw new Error(`code redemption: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
  return { accessToken: json.access_token, refreshToken: json.refresh_token };
}

/**
 * `count` more user access tokens for the middle tier, each a different token (its own `uti`), as the web client
 * gets them: by redeeming the refresh token (rotated on every redemption) again and again.
 */
async function freshAccessTokens(tessera, seed, refreshToken, count) {
  const tokens = [];
  let current = refreshToken;
  while (tokens.length < count) {
    const { status, json } = await postToken(
      tessera,
      form({
        grant_type: 'refresh_token',
        client_id: seed.web.appId,
        client_secret: seed.web.secret,
        refresh_token: current,
        scope: `openid offline_access ${MID}/access_as_user`,
      }),
    );
    if (typeof json.access_token !== 'string' || typeof json.refresh_token !== 'string')
      throw new Error(`refresh: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
    tokens.push(json.access_token);
    current = json.refresh_token;
  }
  return tokens;
}

/** The On-Behalf-Of request body of the middle tier for `assertion`. */
function oboBody(seed, assertion) {
  return form({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    client_id: seed.mid.appId,
    client_secret: seed.mid.secret,
    assertion,
    scope: `${API}/${SCOPE}`,
    requested_token_use: 'on_behalf_of',
  });
}

/**
 * The request bodies by grant: On-Behalf-Of with one assertion, On-Behalf-Of with each of the fresh assertions
 * in turn (their first one here; all of them in `freshBodies`), client credentials of the middle tier.
 */
function bodies(seed, assertion, freshAssertions) {
  const freshBodies = freshAssertions.map((fresh) => oboBody(seed, fresh));
  return {
    obo: oboBody(seed, assertion),
    obo_fresh: freshBodies[0],
    client_credentials: form({
      grant_type: 'client_credentials',
      client_id: seed.mid.appId,
      client_secret: seed.mid.secret,
      scope: `${API}/.default`,
    }),
    freshBodies,
  };
}

/**
 * Requests one token of each grant and checks it: 200, a JWT that verifies against the JWKS, for the
 * downstream API; On-Behalf-Of about the user with `scp` Files.Read, client credentials with `roles`.
 *
 * @returns the decoded claims by grant.
 * @throws Error describing the first check that fails.
 */
async function verifyGrants(tessera, requestBodies, assertionClaims) {
  const jwks = createLocalJWKSet(await (await globalThis.fetch(tessera.jwksUrl)).json());
  const samples = {};
  for (const { name } of GRANTS) {
    const { status, json } = await postToken(tessera, requestBodies[name]);
    if (status !== 200 || typeof json.access_token !== 'string')
      throw new Error(`${name}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
    const { payload } = await jwtVerify(json.access_token, jwks);
    samples[name] = payload;
  }
  for (const { name } of GRANTS) {
    const token = samples[name];
    if (name === 'client_credentials') {
      if (!Array.isArray(token.roles) || !token.roles.includes(ROLE))
        throw new Error(`client credentials token: roles ${JSON.stringify(token.roles)}`);
    } else if (token.oid !== assertionClaims.oid || token.scp !== SCOPE) {
      throw new Error(`On-Behalf-Of token (${name}): oid ${token.oid}, scp ${token.scp}`);
    }
  }
  return samples;
}

/** One pass of the load generator (bench/token/load.mjs) pinned to the load core; results by grant. */
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

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Sums of the passes of one grant: tokens/s over all measured time, CPU shares weighted by time. */
function combine(passResults) {
  const seconds = passResults.reduce((sum, r) => sum + r.durationSeconds, 0);
  const tokens = passResults.reduce((sum, r) => sum + r.tokens, 0);
  const weighted = (field) => passResults.reduce((sum, r) => sum + r[field] * r.durationSeconds, 0) / seconds;
  const serverCpuSeconds = passResults.reduce((sum, r) => sum + r.tokens / r.tokensPerCpuSecond, 0);
  return {
    tokens,
    durationSeconds: seconds,
    tokensPerSecond: tokens / seconds,
    tokensPerCpuSecond: tokens / serverCpuSeconds,
    // Latency percentiles do not add up across passes: the median of the passes' percentiles.
    latencyMs: {
      p50: median(passResults.map((r) => r.latencyMs.p50)),
      p99: median(passResults.map((r) => r.latencyMs.p99)),
    },
    serverCpuUtilisation: weighted('serverCpuUtilisation'),
    serverMainThreadUtilisation: weighted('serverMainThreadUtilisation'),
    otherLoadOnServerCore: weighted('otherLoadOnServerCore'),
    loadCpuUtilisation: weighted('loadCpuUtilisation'),
    failures: passResults.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts + r.mismatches, 0),
  };
}

function formatTable(byGrant) {
  const header = ['grant', 'tokens/s', 'tokens/CPU-s', 'p50 ms', 'p99 ms', 'server CPU', 'main', 'other'];
  const rows = [[...header, 'load CPU', 'failed']];
  for (const { name, label } of GRANTS) {
    const r = byGrant[name];
    rows.push([
      label,
      fixed(r.tokensPerSecond, 0),
      fixed(r.tokensPerCpuSecond, 0),
      fixed(r.latencyMs.p50, 2),
      fixed(r.latencyMs.p99, 2),
      percent(r.serverCpuUtilisation),
      percent(r.serverMainThreadUtilisation),
      percent(r.otherLoadOnServerCore),
      percent(r.loadCpuUtilisation),
      r.failures ?? r.non2xx + r.errors + r.timeouts + r.mismatches,
    ]);
  }
  return table(rows);
}

function reliabilityWarnings(passes) {
  const warnings = [];
  passes.forEach((pass, index) => {
    for (const { name } of GRANTS) {
      const r = pass[name];
      if (r.otherLoadOnServerCore > 0.05)
        warnings.push(
          `pass ${index + 1} ${name}: ${percent(r.otherLoadOnServerCore)} of the server core went to other processes`,
        );
      if (r.serverCpuUtilisation < 0.9)
        warnings.push(
          `pass ${index + 1} ${name}: the server used only ${percent(r.serverCpuUtilisation)} of its core`,
        );
    }
  });
  return warnings;
}

function loadErrors(passes) {
  const problems = [];
  passes.forEach((pass, index) => {
    for (const { name } of GRANTS) {
      const r = pass[name];
      const bad = r.non2xx + r.errors + r.timeouts + r.mismatches + r.warmup.non2xx + r.warmup.errors;
      if (bad > 0)
        problems.push(
          `pass ${index + 1} ${name}: non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}, ` +
            `mismatches ${r.mismatches}, status codes ${JSON.stringify(r.statusCodes)}`,
        );
    }
  });
  return problems;
}

function printProfileSummary(profileDir) {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
    console.log(`\nTessera CPU profile ${relative(repoRoot, join(profileDir, file))}`);
    console.log(summariseProfile(join(profileDir, file)));
  }
}

async function main() {
  const settings = readSettings();
  preflight(settings);
  ensureBuilt();
  // Before pinSelf: afterwards availableParallelism() counts the one core this process may use.
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    serverCpu: settings.serverCpu,
    loadCpu: settings.loadCpu,
    command: 'npm run bench:obo',
    tesseraCli: relative(repoRoot, tesseraCli(repoRoot)),
  };
  pinSelf(settings.loadCpu);
  const cleanup = installCleanup();
  const profileDir = settings.profile ? join(resultsDir, 'profiles', `${Date.now()}`) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });

  const env = tesseraEnvironment();
  const dataDir = cleanup.tempDir('tessera-bench-obo-');
  console.log('Seeding Tessera...');
  const seed = await seedTessera(env, dataDir);
  const tessera = await startTessera(cleanup, settings, env, dataDir, profileDir);
  const passes = [];
  let samples;
  try {
    const { accessToken: assertion, refreshToken } = await userAccessToken(tessera, seed);
    const assertionClaims = decodeJwt(assertion);
    const fresh = GRANTS.some(({ name }) => name === 'obo_fresh')
      ? await freshAccessTokens(tessera, seed, refreshToken, settings.freshAssertions)
      : [];
    if (new Set(fresh).size !== fresh.length || fresh.includes(assertion))
      throw new Error('the fresh assertions are not all different');
    const requestBodies = bodies(seed, assertion, fresh);
    const bodiesFile = join(dataDir, 'obo-fresh-bodies.json');
    writeFileSync(bodiesFile, JSON.stringify(requestBodies.freshBodies));
    samples = await verifyGrants(tessera, requestBodies, assertionClaims);
    if (settings.verbose) console.log(JSON.stringify({ assertion: assertionClaims, ...samples }, null, 2));
    console.log(
      `Tessera on CPU ${settings.serverCpu}, load generator on CPU ${settings.loadCpu}; ${settings.passes} ` +
        `passes, each ${settings.warmupSeconds} s warm-up and ${settings.durationSeconds} s measured per grant ` +
        `in ${settings.sliceSeconds} s slices, ${settings.connections} connections; ` +
        `${settings.freshAssertions} different assertions sent in turn for "a new assertion each".`,
    );
    for (let pass = 0; pass < settings.passes; pass += 1) {
      const results = await runLoad(cleanup, settings, {
        targets: GRANTS.map(({ name }) => ({
          name,
          url: tessera.tokenUrl,
          body: requestBodies[name],
          ...(name === 'obo_fresh' ? { bodiesFile } : {}),
          serverPid: tessera.child.pid,
        })),
        connections: settings.connections,
        warmupSeconds: settings.warmupSeconds,
        durationSeconds: settings.durationSeconds,
        sliceSeconds: settings.sliceSeconds,
        serverCpu: settings.serverCpu,
      });
      passes.push(results);
      const ratios = OBO_GRANTS.map(
        ({ name, label }) =>
          `${label} ${percent(results[name].tokensPerSecond / results.client_credentials.tokensPerSecond)}`,
      );
      console.log(`\nPass ${pass + 1}, of client credentials tokens/s: ${ratios.join('; ')}`);
      console.log(formatTable(results));
    }
  } finally {
    await stopChild(cleanup, tessera.child);
  }

  const overall = Object.fromEntries(GRANTS.map(({ name }) => [name, combine(passes.map((p) => p[name]))]));
  const verdict = (value) => `${percent(value)} ${value >= TARGET_RATIO ? 'PASS' : 'FAIL'}`;
  console.log(`\nAll ${passes.length} passes`);
  console.log(formatTable(overall));
  const ratios = {};
  for (const { name, label } of OBO_GRANTS) {
    const perPass = passes.map((p) => p[name].tokensPerSecond / p.client_credentials.tokensPerSecond);
    const value = overall[name].tokensPerSecond / overall.client_credentials.tokensPerSecond;
    const perCpuSecond = overall[name].tokensPerCpuSecond / overall.client_credentials.tokensPerCpuSecond;
    ratios[name] = { value, perPass, median: median(perPass), perCpuSecond, pass: value >= TARGET_RATIO };
    console.log(
      `${label} / client credentials (target >= ${percent(TARGET_RATIO)}): tokens/s ${verdict(value)} ` +
        `(per pass ${perPass.map(percent).join(', ')}; median ${percent(median(perPass))}); ` +
        `per server CPU second ${verdict(perCpuSecond)}`,
    );
  }
  console.log(
    'The target is the first line: every request verifies its assertion (one RS256 check), as the grant costs ' +
      'when each request brings another user token. The second is the same user token traded again and again ' +
      '(its verification remembered).',
  );
  const { date, node, cores, cpuModel } = environment;
  console.log(`${date}, Node ${node}, ${cores} x ${cpuModel}`);

  mkdirSync(resultsDir, { recursive: true });
  const output = {
    environment,
    settings: { ...settings, pipelining: 1 },
    target: { oboOverClientCredentials: TARGET_RATIO },
    passes,
    overall,
    ratio: ratios,
    sampleTokens: samples,
  };
  writeFileSync(join(resultsDir, 'obo.json'), `${JSON.stringify(output, null, 2)}\n`);
  console.log(`Results written to ${relative(repoRoot, join(resultsDir, 'obo.json'))}`);
  if (profileDir !== undefined) printProfileSummary(profileDir);

  const warnings = reliabilityWarnings(passes);
  if (warnings.length > 0)
    console.warn(`\nWARNING: figures disturbed, run again on a quiet machine:\n  ${warnings.join('\n  ')}`);
  const problems = loadErrors(passes);
  if (problems.length > 0) {
    console.error(`\nFAILED: responses that were not tokens:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:obo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
