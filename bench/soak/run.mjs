// The soak: one Tessera node and one @tessera/hub hub under a steady mixed load for SOAK_SECONDS (default 300)
// after SOAK_WARMUP_SECONDS (default 180) of the same load, on the loopback interface only. `npm run soak` (builds
// first).
//
// Load, each kind paced by its own workers:
//   - client-credentials: app-only tokens for the soak API (client secret);
//   - refresh: rotations of a few refresh token chains (each rotation's token is the next request's);
//   - sign-in: a fresh browser per sign-in through the real password form (/authorize, the form, the code
//     redeemed for tokens);
//   - hub: a few SignalR connections (access token from client credentials) each sending a message every
//     200 ms, every message received by every connection; one connection is replaced every 20 s.
// Every 5 s it samples the RSS of both processes (/proc), the hub's V8 heap (its /control/memory) and
// Tessera's V8 heap when the node serves /metrics. At the end it prints requests and errors by kind (warm-up
// included), the mean RSS and heap of the first and last minute after the warm-up, and their least-squares slope
// over the measured SOAK_SECONDS. Exit status 1 on any error (warm-up included), or a slope above
// SOAK_MAX_SLOPE_MB_PER_MIN (default 4 MB/min, for RSS and heap of each process).
//
// Why a warm-up: a fresh process is not at steady state. V8 sizes its heap to the load over the first minutes
// (RSS dips after start-up, then climbs back), and SQLite's page cache starts empty and fills as the database
// grows, up to its fixed bound. Neither is a leak, and both end: a 30-minute run at the defaults was flat from
// minute 9 on (docs/benchmarks.md "Soak"). So that the slope measures only what has no bound, the soak runs Tessera
// with a 2 MiB page cache (TESSERA_SQLITE_CACHE_MIB, unless set; the default is 16 MiB), full within the warm-up.
//
// SOAK_LOADS (client-credentials,refresh,sign-in,hub) runs a subset of the loads.
// SQLite by default, in a temporary data directory; DATABASE_URL and REDIS_URL are honoured as the server reads
// them. Not part of `npm test`.
/* global fetch */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { createPkcePair, signInThrough, TestBrowser } from '@tessera/testkit';
import {
  HOST,
  freePort,
  installCleanup,
  spawnPinned,
  stopChild,
  waitUntilListening,
} from '../lib/processes.mjs';
import { intSetting } from '../lib/settings.mjs';
import { runTesseraCli, tesseraCli, tesseraEnvironment } from '../lib/tessera.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const seconds = intSetting('SOAK_SECONDS', 300, 10, 86_400);
const warmupSeconds = intSetting('SOAK_WARMUP_SECONDS', 180, 0, 86_400);
const maxSlope = Number(process.env.SOAK_MAX_SLOPE_MB_PER_MIN ?? '4');
const SAMPLE_MS = 5000;
// SOAK_LOADS: a subset of the loads (to find which one a memory growth comes with); all four by default.
const LOAD_KINDS = ['client-credentials', 'refresh', 'sign-in', 'hub'];
const loadKinds = (process.env.SOAK_LOADS ?? LOAD_KINDS.join(','))
  .split(',')
  .map((kind) => kind.trim())
  .filter((kind) => kind !== '');
for (const kind of loadKinds) {
  if (!LOAD_KINDS.includes(kind))
    throw new Error(`SOAK_LOADS: unknown load ${kind} (${LOAD_KINDS.join(', ')})`);
}
const DOMAIN = 'soak.test';
const API = 'api://soak-api';
const SCOPE = 'Files.Read';
const ROLE = 'Messages.Send';
const REDIRECT_URI = 'https://app.example/callback';
const USER = `alice@${DOMAIN}`;
const PASSWORD = 'Correct-Horse-Battery-9';
const MB = 1024 * 1024;

const cleanup = installCleanup();
const env = tesseraEnvironment();
// See the header: a page cache small enough to be full by the end of the warm-up.
env.TESSERA_SQLITE_CACHE_MIB ??= '2';
const dataDir = cleanup.tempDir('tessera-soak-');
const form = (fields) => new URLSearchParams(fields).toString();

