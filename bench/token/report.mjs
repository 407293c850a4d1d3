/**
 * Turns the measurements into the printed tables, the Tessera ratios checked against the targets, and the
 * machine-readable results (bench/.results/token.json).
 *
 * Columns: tokens/CPU-s = tokens per second of server CPU time (a cross-check of tokens/s that other load on the
 * machine disturbs less); server CPU = the server process, all threads, as a share of one core; main thread = its
 * JavaScript thread alone; other = other processes on the server core; load CPU = the load generator on its core.
 */
import { fixed, percent, table } from '../lib/report.mjs';

/**
 * Tessera's targets, per algorithm: minimum ratio to oidc-provider (tokens/s), and to the raw limit in tokens per
 * server CPU-second (which other load on the machine disturbs less than tokens/s) with p99 latency no worse than
 * the limit's.
 */
export const TARGETS = {
  RS256: { overOidcProvider: 1.5, ofLimit: 0.95 },
  ES256: { overOidcProvider: 2, ofLimit: 0.85 },
};

/**
 * Tessera / oidc-provider (tokens/s), Tessera / limit (tokens per server CPU-second, and tokens/s for reference)
 * and Tessera's p99 / the limit's for one algorithm, with pass/fail against the targets.
 */
export function ratios(alg, byServer) {
  const tessera = byServer.tessera;
  const ratio = (key, other) =>
    tessera?.[key] === undefined || other?.[key] === undefined ? undefined : tessera[key] / other[key];
  const target = TARGETS[alg];
  const check = (value, minimum) => ({
    value,
    target: minimum,
    pass: value === undefined ? undefined : value >= minimum,
  });
  const p99 =
    tessera === undefined || byServer.raw === undefined
      ? undefined
      : tessera.latencyMs.p99 / byServer.raw.latencyMs.p99;
  return {
    overOidcProvider: check(ratio('tokensPerSecond', byServer['oidc-provider']), target.overOidcProvider),
    ofLimit: check(ratio('tokensPerCpuSecond', byServer.raw), target.ofLimit),
    ofLimitTokensPerSecond: ratio('tokensPerSecond', byServer.raw),
    p99OverLimit: { value: p99, pass: p99 === undefined ? undefined : p99 <= 1 },
  };
}

const verdict = (check) => (check.pass === undefined ? 'n/a' : check.pass ? 'PASS' : 'FAIL');

/** The printed report of one algorithm. */
export function formatAlgorithm(alg, byServer, labels, settings) {
  const header = [
    'server',
    'tokens/s',
    'tokens/CPU-s',
    'p50 ms',
    'p99 ms',
    'server CPU',
    'main thread',
    'other',
    'load CPU',
    'non-2xx',
  ];
  const rows = [header];
  for (const [name, r] of Object.entries(byServer)) {
    rows.push([
      labels[name],
      fixed(r.tokensPerSecond, 0),
      fixed(r.tokensPerCpuSecond, 0),
      fixed(r.latencyMs.p50, 2),
      fixed(r.latencyMs.p99, 2),
      percent(r.serverCpuUtilisation),
      percent(r.serverMainThreadUtilisation),
      percent(r.otherLoadOnServerCore),
      percent(r.loadCpuUtilisation),
      r.non2xx + r.errors + r.timeouts + r.mismatches,
    ]);
  }
  const { overOidcProvider, ofLimit, ofLimitTokensPerSecond, p99OverLimit } = ratios(alg, byServer);
  return [
    `${alg}: ${settings.connections} connections, ${settings.durationSeconds} s measured per server ` +
      `(${settings.sliceSeconds} s slices, round-robin) after ${settings.warmupSeconds} s warm-up`,
    table(rows),
    ...(overOidcProvider.value === undefined
      ? []
      : [
          `Tessera / oidc-provider: ${fixed(overOidcProvider.value, 2)}x (target >= ${overOidcProvider.target}x) ${verdict(overOidcProvider)}`,
        ]),
    ...(ofLimit.value === undefined
      ? []
      : [
          `Tessera / limit:         ${percent(ofLimit.value)} per server CPU-second (target >= ${percent(ofLimit.target)}) ${verdict(ofLimit)}; ${percent(ofLimitTokensPerSecond)} in tokens/s`,
          `Tessera p99 / limit p99: ${fixed(p99OverLimit.value, 2)}x (target <= 1x) ${verdict(p99OverLimit)}`,
        ]),
  ].join('\n');
}

/** Every failed load run (non-2xx, socket errors, timeouts, bodies that are not token responses). */
export function loadErrors(results) {
  const problems = [];
  for (const [alg, byServer] of Object.entries(results)) {
    for (const [name, r] of Object.entries(byServer)) {
      const bad = r.non2xx + r.errors + r.timeouts + r.mismatches + r.warmup.non2xx + r.warmup.errors;
      if (bad > 0) {
        problems.push(
          `${alg} ${name}: non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}, ` +
            `mismatches ${r.mismatches}, warm-up non-2xx ${r.warmup.non2xx} / errors ${r.warmup.errors}, ` +
            `status codes ${JSON.stringify(r.statusCodes)}`,
        );
      }
    }
  }
  return problems;
}

/**
 * Runs whose figures cannot be trusted: the server core was busy with other processes, or the server did not
 * saturate its core (the load generator or something else was the bottleneck).
 */
export function reliabilityWarnings(results) {
  const warnings = [];
  for (const [alg, byServer] of Object.entries(results)) {
    for (const [name, r] of Object.entries(byServer)) {
      if (r.otherLoadOnServerCore > 0.05) {
        warnings.push(
          `${alg} ${name}: ${percent(r.otherLoadOnServerCore)} of the server core went to other processes`,
        );
      }
      if (r.serverCpuUtilisation < 0.9) {
        warnings.push(`${alg} ${name}: the server used only ${percent(r.serverCpuUtilisation)} of its core`);
      }
    }
  }
  return warnings;
}
