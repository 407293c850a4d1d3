/**
 * The load generator, run by run.mjs as its own process pinned to the load core (`taskset -c 1`). Unlike
 * bench/token's autocannon load (one fixed body), every connection here carries state:
 *
 * - `refresh` targets: each connection owns one refresh token chain. It POSTs `grant_type=refresh_token` with
 *   the chain's latest token, takes the rotated `refresh_token` from the response and sends it next; a chain is
 *   never presented twice (that would revoke its family). Every response must also carry an RS256 JWT access
 *   token and an RS256 id_token, so both servers are held to the same two signatures per grant. A chain that gets anything but a token response stops
 *   and is reported (the run then fails).
 * - `signin` targets: each connection POSTs the sign-in form (fixed body and CSRF cookie, obtained once from the
 *   real sign-in page) and expects a redirect to the app with an authorization code.
 *
 * Each connection is a keep-alive `http.Agent` with one socket and one request in flight (pipelining 1). A slice
 * ends by letting every connection finish its request in flight, so chains survive from slice to slice.
 * Warm-up first (each target in turn, discarded), then `durationSeconds` per target in round-robin slices of
 * `sliceSeconds`. Around each slice it samples the CPU time of the server process (all threads), of itself and
 * of the server core, as bench/token's load generator does.
 *
 * Input: the JSON job in argv[2] (see run.mjs). Output: one JSON line on stdout (results by target, plus the
 * chains' latest refresh tokens so a later run can continue them).
 */
import { Buffer } from 'node:buffer';
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { cpuSnapshot } from '../lib/cpu-time.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');

/** One POST on `agent`; resolves with status, headers and body text. */
function post(agent, url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, text }));
        response.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** True for a compact JWS whose protected header says RS256. */
function isRs256Jwt(token) {
  if (typeof token !== 'string' || token.split('.').length !== 3) return false;
  try {
    return (
      JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')).alg ===
      'RS256'
    );
  } catch {
    return false;
  }
}

/** A connection of a target: its agent and, for refresh targets, its chain. */
function connections(target) {
  return Array.from({ length: job.connections }, (_, index) => ({
    agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    token: target.kind === 'refresh' ? target.tokens[index] : undefined,
    dead: false,
  }));
}

/** One request of `connection`; returns an error description, or undefined when it got what it should. */
async function step(target, connection) {
  if (target.kind === 'refresh') {
    const body = `${target.body}&refresh_token=${encodeURIComponent(connection.token)}`;
    const response = await post(connection.agent, target.url, body, {});
    if (response.status !== 200) return `HTTP ${response.status} ${response.text.slice(0, 300)}`;
    const json = JSON.parse(response.text);
    // Like with like: both servers must answer each refresh with a rotated refresh token, an RS256 JWT access
    // token and an RS256 id_token (two signatures per grant).
    if (
      typeof json.refresh_token !== 'string' ||
      !isRs256Jwt(json.access_token) ||
      !isRs256Jwt(json.id_token)
    )
      return `not a token response with RS256 access and ID tokens: ${response.text.slice(0, 300)}`;
    connection.token = json.refresh_token;
    return undefined;
  }
  const response = await post(connection.agent, target.url, target.body, { cookie: target.cookie });
  const location = response.headers.location ?? '';
  if (response.status !== 302 || !location.startsWith(target.expectLocation) || !location.includes('code='))
    return `HTTP ${response.status} location ${location.slice(0, 120)} ${response.text.slice(0, 200)}`;
  return undefined;
}

/** Drives every connection of `target` for `seconds`; returns completed requests, latencies and failures. */
async function drive(target, conns, seconds) {
  const deadline = performance.now() + seconds * 1000;
  const latencies = [];
  const failures = [];
  let completed = 0;
  await Promise.all(
    conns.map(async (connection) => {
      while (!connection.dead && performance.now() < deadline) {
        const started = performance.now();
        let failure;
        try {
          failure = await step(target, connection);
        } catch (error) {
          failure = error instanceof Error ? error.message : String(error);
        }
        if (failure === undefined) {
          completed += 1;
          latencies.push(performance.now() - started);
        } else {
          failures.push(failure);
          // A refresh chain in an unknown state cannot continue; a sign-in connection can.
          if (target.kind === 'refresh' || failures.length > 100) connection.dead = true;
        }
      }
    }),
  );
  return { completed, latencies, failures };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const state = job.targets.map((target) => ({
  target,
  conns: connections(target),
  totals: {
    completed: 0,
    seconds: 0,
    latencies: [],
    failures: [],
    cpu: { server: 0, load: 0, serverCore: 0 },
  },
  warmup: 0,
}));

for (const s of state) {
  if (job.warmupSeconds > 0) {
    const warm = await drive(s.target, s.conns, job.warmupSeconds);
    s.warmup = warm.completed;
    s.totals.failures.push(...warm.failures);
  }
}

const slices = Math.ceil(job.durationSeconds / job.sliceSeconds);
for (let slice = 0; slice < slices; slice += 1) {
  for (let i = 0; i < state.length; i += 1) {
    const s = state[(slice + i) % state.length];
    const before = cpuSnapshot(s.target.serverPid, job.serverCpu);
    const started = performance.now();
    const result = await drive(s.target, s.conns, job.sliceSeconds);
    s.totals.seconds += (performance.now() - started) / 1000;
    const after = cpuSnapshot(s.target.serverPid, job.serverCpu);
    for (const name of Object.keys(s.totals.cpu)) s.totals.cpu[name] += after[name] - before[name];
    s.totals.completed += result.completed;
    for (const ms of result.latencies) s.totals.latencies.push(ms);
    s.totals.failures.push(...result.failures);
  }
}

const results = {};
for (const { target, conns, totals, warmup } of state) {
  const sorted = totals.latencies.sort((a, b) => a - b);
  const share = (name) => totals.cpu[name] / totals.seconds;
  results[target.name] = {
    completed: totals.completed,
    durationSeconds: totals.seconds,
    perSecond: totals.completed / totals.seconds,
    perServerCpuSecond: totals.completed / totals.cpu.server,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
    failures: totals.failures.length,
    firstFailures: totals.failures.slice(0, 3),
    deadConnections: conns.filter((c) => c.dead).length,
    serverCpuUtilisation: share('server'),
    loadCpuUtilisation: share('load'),
    otherLoadOnServerCore: Math.max(0, share('serverCore') - share('server')),
    warmup,
    tokens: target.kind === 'refresh' ? conns.map((c) => c.token) : undefined,
  };
  for (const c of conns) c.agent.destroy();
}
process.stdout.write(`${JSON.stringify(results)}\n`);
