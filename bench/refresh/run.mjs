/**
 * `npm run bench:refresh`: refresh token grants per second (rotations/s) on one core, Tessera beside
 * oidc-provider in the same run; and password sign-ins per second through Tessera's real sign-in form against
 * the raw argon2id verification rate with the same parameters.
 *
 * Method:
 * - Each server is its own process pinned to one core (`taskset -c BENCH_SERVER_CPU`, default 0), plain HTTP on
 *   127.0.0.1; the load generator (load.mjs, node:http keep-alive, one request in flight per connection) is a
 *   separate process on `BENCH_LOAD_CPU` (default 1), and so is this orchestrator. Only one server is under load
 *   at any time. Process, settings and report helpers come from bench/lib.
 * - Per dialect of BENCH_DIALECTS (default `sqlite,postgres`), a fresh Tessera and a fresh oidc-provider measured
 *   side by side, so each dialect's ratio comes from servers measured in the same stretch of time. Tessera's store:
 *   SQLite in a temporary data directory (WAL, synchronous=FULL: every rotation answered is on disk), or a fresh
 *   PostgreSQL database made through BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test, a role with
 *   CREATEDB) and dropped at the end. PostgreSQL itself is not pinned.
 * - Tessera (TESSERA_TLS=off, log level warn) is seeded with its CLI: an
 *   API `api://bench-api` with delegated scope Files.Read (v2.0 RS256 access tokens), a confidential web app
 *   with a client secret (client_secret_post), a user. Its BENCH_CONNECTIONS (16) refresh token families are
 *   obtained as an app would: one browser signs in through the password form and accepts consent, then runs 16
 *   authorization requests (code + PKCE) on its SSO session, and each code is redeemed. Scope
 *   `openid offline_access api://bench-api/Files.Read`, so every refresh response carries an RS256 access token
 *   for the API, an id_token and the rotated refresh token.
 * - Like with like: oidc-provider's refresh grant also issues an id_token when the refresh token's scope has
 *   `openid` (lib/actions/grants/refresh_token.js, issueIdToken), so both sign two RS256 JWTs per grant; the load
 *   generator refuses any refresh response without an RS256 JWT access token and an RS256 id_token.
 * - oidc-provider 9 (oidc-provider-server.mjs): same client id, secret and auth method, `rotateRefreshToken:
 *   true`, resource indicator api://bench-api with JWT (RS256) access tokens, openid scope (id_token in every
 *   response); in-memory storage (an unbounded Map, see that file); 16 grants with a refresh token each, minted
 *   through its Grant/RefreshToken models.
 * - Refresh load: each connection carries its own chain, sending the latest rotated token every time (a reused
 *   token would revoke the family, so any failure stops that chain and fails the run). Warm-up
 *   BENCH_WARMUP_SECONDS (3) per server, then BENCH_DURATION_SECONDS (10) per server in round-robin slices of
 *   BENCH_SLICE_SECONDS (2); a slice ends after every in-flight request completes.
 * - Sign-in load: one fresh browser gets the sign-in page of an authorization request (prompt=login) with its
 *   CSRF cookie, anti-CSRF token and sealed interaction; each connection POSTs that form (user name + password)
 *   with the cookie and must get a 302 to the app with a code (new SSO session per sign-in, consent already
 *   granted). Raw rate: argon2-raw.mjs, pinned to the server core, `@node-rs/argon2` `verify` against a hash made
 *   with Tessera's ARGON2ID_PARAMETERS (m=19456, t=2, p=1) with as many calls in flight as connections. The two
 *   alternate in slices of BENCH_SLICE_SECONDS for BENCH_SIGNIN_DURATION_SECONDS (10) each.
 * - Written to bench/.results/refresh.json (results and ratios by dialect); printed tables with the ratios. Other load on the server core or a
 *   server core that is not saturated is reported as a warning.
 *
 * Figures (2026-11-22, Node 20.20.2, 2 x AMD EPYC, a shared machine other work was running on; defaults):
 *   refresh grants/s: Tessera 829/s (883 per server CPU-s, p50 17.7 ms), oidc-provider 944/s (948/CPU-s,
 *     p50 16.0 ms): Tessera / oidc-provider 0.88x (0.93x per CPU-second). A shorter run earlier: 522 vs 522/s.
 *     Both sign two RS256 JWTs per grant (access token + id_token); Tessera also commits the rotation to SQLite,
 *     oidc-provider only to memory.
 *   sign-ins/s (argon2id m=19456 t=2 p=1, 16 in flight): Tessera's form 55/s (73 per CPU-s) vs raw
 *     `@node-rs/argon2` verify 68.5/s (85.6 per CPU-s): 81% (85% per CPU-second); the run warned that 24% of
 *     the server core went to other processes, so the per-CPU-second figures are the ones to trust. A shorter
 *     undisturbed run: 65/s vs 76/s (85%).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash } from '@node-rs/argon2';
import { createPostgresDatabase } from '../lib/postgres.mjs';
import { fixed, percent, table } from '../lib/report.mjs';
import { summariseProfile } from '../token/profile-summary.mjs';
import { freePort, installCleanup, spawnPinned, stopChild } from '../lib/processes.mjs';
import { intSetting, listSetting, pinSelf, preflight } from '../lib/settings.mjs';
import { tesseraEnvironment } from '../lib/tessera.mjs';
import {
  oidcProviderRefreshTokens,
  PASSWORD,
  seedTessera,
  signInForm,
  startOidcProvider,
  startTessera,
  tesseraRefreshTokens,
} from './setup.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(repoRoot, 'bench/.results');

function readSettings() {
  return {
    durationSeconds: intSetting('BENCH_DURATION_SECONDS', 10, 1, 600),
    signInDurationSeconds: intSetting('BENCH_SIGNIN_DURATION_SECONDS', 10, 1, 600),
    warmupSeconds: intSetting('BENCH_WARMUP_SECONDS', 3, 0, 120),
    connections: intSetting('BENCH_CONNECTIONS', 16, 1, 256),
    sliceSeconds: intSetting('BENCH_SLICE_SECONDS', 2, 1, 60),
    serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
    loadCpu: intSetting('BENCH_LOAD_CPU', 1, 0, 1023),
    dialects: listSetting('BENCH_DIALECTS', ['sqlite', 'postgres']),
    postgresAdminUrl: process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test',
  };
}

/** Runs a node script pinned to `cpu` with a JSON job; resolves with the last JSON line it prints. */
function runPinned(cleanup, cpu, script, job) {
  const child = spawnPinned(cleanup, cpu, [join(repoRoot, script), JSON.stringify(job)], process.env, 'pipe');
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      cleanup.children.delete(child);
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').pop()));
      else reject(new Error(`${script} exited with ${code}: ${child.stderrText.trim()}`));
    });
  });
}