// --- seed (the CLI, on the node's database) and start -------------------------------------------------------
const run = (args) => runTesseraCli(repoRoot, env, dataDir, args);
const tenant = await run(['tenant', 'create', '--name', 'Soak', '--domain', DOMAIN]);
const api = await run([
  ...['app', 'create', '--tenant', DOMAIN, '--name', 'Soak API', '--identifier-uri', API],
  ...['--scope', SCOPE, '--app-role', ROLE, '--token-version', '2'],
]);
const web = await run([
  ...['app', 'create', '--tenant', DOMAIN, '--name', 'Soak Web', '--redirect-uri', `web=${REDIRECT_URI}`],
]);
const webSecret = (await run(['app', 'add-password', '--tenant', DOMAIN, '--app', web.appId])).secretText;
const daemon = await run(['app', 'create', '--tenant', DOMAIN, '--name', 'Soak Daemon']);
const daemonSecret = (await run(['app', 'add-password', '--tenant', DOMAIN, '--app', daemon.appId]))
  .secretText;
await run([
  ...['app', 'grant', '--tenant', DOMAIN, '--client', daemon.appId, '--resource', API, '--role', ROLE],
]);
await run(['user', 'create', '--tenant', DOMAIN, '--upn', USER, '--password', PASSWORD]);

const tesseraPort = await freePort();
const tessera = spawnPinned(
  cleanup,
  0,
  [tesseraCli(repoRoot), 'serve', '--data', dataDir, '--port', String(tesseraPort)],
  // Issuers name the address the hub and the load use.
  { ...env, TESSERA_PUBLIC_URL: `http://${HOST}:${tesseraPort}` },
);
const base = `http://${HOST}:${tesseraPort}`;
await waitUntilListening(tessera, `${base}/${DOMAIN}/v2.0/.well-known/openid-configuration`);
const tokenUrl = `${base}/${tenant.id}/oauth2/v2.0/token`;

const hubPort = await freePort();
const hubProcess = spawnPinned(cleanup, 1, [join(repoRoot, 'bench/soak/hub-server.mjs')], {
  ...process.env,
  SOAK_HUB_CONFIG: JSON.stringify({
    port: hubPort,
    authority: `${base}/${tenant.id}`,
    audience: [api.appId, API],
  }),
});
const hubBase = `http://${HOST}:${hubPort}`;
await waitUntilListening(hubProcess, `${hubBase}/control/memory`);

// --- counters ---------------------------------------------------------------------------------------------
const requests = {};
const errors = {};
const firstErrors = [];
const count = (kind) => (requests[kind] = (requests[kind] ?? 0) + 1);
function fail(kind, detail) {
  errors[kind] = (errors[kind] ?? 0) + 1;
  if (firstErrors.length < 10) firstErrors.push(`${new Date().toISOString()} ${kind}: ${detail}`);
}

const startedAt = Date.now();
const endsAt = startedAt + (warmupSeconds + seconds) * 1000;
const running = () => Date.now() < endsAt;

async function post(url, fields) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form(fields),
  });
  const text = await response.text();
  return { status: response.status, json: text.startsWith('{') ? JSON.parse(text) : undefined, text };
}

async function clientCredentialsToken() {
  const answer = await post(tokenUrl, {
    grant_type: 'client_credentials',
    client_id: daemon.appId,
    client_secret: daemonSecret,
    scope: `${API}/.default`,
  });
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  return answer.json.access_token;
}

/** A full password sign-in in a fresh browser, its code redeemed; resolves with the refresh token. */
async function signIn() {
  const { verifier, challenge } = createPkcePair();
  const url = `${base}/${DOMAIN}/oauth2/v2.0/authorize?${form({
    client_id: web.appId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: `openid offline_access ${API}/${SCOPE}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })}`;
  const back = await signInThrough(new TestBrowser(), url, {
    userName: USER,
    password: PASSWORD,
    consent: 'accept',
  });
  const code = back.location?.startsWith(REDIRECT_URI)
    ? new URL(back.location).searchParams.get('code')
    : null;
  if (code === null) throw new Error(`sign-in ended without a code (HTTP ${back.status})`);
  const answer = await post(tokenUrl, {
    grant_type: 'authorization_code',
    client_id: web.appId,
    client_secret: webSecret,
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
  if (answer.status !== 200 || typeof answer.json?.refresh_token !== 'string')
    throw new Error(`code redemption: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  return answer.json.refresh_token;
}

/** Runs `step` every `intervalMs` until the end, counting each success and each failure under `kind`. */
async function paced(kind, intervalMs, step) {
  while (running()) {
    const began = Date.now();
    try {
      await step();
      count(kind);
    } catch (error) {
      fail(kind, error instanceof Error ? error.message : String(error));
    }
    await sleep(Math.max(0, intervalMs - (Date.now() - began)));
  }
}

