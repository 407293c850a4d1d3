/**
 * `npm run bench:validate`: bearer token validation, `@tessera/resource` vs raw `jose` `jwtVerify`, in one run.
 *
 * Method:
 * - Validation cost, in process (inprocess.mjs, its own process pinned to BENCH_SERVER_CPU, default core 0): the
 *   same token with Tessera's app-token claim set (RS256: 1038 bytes; ES256: 782), checked by raw jose
 *   `jwtVerify` with the public key in hand (`issuer`, `audience`, `algorithms`) and by `validator.validate()`
 *   (key from a real local JWKS endpoint, fetched once and cached, plus every check of the library: size, header
 *   `alg` / `typ` / `kid`, per-key algorithm, `aud`, lifetime, issuer rule, access-token rule, claim types). One
 *   warm-up slice each, then BENCH_ROUNDS (21) rounds of two back-to-back slices of BENCH_SLICE_MS (250), order
 *   alternating, with one call in flight and with 64 in flight. Rates are calls per CPU second of the pinned
 *   process (all threads: WebCrypto runs on libuv's pool), far less sensitive than wall time to the other work on
 *   a shared machine; the ratio is the median of the per-round validator/jose ratios. It is the acceptance
 *   figure (target >= 0.90) because it isolates validation from HTTP.
 * - HTTP, reported separately (api-server.mjs pinned to the server core; autocannon in load.mjs pinned to
 *   BENCH_LOAD_CPU, default core 1; this orchestrator pins itself to the load core too): one Fastify API, three
 *   routes answering the same JSON: `/public` (`config.auth: false`: the HTTP cost alone), `/protected` (the
 *   tesseraAuth plugin, app role required), `/jose` (a hand-written onRequest hook calling raw jose
 *   `jwtVerify`). BENCH_CONNECTIONS (32) keep-alive connections, pipelining 1; BENCH_WARMUP_SECONDS (2) per route
 *   discarded, then BENCH_HTTP_ROUNDS (5) rounds of BENCH_DURATION_SECONDS (3) per route, order rotating; median
 *   per route. Any non-2xx fails the run. Reported: requests/s, p50/p99, and the per-request validation cost
 *   derived as 1/rate(route) - 1/rate(/public).
 * - Written to bench/.results/validate.json (with every slice and round).
 *
 * Figures, 2026-11-22, 2 vCPU VM shared with other work (load average 2-4), Node 20.20.2, jose 6.2.17, Fastify 5:
 *
 *   in process               raw jose jwtVerify/s   validator.validate()/s   ratio (two runs)
 *   RS256, 1 in flight            16,787                  16,197             0.965 / 0.946
 *   RS256, 64 in flight           19,082                  18,063             0.961 / 0.974
 *   ES256, 1 in flight             8,649                   8,493             0.969 / 0.962
 *   ES256, 64 in flight            9,047                   8,287             0.939 / 0.982
 *
 *   HTTP (RS256)     requests/s   p50 / p99 ms   validation cost per request
 *   /public              45,228        0 / 2      (HTTP only)
 *   /protected            9,234        3 / 7      86.2 µs (adapter: header, validation, role check, request.auth)
 *   /jose                 9,278        3 / 7      85.7 µs (raw jose hook)
 *
 * A last run with the final code, at load average 4.7: ratios 0.999 / 0.937 / 0.992 / 0.947 (same row order); its
 * HTTP figures (/public 20,940, /protected 7,684, /jose 6,066 requests/s) show what such load does to wall-clock
 * HTTP numbers, hence the in-process CPU-based ratio as the acceptance figure.
 * Earlier runs while other processes loaded the machine spread from 0.87 to 1.03 per row, which is why the ratio
 * is a median of back-to-back pairs rather than of independent runs. Where the validator's small extra cost goes:
 * the header check (memoised per header segment), the key lookup (memoised per alg + kid while jose's set is
 * fresh), the issuer and access-token rules; a CPU profile shows them at about 2% of a call, the rest is jose.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intSetting, pinSelf, preflight } from '../lib/settings.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, '../.results');

const settings = {
  serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
  loadCpu: intSetting('BENCH_LOAD_CPU', 1, 0, 1023),
  rounds: intSetting('BENCH_ROUNDS', 21, 1, 100),
  sliceMs: intSetting('BENCH_SLICE_MS', 250, 50, 60_000),
  connections: intSetting('BENCH_CONNECTIONS', 32, 1, 512),
  warmupSeconds: intSetting('BENCH_WARMUP_SECONDS', 2, 0, 120),
  durationSeconds: intSetting('BENCH_DURATION_SECONDS', 3, 1, 600),
  httpRounds: intSetting('BENCH_HTTP_ROUNDS', 5, 1, 50),
};
const TARGET_RATIO = 0.9;

/** Runs a bench script pinned to `cpu` and returns its one JSON line. */
function runPinned(cpu, script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(cpu), process.execPath, join(here, script), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}'));
    });
  });
}

