/**
 * The load generator, run by run.mjs as its own process pinned to the load core (`taskset -c 1`). It drives
 * autocannon (keep-alive connections, pipelining 1, one fixed POST body per server) against the token endpoints
 * of every server under test, one server at a time:
 *
 * 1. warm-up: each server in turn for `warmupSeconds` (figures discarded);
 * 2. measurement: `durationSeconds` per server, cut into slices of `sliceSeconds` served round-robin, so that a
 *    change of machine speed during the run (shared or virtual machines drift by tens of percent over minutes)
 *    affects every server alike instead of whichever happened to run last.
 *
 * Around each slice it samples the CPU time of the server process (`/proc/<pid>/stat`, all threads and the main
 * thread alone), of itself, and of the whole server core (`/proc/stat`), so the report can show that the server
 * core was saturated by the server alone and that the load generator was not the bottleneck.
 *
 * Input: the JSON job in argv[2] (see `runLoad` in run.mjs). Output: one JSON line on stdout, results by server.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { cpuSnapshot } from '../lib/cpu-time.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');

/**
 * Latencies of 2xx responses in 10 µs buckets up to 10 s (autocannon's own histogram has 1 ms resolution, too
 * coarse for sub-millisecond responses).
 */
class LatencyHistogram {
  static BUCKET_MS = 0.01;
  counts = new Uint32Array(1_000_000);
  total = 0;
  sum = 0;

  record(ms) {
    const bucket = Math.min(Math.floor(ms / LatencyHistogram.BUCKET_MS), this.counts.length - 1);
    this.counts[bucket] += 1;
    this.total += 1;
    this.sum += ms;
  }

  percentile(p) {
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket += 1) {
      seen += this.counts[bucket];
      if (seen >= rank && seen > 0) return (bucket + 1) * LatencyHistogram.BUCKET_MS;
    }
    return undefined;
  }
}

/**
 * One autocannon run against `target`; 2xx latencies go to `latencies`. Resolves with autocannon's result. A
 * target of several nodes (`target.urls`, `--nodes` in run.mjs) gets one autocannon per node at once, the
 * connections shared out among them, and the results summed.
 */
async function attack(target, durationSeconds, latencies) {
  if (target.urls === undefined)
    return attackOne(target, target.url, job.connections, durationSeconds, latencies);
  const shares = target.urls.map(
    (_url, index) =>
      Math.floor(job.connections / target.urls.length) +
      (index < job.connections % target.urls.length ? 1 : 0),
  );
  const results = await Promise.all(
    target.urls.map((url, index) => attackOne(target, url, shares[index], durationSeconds, latencies)),
  );
  const sum = (key) => results.reduce((total, r) => total + r[key], 0);
  const statusCodeStats = {};
  for (const r of results) {
    for (const [code, { count }] of Object.entries(r.statusCodeStats)) {
      statusCodeStats[code] = { count: (statusCodeStats[code]?.count ?? 0) + count };
    }
  }
  return {
    '2xx': sum('2xx'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    mismatches: sum('mismatches'),
    statusCodeStats,
  };
}

function attackOne(target, url, connections, durationSeconds, latencies) {
  return new Promise((resolve, reject) => {
    const options = {
      url,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: target.body,
      connections,
      pipelining: 1,
      duration: durationSeconds,
      // Counted as a mismatch when a 2xx response is not a token response.
      verifyBody: (body) => body.includes('"access_token":"ey'),
    };
    // `target.bodiesFile` (optional): a JSON array of bodies, sent in turn (the next one on every request) instead
    // of one fixed body.
    if (typeof target.bodiesFile === 'string') {
      target.bodies ??= JSON.parse(readFileSync(target.bodiesFile, 'utf8'));
      target.next ??= 0;
      const next = () => target.bodies[target.next++ % target.bodies.length];
      options.requests = [{ setupRequest: (request) => ({ ...request, body: next() }) }];
    }
    const tracker = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    tracker.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) latencies.record(responseTimeMs);
    });
  });
}

/** Totals of one server over its measured slices. */
function emptyTotals() {
  const counters = { tokens: 0, non2xx: 0, errors: 0, timeouts: 0, mismatches: 0 };
  const cpu = { server: 0, serverMain: 0, load: 0, serverCore: 0 };
  return { ...counters, seconds: 0, cpu, statusCodes: {}, latencies: new LatencyHistogram() };
}

/** CPU time of the target's server, or of all its nodes summed (`serverPids`); the load and core figures once. */
function targetCpu(target) {
  const pids = target.serverPids ?? [target.serverPid];
  const snapshots = pids.map((pid) => cpuSnapshot(pid, job.serverCpu));
  const total = { ...snapshots[0] };
  for (const snapshot of snapshots.slice(1)) {
    total.server += snapshot.server;
    total.serverMain += snapshot.serverMain;
  }
  return total;
}

async function measureSlice(target, totals) {
  const before = targetCpu(target);
  const started = process.hrtime.bigint();
  const result = await attack(target, job.sliceSeconds, totals.latencies);
  totals.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  const after = targetCpu(target);
  for (const name of Object.keys(totals.cpu)) totals.cpu[name] += after[name] - before[name];
  totals.tokens += result['2xx'];
  for (const name of ['non2xx', 'errors', 'timeouts', 'mismatches']) totals[name] += result[name];
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
    totals.statusCodes[code] = (totals.statusCodes[code] ?? 0) + count;
  }
}

function summary(totals, warmup) {
  const share = (name) => totals.cpu[name] / totals.seconds;
  const { latencies } = totals;
  return {
    tokens: totals.tokens,
    durationSeconds: totals.seconds,
    tokensPerSecond: totals.tokens / totals.seconds,
    // Tokens per second of server CPU time (all threads): throughput at 100% of one core, less sensitive to
    // other load on the machine than tokens/s.
    tokensPerCpuSecond: totals.tokens / totals.cpu.server,
    latencyMs: {
      p50: latencies.percentile(50),
      p99: latencies.percentile(99),
      mean: latencies.sum / latencies.total,
    },
    non2xx: totals.non2xx,
    errors: totals.errors,
    timeouts: totals.timeouts,
    mismatches: totals.mismatches,
    statusCodes: totals.statusCodes,
    serverCpuUtilisation: share('server'),
    serverMainThreadUtilisation: share('serverMain'),
    loadCpuUtilisation: share('load'),
    // Time the server core spent on anything but the server (other processes): should be near 0.
    otherLoadOnServerCore: Math.max(0, share('serverCore') - share('server')),
    warmup: { tokens: warmup['2xx'], non2xx: warmup.non2xx, errors: warmup.errors },
  };
}

const warmups = [];
for (const target of job.targets)
  warmups.push(await attack(target, job.warmupSeconds, new LatencyHistogram()));

const totals = job.targets.map(() => emptyTotals());
const slices = Math.ceil(job.durationSeconds / job.sliceSeconds);
for (let slice = 0; slice < slices; slice += 1) {
  // Rotate the order so that no server always follows the same one.
  for (let i = 0; i < job.targets.length; i += 1) {
    const index = (slice + i) % job.targets.length;
    await measureSlice(job.targets[index], totals[index]);
  }
}

const results = Object.fromEntries(
  job.targets.map((target, index) => [target.name, summary(totals[index], warmups[index])]),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