async function refreshChain(intervalMs) {
  let refreshToken = await signIn();
  await paced('refresh', intervalMs, async () => {
    const answer = await post(tokenUrl, {
      grant_type: 'refresh_token',
      client_id: web.appId,
      client_secret: webSecret,
      refresh_token: refreshToken,
    });
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
    refreshToken = answer.json.refresh_token;
  });
}

// --- the hub ----------------------------------------------------------------------------------------------
let hubReceived = 0;
async function openHubConnection() {
  const connection = new HubConnectionBuilder()
    .withUrl(`${hubBase}/hubs/soak`, { accessTokenFactory: clientCredentialsToken })
    .configureLogging(LogLevel.None)
    .build();
  connection.on('message', () => (hubReceived += 1));
  await connection.start();
  count('hub-connect');
  return connection;
}

/** Each connection's invocation in flight: a replaced connection is stopped only once its invocation settled. */
const invoking = new WeakMap();

async function hubClient(index, connections) {
  connections[index] = await openHubConnection();
  await paced('hub-message', 200, () => {
    const connection = connections[index];
    const invocation = connection.invoke('send', `m${index}`);
    invoking.set(connection, invocation);
    return invocation;
  });
}

async function hubChurn(connections) {
  await paced('hub-reconnect', 20_000, async () => {
    const index = Math.floor(Math.random() * connections.length);
    const old = connections[index];
    connections[index] = await openHubConnection();
    // Stopping a connection cancels its invocation in flight on the client ("Invocation canceled due to the
    // underlying connection being closed"): that is the soak closing it, not the hub failing one.
    await invoking.get(old)?.catch(() => undefined);
    await old?.stop();
  });
}

