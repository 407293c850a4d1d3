/**
 * `npm run bench:management`: paging `GET /v1.0/users?$top=100` through 100,000 users of one tenant, on SQLite
 * and on PostgreSQL, with three servers of the same pages side by side in one run: the raw keyset SQL query in
 * process, a bare `node:http` endpoint running that query and writing the same Graph JSON, and Tessera. Target:
 * Tessera at ≥ 80% of the bare endpoint's pages per second (the most an HTTP API of this page can reach here);
 * Tessera's share of the raw query is reported too, bounded by the bare endpoint's own share of it.
 *
 * Method:
 * - Per dialect, a fresh directory: SQLite in a temporary data directory, or a fresh PostgreSQL database made
 *   through BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test, a role with CREATEDB) and dropped
 *   afterwards. Tenant bench.test and a daemon client with Microsoft Graph's `User.Read.All` app role are made
 *   with Tessera's CLI; then BENCH_USERS (100,000) users are inserted with SQL (seed.mjs: one transaction,
 *   batched, one shared precomputed argon2id hash).
 * - Tessera (the built `dist`, `tessera serve`, TESSERA_TLS=off, log level warn) runs pinned to the server core
 *   (`taskset -c BENCH_SERVER_CPU`, default 0). This orchestrator, pinned to BENCH_LOAD_CPU (default 1), gets
 *   one app-only token (client credentials, scope https://graph.microsoft.com/.default) and pages as an SDK
 *   does: `GET /v1.0/users?$top=100`, then each `@odata.nextLink`, one request at a time on one keep-alive
 *   connection (node:http), until a page has no next link. Every pass is checked: every user exactly once, in
 *   ascending id order, 100 per page but the last, the count equal to the table's.
 * - Raw SQL in process (raw-keyset.mjs), pinned to the server core too: the same columns Tessera's page query
 *   reads, `WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT 101`, prepared, through better-sqlite3 or one pg
 *   connection (a named statement); no HTTP, no JSON, no authentication. Its query plan is printed.
 * - The bare endpoint (raw-keyset.mjs with a port), in the same process as the raw query: plain `node:http`,
 *   the bearer token's signature and lifetime checked with jose the first time the token is seen, then only its
 *   `exp` per request (Tessera too remembers verified tokens, and then checks its lifetime, revocation and the
 *   caller's service principal from memory), the same query, Graph's default user properties, `JSON.stringify`,
 *   a keyset `$skiptoken` in `@odata.nextLink`; no framework, no permission rules, no metrics or audit. Paged by
 *   this orchestrator exactly as Tessera is.
 * - One warm-up pass of each (discarded), then BENCH_PASSES (3) measured passes of each, taken in turn (Tessera,
 *   raw query, bare endpoint) so that drift of the machine hits all alike. PostgreSQL itself is not pinned (it
 *   serves all alike).
 * - Reported per dialect, one row each: p50/p99 of the per-page latency (HTTP: request written → last byte
 *   read; raw: one query), pages per second (pages / pass wall time, every measured pass together), the CPU the
 *   server process used per page, the share of the raw query's pages/s and of the bare endpoint's (Tessera's
 *   also by pages per server CPU second, the figure least moved by other load). A warning when other processes
 *   took more than 5% of the server core during a pass (PostgreSQL's own work on that core counts as other).
 *   Written to bench/.results/management.json.
 *
 * Other knobs: BENCH_DIALECTS (sqlite,postgres), BENCH_USERS, BENCH_TOP (100), BENCH_TENANT_ID_INDEX=1 (adds an
 * index on users (tenant_id, id) after seeding, to measure what it changes), BENCH_PROFILE=1 (Tessera runs
 * with --cpu-prof; the profiles go to bench/.results/profiles/ and are summarised), BENCH_TESSERA_CLI (another
 * build's cli/main.js).
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { coreBusySeconds, cpuSeconds } from '../lib/cpu-time.mjs';
import {
  HOST,
  freePort,
  installCleanup,
  spawnPinned,
  stopChild,
  waitUntilListening,
} from '../lib/processes.mjs';
import { createPostgresDatabase } from '../lib/postgres.mjs';
import { fixed, percent, table } from '../lib/report.mjs';
import { intSetting, listSetting, pinSelf, preflight } from '../lib/settings.mjs';
import { tesseraCli, tesseraEnvironment } from '../lib/tessera.mjs';
import { summariseProfile } from '../token/profile-summary.mjs';
import {
  addTenantIdIndex,
  DOMAIN,
  GRAPH,
  seedDirectory,
  seedUsersPostgres,
  seedUsersSqlite,
} from './seed.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(repoRoot, 'bench/.results');
const TARGET = 0.8;

function readSettings() {
  return {
    dialects: listSetting('BENCH_DIALECTS', ['sqlite', 'postgres']),
    users: intSetting('BENCH_USERS', 100_000, 1, 10_000_000),
    top: intSetting('BENCH_TOP', 100, 1, 999),
    passes: intSetting('BENCH_PASSES', 3, 1, 100),
    serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
    loadCpu: intSetting('BENCH_LOAD_CPU', 1, 0, 1023),
    postgresAdminUrl: process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test',
    profile: process.env.BENCH_PROFILE === '1',
    tenantIdIndex: process.env.BENCH_TENANT_ID_INDEX === '1',
  };
}

/** Percentile `p` (0..1) of sorted numbers, nearest rank. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** One GET on the keep-alive agent; resolves with status, body text and the latency to the last byte (ms). */
function get(agent, base, path, token) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      new URL(path, base),
      { agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Pages once through every user of the tenant, following `@odata.nextLink`.
 *
 * @throws Error on a non-200 page, a page of the wrong size, an id out of order or seen twice, or a total other
 * than `expectedUsers`.
 */
async function tesseraPass(tessera, token, settings, expectedUsers) {
  // A fresh keep-alive connection per pass: one left idle during the other passes may have been closed.
  tessera.agent?.destroy();
  tessera.agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const agent = tessera.agent;
  const pageMs = [];
  let path = `/v1.0/users?$top=${settings.top}`;
  let previous = '';
  let rows = 0;
  const cpuBefore = cpuSeconds(`/proc/${tessera.child.pid}/stat`);
  const coreBefore = coreBusySeconds(settings.serverCpu);
  const started = performance.now();
  for (;;) {
    const response = await get(agent, tessera.base, path, token);
    pageMs.push(response.ms);
    if (response.status !== 200) {
      throw new Error(`GET ${path}: HTTP ${response.status} ${response.body.slice(0, 400)}`);
    }
    const page = JSON.parse(response.body);
    for (const user of page.value) {
      if (!(user.id > previous)) throw new Error(`user ${user.id} out of order after ${previous}`);
      previous = user.id;
    }
    rows += page.value.length;
    const next = page['@odata.nextLink'];
    if (next === undefined) break;
    if (page.value.length !== settings.top) throw new Error(`a page of ${page.value.length} before the last`);
    const url = new URL(next);
    path = `${url.pathname}${url.search}`;
  }
  const wallMs = performance.now() - started;
  const cpu = cpuSeconds(`/proc/${tessera.child.pid}/stat`) - cpuBefore;
  const core = coreBusySeconds(settings.serverCpu) - coreBefore;
  if (rows !== expectedUsers) throw new Error(`paged ${rows} users, the table holds ${expectedUsers}`);
  return { pageMs, wallMs, rows, serverCpuSeconds: cpu, otherCoreSeconds: Math.max(0, core - cpu) };
}

/** Starts raw-keyset.mjs pinned to the server core; `pass()` and `explain()` talk to it line by line. */
async function startRaw(cleanup, settings, job) {
  const script = join(repoRoot, 'bench/management/raw-keyset.mjs');
  const child = spawn(
    'taskset',
    ['-c', String(settings.serverCpu), process.execPath, script, JSON.stringify(job)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  cleanup.children.add(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`raw keyset process ended (exit ${child.exitCode})`);
    return value;
  };
  if ((await nextLine()) !== 'ready') throw new Error('raw keyset process did not start');
  const ask = async (command) => {
    child.stdin.write(`${command}\n`);
    return JSON.parse(await nextLine());
  };
  return {
    child,
    pass: () => ask('pass'),
    explain: () => ask('explain'),
    async stop() {
      child.stdin.end();
      await stopChild(cleanup, child);
    },
  };
}

async function startTessera(cleanup, settings, env, dataDir, profileDir) {
  const port = await freePort();
  const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const args = [...profile, tesseraCli(repoRoot), 'serve', '--data', dataDir, '--port', String(port)];
  const child = spawnPinned(cleanup, settings.serverCpu, args, env);
  const base = `http://${HOST}:${port}`;
  await waitUntilListening(child, `${base}/${DOMAIN}/v2.0/.well-known/openid-configuration`);
  return { child, base, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
}

async function appOnlyToken(tessera, seed) {
  const response = await globalThis.fetch(`${tessera.base}/${DOMAIN}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: seed.clientId,
      client_secret: seed.clientSecret,
      scope: `${GRAPH}/.default`,
    }).toString(),
  });
  const json = await response.json();
  if (typeof json.access_token !== 'string') {
    throw new Error(`token request: HTTP ${response.status} ${JSON.stringify(json).slice(0, 400)}`);
  }
  return json.access_token;
}

/** Number of users of the tenant, straight from the table. */
async function countUsers(dialect, location, tenantId) {
  if (dialect === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(location, { readonly: true });
    try {
      return db.prepare('select count(*) as n from users where tenant_id = ?').get(tenantId).n;
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    const { rows } = await client.query('select count(*)::int as n from users where tenant_id = $1', [
      tenantId,
    ]);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

function summarise(passes) {
  const pageMs = passes.flatMap((p) => p.pageMs).sort((a, b) => a - b);
  const wallMs = passes.reduce((sum, p) => sum + p.wallMs, 0);
  return {
    pages: pageMs.length,
    p50Ms: percentile(pageMs, 0.5),
    p99Ms: percentile(pageMs, 0.99),
    pagesPerSecond: pageMs.length / (wallMs / 1000),
    ...(passes[0].serverCpuSeconds === undefined
      ? {}
      : {
          serverCpuMsPerPage: (passes.reduce((sum, p) => sum + p.serverCpuSeconds, 0) * 1000) / pageMs.length,
          // Share of the server core's time other processes took while this server was paged (disturbance).
          otherCoreShare: passes.reduce((sum, p) => sum + p.otherCoreSeconds, 0) / (wallMs / 1000),
        }),
  };
}

async function benchDialect(cleanup, settings, dialect, profileDir) {
  const env = tesseraEnvironment();
  const dataDir = cleanup.tempDir(`tessera-bench-management-${dialect}-`);
  let database;
  if (dialect === 'postgres') {
    database = await createPostgresDatabase(settings.postgresAdminUrl, 'management');
    env.DATABASE_URL = database.url;
  }
  try {
    console.log(`\n[${dialect}] seeding tenant and daemon with the CLI, ${settings.users} users with SQL...`);
    const seed = await seedDirectory(repoRoot, env, dataDir);
    const sqlitePath = join(dataDir, 'tessera.db');
    const seedSeconds =
      dialect === 'sqlite'
        ? await seedUsersSqlite(dataDir, seed.tenantId, settings.users)
        : await seedUsersPostgres(database.url, seed.tenantId, settings.users);
    const location = dialect === 'sqlite' ? sqlitePath : database.url;
    if (settings.tenantIdIndex) await addTenantIdIndex(dialect, location);
    const expectedUsers = await countUsers(dialect, location, seed.tenantId);
    console.log(`[${dialect}] ${expectedUsers} users in the tenant (inserted in ${fixed(seedSeconds, 1)} s)`);

    const tessera = await startTessera(cleanup, settings, env, dataDir, profileDir);
    const jwks = await (await globalThis.fetch(`${tessera.base}/${DOMAIN}/discovery/v2.0/keys`)).json();
    const httpPort = await freePort();
    const raw = await startRaw(cleanup, settings, {
      dialect,
      sqlitePath,
      postgresUrl: database?.url,
      tenantId: seed.tenantId,
      top: settings.top,
      httpPort,
      jwks,
    });
    const rawHttp = {
      child: raw.child,
      base: `http://${HOST}:${httpPort}`,
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    };
    try {
      const plan = await raw.explain();
      console.log(`[${dialect}] raw query plan: ${plan.join(' | ')}`);
      const token = await appOnlyToken(tessera, seed);
      console.log(`[${dialect}] warm-up pass of each, then ${settings.passes} measured passes of each...`);
      await tesseraPass(tessera, token, settings, expectedUsers);
      const rawWarm = await raw.pass();
      if (rawWarm.rows !== expectedUsers) throw new Error(`raw pass read ${rawWarm.rows} rows`);
      await tesseraPass(rawHttp, token, settings, expectedUsers);
      const passes = { tessera: [], raw: [], rawHttp: [] };
      const rate = (pass) => fixed(pass.pageMs.length / (pass.wallMs / 1000), 0);
      for (let i = 0; i < settings.passes; i += 1) {
        passes.tessera.push(await tesseraPass(tessera, token, settings, expectedUsers));
        passes.raw.push(await raw.pass());
        passes.rawHttp.push(await tesseraPass(rawHttp, token, settings, expectedUsers));
        console.log(
          `[${dialect}] pass ${i + 1}: raw SQL ${rate(passes.raw.at(-1))} pages/s, ` +
            `bare endpoint ${rate(passes.rawHttp.at(-1))}, Tessera ${rate(passes.tessera.at(-1))}`,
        );
      }
      return {
        dialect,
        users: expectedUsers,
        seedSeconds,
        rawPlan: plan,
        tessera: summarise(passes.tessera),
        raw: summarise(passes.raw),
        rawHttp: summarise(passes.rawHttp),
      };
    } finally {
      tessera.agent.destroy();
      rawHttp.agent.destroy();
      await raw.stop();
      await stopChild(cleanup, tessera.child);
    }
  } finally {
    await database?.drop();
  }
}

function printReport(results, settings) {
  const rows = [
    [
      '',
      'pages',
      'p50 ms/page',
      'p99 ms/page',
      'pages/s',
      'server CPU ms/page',
      'of raw SQL',
      'of the bare endpoint (target ≥ 80%)',
    ],
  ];
  for (const result of results) {
    // Tessera / raw SQL, and what bounds it: the bare endpoint's own share of the raw query.
    result.ratio = result.tessera.pagesPerSecond / result.raw.pagesPerSecond;
    result.httpRatio = result.rawHttp.pagesPerSecond / result.raw.pagesPerSecond;
    // The target: Tessera / the bare endpoint, by pages/s and by pages per server CPU second.
    result.ratioToHttp = result.tessera.pagesPerSecond / result.rawHttp.pagesPerSecond;
    result.cpuRatioToHttp = result.rawHttp.serverCpuMsPerPage / result.tessera.serverCpuMsPerPage;
    result.targetMet = result.ratioToHttp >= TARGET;
    rows.push([
      `raw keyset query in process, ${result.dialect}`,
      result.raw.pages,
      fixed(result.raw.p50Ms, 3),
      fixed(result.raw.p99Ms, 3),
      fixed(result.raw.pagesPerSecond, 0),
      '',
      '100%',
      '',
    ]);
    rows.push([
      `bare node:http + jose + query, ${result.dialect}`,
      result.rawHttp.pages,
      fixed(result.rawHttp.p50Ms, 3),
      fixed(result.rawHttp.p99Ms, 3),
      fixed(result.rawHttp.pagesPerSecond, 0),
      fixed(result.rawHttp.serverCpuMsPerPage, 3),
      percent(result.httpRatio),
      '100%',
    ]);
    rows.push([
      `Tessera GET /v1.0/users, ${result.dialect}`,
      result.tessera.pages,
      fixed(result.tessera.p50Ms, 3),
      fixed(result.tessera.p99Ms, 3),
      fixed(result.tessera.pagesPerSecond, 0),
      fixed(result.tessera.serverCpuMsPerPage, 3),
      percent(result.ratio),
      `${percent(result.ratioToHttp)} ${result.targetMet ? '(met)' : '(below)'}, CPU ${percent(result.cpuRatioToHttp)}`,
    ]);
  }
  console.log(`\nPaging ${settings.users} users, $top=${settings.top}, ${settings.passes} passes of each:\n`);
  console.log(table(rows));
  for (const result of results) {
    console.log(
      `${result.dialect}: Tessera at ${percent(result.ratioToHttp)} of the bare node:http endpoint's pages/s ` +
        `(target ≥ ${percent(TARGET)}: ${result.targetMet ? 'met' : 'not met'}) and ` +
        `${percent(result.cpuRatioToHttp)} of its pages per server CPU second; at ${percent(result.ratio)} of the ` +
        `raw keyset query in process, which bounds any HTTP API of this page: the bare endpoint itself reaches ` +
        `${percent(result.httpRatio)} of it.`,
    );
  }
  for (const result of results) {
    const other = Math.max(result.tessera.otherCoreShare, result.rawHttp.otherCoreShare);
    if (other > 0.05) {
      console.log(
        `Warning (${result.dialect}): other processes took up to ${percent(other)} of the server core while it ` +
          'was paged; the figures are disturbed (the per-page CPU column is the one to compare).',
      );
    }
  }
}

async function main() {
  const settings = readSettings();
  preflight(settings);
  pinSelf(settings.loadCpu);
  const cleanup = installCleanup();
  const profileDir = settings.profile ? join(resultsDir, 'profiles', `${Date.now()}`) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const results = [];
  for (const dialect of settings.dialects)
    results.push(await benchDialect(cleanup, settings, dialect, profileDir));
  printReport(results, settings);
  if (profileDir !== undefined) {
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
      console.log(`\nTessera CPU profile ${relative(repoRoot, join(profileDir, file))}`);
      console.log(summariseProfile(join(profileDir, file)));
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'management.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
        settings: { ...settings, postgresAdminUrl: undefined },
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nWritten to ${relative(repoRoot, file)}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
