/**
 * Benchmark settings read from the environment, and the machine checks every benchmark makes before it measures:
 * a server core and a load core apart (`BENCH_SERVER_CPU`, `BENCH_LOAD_CPU`), pinned with `taskset`.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * A whole number from the environment variable `name`, `fallback` when unset or empty.
 *
 * @throws Error when it is not a whole number from `min` to `max`.
 */
export function intSetting(name, fallback, min, max) {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max} (got ${raw})`);
  }
  return value;
}

/**
 * A comma-separated list from `name`, each value one of `allowed`; all of `allowed` when unset or empty.
 *
 * @throws Error on a value not in `allowed`.
 */
export function listSetting(name, allowed) {
  const raw = process.env[name];
  const values = raw === undefined || raw === '' ? allowed : raw.split(',').map((v) => v.trim());
  for (const value of values) {
    if (!allowed.includes(value)) throw new Error(`${name}: unknown '${value}' (use ${allowed.join(', ')})`);
  }
  return values;
}

/**
 * One of `allowed` from `name`; the first is the default.
 *
 * @throws Error on a value not in `allowed`.
 */
export function choiceSetting(name, allowed) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return allowed[0];
  if (!allowed.includes(raw)) throw new Error(`${name}: unknown '${raw}' (use ${allowed.join(' or ')})`);
  return raw;
}

/**
 * Refuses to run where the method cannot hold: one core for server and load, fewer than two cores, or no taskset.
 *
 * @throws Error naming what is missing.
 */
export function preflight({ serverCpu, loadCpu }) {
  if (serverCpu === loadCpu) throw new Error('BENCH_SERVER_CPU and BENCH_LOAD_CPU must differ');
  if (availableParallelism() < 2) throw new Error('needs at least 2 CPU cores (server and load generator)');
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('needs taskset (util-linux) to pin processes to cores');
  }
}

/** Pins this process (every thread) to `cpu`, away from the server core. */
export function pinSelf(cpu) {
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(process.pid)], { stdio: 'ignore' });
}