// --- memory -----------------------------------------------------------------------------------------------
const samples = [];
/** A `/proc/<pid>/status` field in bytes (`VmRSS`, or its parts `RssAnon` and `RssFile`), undefined if absent. */
function statusBytes(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
  return kb === null ? undefined : Number(kb[1]) * 1024;
}
const rssOf = (pid) => statusBytes(pid, 'VmRSS');
async function tesseraHeap() {
  try {
    const answer = await fetch(`${base}/metrics`);
    if (answer.status !== 200) return undefined;
    const line = /^(?:tessera_)?nodejs_heap_size_used_bytes\s+(\S+)/m.exec(await answer.text());
    return line === null ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}
async function sample() {
  const hubMemory = await (await fetch(`${hubBase}/control/memory`)).json();
  samples.push({
    atMs: Date.now() - startedAt,
    tesseraRss: rssOf(tessera.pid),
    tesseraRssAnon: statusBytes(tessera.pid, 'RssAnon'),
    tesseraRssFile: statusBytes(tessera.pid, 'RssFile'),
    tesseraHeap: await tesseraHeap(),
    hubRss: rssOf(hubProcess.pid),
    hubHeap: hubMemory.heapUsed,
  });
}
async function sampler() {
  while (running()) {
    try {
      await sample();
    } catch (error) {
      fail('sample', error.message);
    }
    await sleep(SAMPLE_MS);
  }
  await sample();
}

// --- run --------------------------------------------------------------------------------------------------
console.log(
  `soak: ${warmupSeconds} s warm-up, then ${seconds} s measured, against Tessera ${base} and the hub ${hubBase} (${env.DATABASE_URL ? 'PostgreSQL' : 'SQLite'})`,
);
const connections = [];
const loads = {
  'client-credentials': () => [
    paced('client-credentials', 50, async () => void (await clientCredentialsToken())),
    paced('client-credentials', 50, async () => void (await clientCredentialsToken())),
  ],
  refresh: () => [refreshChain(100), refreshChain(100)],
  'sign-in': () => [paced('sign-in', 1000, () => signIn())],
  hub: () => [
    ...Array.from({ length: 4 }, (_, index) => hubClient(index, connections)),
    (async () => {
      await sleep(1000);
      await hubChurn(connections);
    })(),
  ],
};
await Promise.all([sampler(), ...loadKinds.flatMap((kind) => loads[kind]())]);
await Promise.all(connections.map((connection) => connection.stop()));
for (const [kind, alive] of [
  ['tessera', tessera],
  ['hub', hubProcess],
]) {
  if (alive.exitCode !== null) fail('process', `${kind} exited with ${alive.exitCode}: ${alive.stderrText}`);
}
await stopChild(cleanup, hubProcess);
await stopChild(cleanup, tessera);

// --- summary ----------------------------------------------------------------------------------------------
const warmupMs = warmupSeconds * 1000;
const windowMs = Math.min(60_000, (seconds * 1000) / 5);
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
/** Least-squares slope of `key` over the samples after the warm-up, in MB per minute. */
function slope(key) {
  const points = samples.filter((s) => s.atMs >= warmupMs && s[key] !== undefined);
  if (points.length < 3) return undefined;
  const xs = points.map((p) => p.atMs / 60_000);
  const ys = points.map((p) => p[key] / MB);
  const mx = mean(xs);
  const my = mean(ys);
  const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i] - my), 0);
  const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  return num / den;
}
const last = samples.at(-1)?.atMs ?? 0;
const memoryRows = [];
const slopes = [];
for (const [key, label] of [
  ['tesseraRss', 'Tessera RSS'],
  ['tesseraHeap', 'Tessera heap used'],
  ['hubRss', 'hub RSS'],
  ['hubHeap', 'hub heap used'],
]) {
  const first = samples
    .filter((s) => s.atMs >= warmupMs && s.atMs <= warmupMs + windowMs && s[key] !== undefined)
    .map((s) => s[key] / MB);
  const final = samples
    .filter((s) => s.atMs >= last - windowMs && s[key] !== undefined)
    .map((s) => s[key] / MB);
  if (first.length === 0) {
    memoryRows.push(`| ${label} | not sampled | | |`);
    continue;
  }
  const perMinute = slope(key);
  slopes.push({ label, perMinute });
  memoryRows.push(
    `| ${label} | ${mean(first).toFixed(1)} MB | ${mean(final).toFixed(1)} MB | ${perMinute === undefined ? '—' : `${perMinute >= 0 ? '+' : ''}${perMinute.toFixed(2)} MB/min`} |`,
  );
}
/** The mean of `key` in each whole minute of the run, in MB: the shape the slope summarises (settling or growing). */
function byMinute(key) {
  const minutes = [];
  for (let start = 0; start + 60_000 <= last + 1; start += 60_000) {
    const values = samples
      .filter((s) => s.atMs >= start && s.atMs < start + 60_000 && s[key] !== undefined)
      .map((s) => s[key] / MB);
    if (values.length > 0) minutes.push(mean(values).toFixed(1));
  }
  return minutes.join(', ');
}
const totalErrors = Object.values(errors).reduce((a, b) => a + b, 0);
const lines = [
  `soak: ${Math.round((Date.now() - startedAt) / 1000)} s, ${samples.length} memory samples, hub messages received ${hubReceived}`,
  '',
  '| requests by kind | count | errors |',
  '| --- | --- | --- |',
  ...[...new Set([...Object.keys(requests), ...Object.keys(errors)])]
    .sort()
    .map((kind) => `| ${kind} | ${requests[kind] ?? 0} | ${errors[kind] ?? 0} |`),
  '',
  `| memory | first ${Math.round(windowMs / 1000)} s after the warm-up | last ${Math.round(windowMs / 1000)} s | slope over the ${seconds} s measured |`,
  '| --- | --- | --- | --- |',
  ...memoryRows,
  '',
  `By minute from the start, the first ${Math.ceil(warmupSeconds / 60)} the warm-up${env.DATABASE_URL ? '' : `; SQLite page cache ${env.TESSERA_SQLITE_CACHE_MIB} MiB`}.`,
  `Tessera RSS by minute (MB): ${byMinute('tesseraRss')}`,
  `  of it anonymous (heap, malloc arenas): ${byMinute('tesseraRssAnon')}`,
  `  of it file-backed (code, mapped files): ${byMinute('tesseraRssFile')}`,
  `hub RSS by minute (MB): ${byMinute('hubRss')}`,
];
console.log(lines.join('\n'));
const steep = slopes.filter((s) => s.perMinute !== undefined && s.perMinute > maxSlope);
if (firstErrors.length > 0) console.log(`\nfirst errors:\n${firstErrors.join('\n')}`);
if (totalErrors > 0 || steep.length > 0) {
  console.log(
    `\nFAILED: ${totalErrors} errors; ${steep.map((s) => `${s.label} ${s.perMinute.toFixed(2)} MB/min`).join(', ') || 'no slope'} over the bound of ${maxSlope} MB/min`,
  );
  process.exitCode = 1;
} else {
  console.log(`\nOK: no errors; every slope at most ${maxSlope} MB/min`);
}
