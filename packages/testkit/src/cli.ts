import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The built Tessera CLI (`packages/server/dist/cli/main.js`; see docs/cli.md). */
export const TESSERA_CLI = join(
  dirname(createRequire(import.meta.url).resolve('@tessera/server')),
  'cli/main.js',
);

/** How a CLI run ended: its exit code and everything it wrote. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The test process's environment without any `TESSERA_*` or `DATABASE_URL` setting that could leak into a CLI
 * run, with `extra` added.
 */
export function cliEnvironment(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TESSERA_') && name !== 'DATABASE_URL') env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs `node` {@link TESSERA_CLI} `args` (environment default {@link cliEnvironment}); resolves once it exits. */
export function runTesseraCli(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TESSERA_CLI, ...args], {
      env: options.env ?? cliEnvironment(),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}
