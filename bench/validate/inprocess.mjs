/**
 * In-process validation cost, run by run.mjs pinned to one core. For each algorithm, the same token is checked
 * alternately by (a) raw jose `jwtVerify` with the public key in hand (`issuer`, `audience`, `algorithms`) and
 * (b) `@tessera/resource`'s `validator.validate()` (JWKS from a local endpoint, fetched once and cached, and every
 * check of the library). After one warm-up slice each, `rounds` rounds of two back-to-back slices of `sliceMs`
 * (order alternating), sequentially (one call in flight) and with 64 calls in flight. Reported: median rates per
 * CPU second of the process and per wall-clock second, and the median of the per-round ratios (CPU-based: on a
 * shared machine it is far less sensitive to other processes than wall time).
 *
 * Input: JSON job in argv[2] `{ algorithms, rounds, sliceMs }`. Output: one JSON line on stdout.
 */
import { performance } from 'node:perf_hooks';
import { jwtVerify } from 'jose';
import { createTokenValidator } from '@tessera/resource';
import { AUDIENCE, ISSUER, startFixture } from './fixture.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');
const rounds = job.rounds ?? 5;
const sliceMs = job.sliceMs ?? 1000;
const IN_FLIGHT = 64;

/**
 * Calls `run` for `ms` milliseconds with `concurrency` calls in flight. Returns calls per wall-clock second and per
 * CPU second of this process (all threads: WebCrypto work may run on libuv's pool). The CPU rate is the one
 * compared: on a shared machine it is far less sensitive to other processes than wall time.
 */
async function rate(run, ms, concurrency) {
  let calls = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  const worker = async () => {
    while (performance.now() < end) {
      await run();
      calls += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: calls / wallSeconds, cpu: calls / ((cpu.user + cpu.system) / 1e6) };
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

const results = [];
for (const alg of job.algorithms ?? ['RS256', 'ES256']) {
  const fixture = await startFixture(alg);
  const validator = createTokenValidator({ jwksUri: fixture.jwksUri, issuer: ISSUER, audience: AUDIENCE });
  const raw = () =>
    jwtVerify(fixture.token, fixture.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] });
  const library = () => validator.validate(fixture.token);
  // Both must accept the token before anything is measured.
  const [rawResult, claims] = await Promise.all([raw(), library()]);
  if (rawResult.payload.azp !== claims.azp) throw new Error('raw jose and the validator disagree');

  for (const [mode, concurrency] of [
    ['sequential', 1],
    [`${IN_FLIGHT} in flight`, IN_FLIGHT],
  ]) {
    await rate(raw, sliceMs, concurrency); // warm-up, discarded
    await rate(library, sliceMs, concurrency);
    const rawRates = [];
    const libraryRates = [];
    for (let round = 0; round < rounds; round += 1) {
      // Alternate which goes first, so that drift on a shared machine does not favour either.
      if (round % 2 === 0) {
        rawRates.push(await rate(raw, sliceMs, concurrency));
        libraryRates.push(await rate(library, sliceMs, concurrency));
      } else {
        libraryRates.push(await rate(library, sliceMs, concurrency));
        rawRates.push(await rate(raw, sliceMs, concurrency));
      }
    }
    results.push({
      alg,
      mode,
      tokenBytes: fixture.token.length,
      joseCallsPerCpuSecond: median(rawRates.map((r) => r.cpu)),
      validatorCallsPerCpuSecond: median(libraryRates.map((r) => r.cpu)),
      // Median of the per-round ratios: each round's two slices ran back to back.
      ratio: median(libraryRates.map((r, i) => r.cpu / rawRates[i].cpu)),
      joseCallsPerWallSecond: median(rawRates.map((r) => r.wall)),
      validatorCallsPerWallSecond: median(libraryRates.map((r) => r.wall)),
      wallRatio: median(libraryRates.map((r, i) => r.wall / rawRates[i].wall)),
      joseSlices: rawRates,
      validatorSlices: libraryRates,
    });
  }
  await fixture.close();
}
console.log(JSON.stringify({ results }));