function loadRow(label, r) {
  return [
    label,
    fixed(r.perSecond, 0),
    fixed(r.perServerCpuSecond, 0),
    fixed(r.latencyMs.p50, 2),
    fixed(r.latencyMs.p99, 2),
    percent(r.serverCpuUtilisation),
    percent(r.otherLoadOnServerCore),
    percent(r.loadCpuUtilisation),
    r.failures,
  ];
}

const HEADER = ['', '/s', '/CPU-s', 'p50 ms', 'p99 ms', 'server CPU', 'other', 'load CPU', 'failures'];

async function main() {
  const settings = readSettings();
  preflight(settings);
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    command: 'npm run bench:refresh',
  };
  pinSelf(settings.loadCpu);
  const { ARGON2ID_PARAMETERS } = await import(
    join(repoRoot, 'packages/server/dist/users/password-sign-in.js')
  );

  const cleanup = installCleanup();
  const profileDir =
    process.env.BENCH_PROFILE === '1' ? join(resultsDir, 'profiles', `${Date.now()}`) : undefined;
  const output = {
    environment,
    settings: { ...settings, postgresAdminUrl: undefined },
    argon2id: ARGON2ID_PARAMETERS,
  };
  output.dialects = {};
  for (const dialect of settings.dialects) {
    output.dialects[dialect] = await benchDialect(
      cleanup,
      settings,
      dialect,
      ARGON2ID_PARAMETERS,
      profileDir,
    );
  }

  report(output, settings);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'refresh.json'), `${JSON.stringify(output, null, 2)}\n`);
  console.log(`Results written to ${relative(repoRoot, join(resultsDir, 'refresh.json'))}`);
  if (profileDir !== undefined) {
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
      console.log(
        `\nTessera CPU profile (refresh grants and sign-ins) ${relative(repoRoot, join(profileDir, file))}`,
      );
      console.log(summariseProfile(join(profileDir, file)));
    }
  }
}

/**
 * One dialect's run: a fresh Tessera (SQLite in a temporary data directory, or a fresh PostgreSQL database made
 * through BENCH_PG_URL and dropped afterwards) and a fresh oidc-provider beside it; the refresh load on both,
 * then the sign-in form against raw argon2id verifies.
 */
