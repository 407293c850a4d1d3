/** The Tessera build a benchmark measures: its CLI, the CLI's `--json` runner and the environment it runs in. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { HOST } from './processes.mjs';

const execFileAsync = promisify(execFile);

/**
 * The Tessera CLI to benchmark: the build in this checkout, or BENCH_TESSERA_CLI (e.g. a patched copy, to
 * measure a candidate change against the same baseline).
 */
export function tesseraCli(repoRoot) {
  return resolve(repoRoot, process.env.BENCH_TESSERA_CLI ?? 'packages/server/dist/cli/main.js');
}

/**
 * Runs the Tessera CLI on `dataDir` with `--json` (see docs/cli.md) and returns its parsed output.
 *
 * @throws Error with the CLI's message when it answers an error.
 */
export async function runTesseraCli(repoRoot, env, dataDir, args) {
  const { stdout } = await execFileAsync(
    process.execPath,
    [tesseraCli(repoRoot), ...args, '--data', dataDir, '--json'],
    { env, cwd: repoRoot },
  );
  const parsed = JSON.parse(stdout);
  if (parsed.error !== undefined) throw new Error(`tessera ${args.join(' ')}: ${parsed.error.message}`);
  return parsed;
}

/** Environment of the Tessera CLI and server: plain HTTP, warnings only, a fresh master key. */
export function tesseraEnvironment() {
  return {
    ...process.env,
    TESSERA_TLS: 'off',
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_HOST: HOST,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
  };
}