/** Starts api-server.mjs pinned to the server core; resolves once it prints its URL and token. */
function startApi(alg) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'taskset',
      ['-c', String(settings.serverCpu), process.execPath, join(here, 'api-server.mjs'), alg],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, ...JSON.parse(out.split('\n')[0]) });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`api-server.mjs exited with ${code}`)));
  });
}

const fmt = (value, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main() {
  preflight(settings);
  pinSelf(settings.loadCpu);
  console.log(
    `bench:validate: server core ${settings.serverCpu}, load core ${settings.loadCpu}, Node ${process.version}\n`,
  );

  console.log('1. Validation cost in process (same token, same core; median of alternating slices)\n');
  const inProcess = await runPinned(settings.serverCpu, 'inprocess.mjs', [
    JSON.stringify({ algorithms: ['RS256', 'ES256'], rounds: settings.rounds, sliceMs: settings.sliceMs }),
  ]);
  console.log(
    '   alg    mode            raw jose jwtVerify/s   validator.validate()/s   ratio   (wall ratio)   target',
  );
  for (const row of inProcess.results) {
    console.log(
      `   ${row.alg.padEnd(6)} ${row.mode.padEnd(15)} ${fmt(row.joseCallsPerCpuSecond).padStart(20)}   ${fmt(
        row.validatorCallsPerCpuSecond,
      ).padStart(22)}   ${fmt(row.ratio, 3).padStart(5)}   ${`(${fmt(row.wallRatio, 3)})`.padStart(12)}   ${
        row.ratio >= TARGET_RATIO ? 'met' : 'MISSED'
      } (>= ${TARGET_RATIO})`,
    );
  }
  console.log(
    '   (calls per CPU second of the pinned process; ratio = median of per-round validator/jose ratios)',
  );

  console.log('\n2. HTTP through Fastify (RS256; server and load on separate cores)\n');
  const api = await startApi('RS256');
  const routes = ['public', 'protected', 'jose'];
  const samples = Object.fromEntries(routes.map((route) => [route, []]));
  const load = (route, warmupSeconds, durationSeconds) =>
    runPinned(settings.loadCpu, 'load.mjs', [
      JSON.stringify({
        url: `${api.url}/${route}`,
        token: api.token,
        connections: settings.connections,
        warmupSeconds,
        durationSeconds,
      }),
    ]);
  try {
    for (const route of routes) await load(route, settings.warmupSeconds, 1);
    for (let round = 0; round < settings.httpRounds; round += 1) {
      // Rotate the order so that drift on a shared machine does not favour a route.
      for (let i = 0; i < routes.length; i += 1) {
        const route = routes[(i + round) % routes.length];
        samples[route].push(await load(route, 0, settings.durationSeconds));
      }
    }
  } finally {
    api.child.removeAllListeners('exit');
    api.child.kill('SIGTERM');
  }
  const medianBy = (rows, field) =>
    [...rows].sort((x, y) => x[field] - y[field])[Math.floor(rows.length / 2)];
  const http = Object.fromEntries(
    routes.map((route) => [route, medianBy(samples[route], 'requestsPerSecond')]),
  );
  const costMicros = (route) => 1e6 / http[route].requestsPerSecond - 1e6 / http.public.requestsPerSecond;
  console.log('   route        requests/s   p50 ms   p99 ms   validation cost per request');
  for (const route of ['public', 'protected', 'jose']) {
    const row = http[route];
    const cost = route === 'public' ? '(HTTP only)' : `${fmt(costMicros(route), 1)} µs`;
    console.log(
      `   /${route.padEnd(10)} ${fmt(row.requestsPerSecond).padStart(11)}   ${String(row.p50Ms).padStart(6)}   ${String(
        row.p99Ms,
      ).padStart(6)}   ${cost}`,
    );
  }
  const httpRatio = costMicros('jose') / costMicros('protected');
  console.log(
    `\n   adapter validation cost vs raw jose hook (derived from HTTP): ${fmt(httpRatio, 3)} ` +
      '(jose cost / adapter cost; 1.0 = same cost)',
  );

  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'validate.json');
  writeFileSync(
    file,
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, settings, inProcess, http },
      null,
      2,
    ),
  );
  console.log(`\nWritten to ${file}`);
  const missed = inProcess.results.filter((row) => row.ratio < TARGET_RATIO);
  if (missed.length > 0) {
    console.log(`Target missed for: ${missed.map((row) => `${row.alg} ${row.mode}`).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