async function benchDialect(cleanup, settings, dialect, argon2idParameters, profileDir) {
  const env = {
    ...tesseraEnvironment(),
    // Every sign-in of the bench is the same user from the same address, 16 at a time: each attempt is counted
    // (reserved) before its password is verified, so the default limits (10 per account) would lock the account
    // mid-run. Raised here, the throttle still does all of its work on every sign-in.
    TESSERA_SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '1000',
    TESSERA_SIGN_IN_MAX_FAILURES_PER_IP: '100000',
  };
  let database;
  if (dialect === 'postgres') {
    database = await createPostgresDatabase(settings.postgresAdminUrl, 'refresh');
    env.DATABASE_URL = database.url;
  } else {
    delete env.DATABASE_URL;
  }
  const result = {};
  const handles = [];
  try {
    const dataDir = cleanup.tempDir(`tessera-bench-refresh-${dialect}-`);
    console.log(`\n[${dialect}] seeding Tessera...`);
    const seed = await seedTessera(repoRoot, env, dataDir);
    const common = { cleanup, cpu: settings.serverCpu, repoRoot, env, dataDir, seed };
    const tessera = await startTessera({
      ...common,
      port: await freePort(),
      profileDir: profileDir === undefined ? undefined : join(profileDir, dialect),
    });
    handles.push(tessera);
    const oidc = await startOidcProvider({ ...common, port: await freePort() });
    handles.push(oidc);
    console.log(`[${dialect}] obtaining ${settings.connections} refresh token families per server...`);
    const chains = {
      tessera: await tesseraRefreshTokens(tessera, seed, settings.connections),
      'oidc-provider': await oidcProviderRefreshTokens(oidc, settings.connections),
    };
    console.log(
      `[${dialect}] measuring refresh grants: servers on CPU ${settings.serverCpu}, load on CPU ${settings.loadCpu}, ` +
        `${settings.warmupSeconds} s warm-up, ${settings.durationSeconds} s per server in ${settings.sliceSeconds} s slices...`,
    );
    result.refresh = await runPinned(cleanup, settings.loadCpu, 'bench/refresh/load.mjs', {
      targets: handles.map((h) => ({
        kind: 'refresh',
        name: h.name,
        url: h.tokenUrl,
        body: h.body,
        tokens: chains[h.name],
        serverPid: h.child.pid,
      })),
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      sliceSeconds: settings.sliceSeconds,
      serverCpu: settings.serverCpu,
    });
    await stopChild(cleanup, oidc.child);
    for (const r of Object.values(result.refresh)) delete r.tokens;

    console.log(`[${dialect}] measuring sign-ins against raw argon2id verify...`);
    const signIn = await signInForm(tessera, seed);
    const passwordHash = await hash(PASSWORD, argon2idParameters);
    const signInSlices = [];
    const raw = { verifies: 0, seconds: 0, cpuSeconds: 0 };
    const slices = Math.ceil(settings.signInDurationSeconds / settings.sliceSeconds);
    for (let slice = 0; slice < slices; slice += 1) {
      const sliceResult = await runPinned(cleanup, settings.loadCpu, 'bench/refresh/load.mjs', {
        targets: [{ kind: 'signin', name: 'tessera', ...signIn, serverPid: tessera.child.pid }],
        connections: settings.connections,
        warmupSeconds: slice === 0 ? settings.warmupSeconds : 0,
        durationSeconds: settings.sliceSeconds,
        sliceSeconds: settings.sliceSeconds,
        serverCpu: settings.serverCpu,
      });
      signInSlices.push(sliceResult.tessera);
      const rawSlice = await runPinned(cleanup, settings.serverCpu, 'bench/refresh/argon2-raw.mjs', {
        hash: passwordHash,
        password: PASSWORD,
        concurrency: settings.connections,
        seconds: settings.sliceSeconds,
      });
      for (const key of Object.keys(raw)) raw[key] += rawSlice[key];
    }
    result.signIn = combineSlices(signInSlices);
    result.rawArgon2 = {
      ...raw,
      perSecond: raw.verifies / raw.seconds,
      perCpuSecond: raw.verifies / raw.cpuSeconds,
    };
  } finally {
    for (const handle of handles) await stopChild(cleanup, handle.child);
    await database?.drop();
  }
  return result;
}

/** Sums the per-slice sign-in results (latency percentiles: the median of the slices'). */
function combineSlices(slices) {
  const sum = (key) => slices.reduce((total, s) => total + s[key], 0);
  const weighted = (key) => slices.reduce((total, s) => total + s[key] * s.durationSeconds, 0);
  const seconds = sum('durationSeconds');
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const serverCpuSeconds = weighted('serverCpuUtilisation');
  return {
    completed: sum('completed'),
    durationSeconds: seconds,
    perSecond: sum('completed') / seconds,
    perServerCpuSecond: sum('completed') / serverCpuSeconds,
    latencyMs: {
      p50: median(slices.map((s) => s.latencyMs.p50)),
      p99: median(slices.map((s) => s.latencyMs.p99)),
    },
    failures: sum('failures'),
    firstFailures: slices.flatMap((s) => s.firstFailures).slice(0, 3),
    serverCpuUtilisation: serverCpuSeconds / seconds,
    loadCpuUtilisation: weighted('loadCpuUtilisation') / seconds,
    otherLoadOnServerCore: weighted('otherLoadOnServerCore') / seconds,
  };
}

