/**
 * The load generator, run by run.mjs pinned to the load core. autocannon against one URL with a fixed
 * `Authorization` header: a warm-up run (discarded), then the measured run. Any non-2xx response or error fails.
 *
 * Input: JSON job in argv[2] `{ url, token, connections, warmupSeconds, durationSeconds }`.
 * Output: one JSON line `{ requestsPerSecond, p50Ms, p99Ms, non2xx, errors }`.
 */
import autocannon from 'autocannon';

const job = JSON.parse(process.argv[2] ?? '{}');

function run(durationSeconds) {
  return autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    duration: durationSeconds,
    headers: { authorization: `Bearer ${job.token}` },
  });
}

if (job.warmupSeconds > 0) await run(job.warmupSeconds);
const result = await run(job.durationSeconds);
const non2xx = result.non2xx;
const errors = result.errors + result.timeouts;
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.total / (result.duration || job.durationSeconds),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx,
    errors,
  }),
);
if (non2xx > 0 || errors > 0) process.exitCode = 1;
