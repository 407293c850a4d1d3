#!/usr/bin/env node
// The `tessera` command. npm links a package's bin only if the file exists at install time, and dist/ exists only
// after a build, so the bin is this committed file: it runs the built CLI (dist/cli/main.js), and in a checkout of
// the Tessera repository where nothing is built yet (a fresh clone after `npm ci`) it builds first (`tsc -b`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli/main.js', import.meta.url);

if (!existsSync(cli)) {
  const repository = new URL('../../../', import.meta.url);
  if (
    !existsSync(new URL('tsconfig.json', repository)) ||
    !existsSync(new URL('packages/server/src', repository))
  ) {
    process.stderr.write('tessera: the CLI is not built (dist/cli/main.js is missing).\n');
    process.exit(1);
  }
  process.stderr.write('tessera: building Tessera first (npm run build)…\n');
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write('tessera: TypeScript is not installed: run `npm ci` first.\n');
    process.exit(1);
  }
  // The compiler's output goes to stderr, so that stdout stays the command's own (e.g. `--json`).
  const build = spawnSync(process.execPath, [tsc, '-b', fileURLToPath(repository)], {
    stdio: ['ignore', 2, 2],
  });
  if (build.status !== 0 || !existsSync(cli)) {
    process.stderr.write('tessera: the build failed.\n');
    process.exit(build.status || 1);
  }
}

await import(cli.href);