function report(output, settings) {
  output.ratios = {};
  const warnings = [];
  const failures = [];
  for (const [dialect, { refresh, signIn, rawArgon2 }] of Object.entries(output.dialects)) {
    const refreshRatio = refresh.tessera.perSecond / refresh['oidc-provider'].perSecond;
    const signInRatio = signIn.perSecond / rawArgon2.perSecond;
    const refreshCpuRatio = refresh.tessera.perServerCpuSecond / refresh['oidc-provider'].perServerCpuSecond;
    const signInCpuRatio = signIn.perServerCpuSecond / rawArgon2.perCpuSecond;
    output.ratios[dialect] = {
      refreshOverOidcProvider: refreshRatio,
      refreshOverOidcProviderPerCpuSecond: refreshCpuRatio,
      signInOfRawArgon2: signInRatio,
      signInOfRawArgon2PerCpuSecond: signInCpuRatio,
    };
    const store = dialect === 'sqlite' ? 'SQLite, synchronous=FULL' : 'PostgreSQL';
    console.log(
      `\n[${dialect}] Refresh token grants (rotations), ${settings.connections} connections each with its own chain; ` +
        `Tessera commits every rotation to ${store}, oidc-provider to memory:`,
    );
    console.log(
      table([
        HEADER,
        loadRow('Tessera', refresh.tessera),
        loadRow('oidc-provider', refresh['oidc-provider']),
      ]),
    );
    console.log(
      'Like with like: every refresh response of both carried an RS256 JWT access token and an RS256 id_token ' +
        '(checked on each response by the load generator).',
    );
    console.log(
      `[${dialect}] Tessera / oidc-provider: ${fixed(refreshRatio, 2)}x (per server CPU-second: ${fixed(refreshCpuRatio, 2)}x)`,
    );
    console.log(
      `\n[${dialect}] Password sign-ins (argon2id m=${output.argon2id.memoryCost} t=${output.argon2id.timeCost} ` +
        `p=${output.argon2id.parallelism}), ${settings.connections} in flight:`,
    );
    console.log(table([HEADER, loadRow('Tessera sign-in form', signIn)]));
    console.log(
      `raw @node-rs/argon2 verify: ${fixed(rawArgon2.perSecond, 1)}/s ` +
        `(${fixed(rawArgon2.perCpuSecond, 1)}/CPU-s, ${fixed(rawArgon2.cpuSeconds / rawArgon2.seconds, 2)} cores)`,
    );
    console.log(
      `[${dialect}] Tessera sign-ins / raw verifies: ${percent(signInRatio)} (per CPU-second: ${percent(signInCpuRatio)})`,
    );
    for (const [name, r] of [...Object.entries(refresh), ['sign-in', signIn]]) {
      if (r.otherLoadOnServerCore > 0.05)
        warnings.push(
          `${dialect} ${name}: ${percent(r.otherLoadOnServerCore)} of the server core went to other processes`,
        );
      if (r.serverCpuUtilisation < 0.9)
        warnings.push(
          `${dialect} ${name}: the server used only ${percent(r.serverCpuUtilisation)} of its core`,
        );
      if (r.failures > 0) failures.push([`${dialect} ${name}`, r]);
    }
  }
  if (Object.keys(output.ratios).length > 1) {
    console.log('\nSummary:');
    for (const [dialect, r] of Object.entries(output.ratios))
      console.log(
        `  ${dialect.padEnd(8)} refresh ${fixed(r.refreshOverOidcProvider, 2)}x oidc-provider ` +
          `(${fixed(r.refreshOverOidcProviderPerCpuSecond, 2)}x per CPU-s), sign-ins ${percent(r.signInOfRawArgon2)} ` +
          `of raw argon2id (${percent(r.signInOfRawArgon2PerCpuSecond)} per CPU-s)`,
      );
  }
  console.log(
    `\n${output.environment.date}, Node ${output.environment.node}, ${output.environment.cores} x ${output.environment.cpuModel}`,
  );
  if (warnings.length > 0)
    console.warn(`\nWARNING: figures disturbed, run again on a quiet machine:\n  ${warnings.join('\n  ')}`);
  if (failures.length > 0) {
    for (const [name, r] of failures)
      console.error(`FAILED ${name}: ${r.failures} failures, e.g. ${r.firstFailures.join(' | ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:refresh failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
}
