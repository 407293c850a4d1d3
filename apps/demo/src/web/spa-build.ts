import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the built Todo SPA is (`apps/demo/dist/spa`). */
export const SPA_DIST_DIR = fileURLToPath(new URL('../spa/', import.meta.url));
const SPA_SOURCE_DIR = fileURLToPath(new URL('../../src/spa/', import.meta.url));

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the Todo SPA with Vite, in this process. */
async function buildSpa(): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root: SPA_SOURCE_DIR,
    base: '/',
    logLevel: 'warn',
    build: { outDir: SPA_DIST_DIR, emptyOutDir: true, target: 'es2022' },
  });
}

/**
 * Builds the Todo SPA with Vite (`apps/demo/src/spa` into `apps/demo/dist/spa`) when its build is missing or older
 * than its sources, so that `npm start` needs no separate step. The build runs in a child process, so the memory
 * Vite takes is given back before the demo settles.
 *
 * @returns the directory to serve, or undefined when there is neither a build nor a way to make one (the landing
 *   page then stands in for the SPA).
 * @throws Error when the build fails.
 */
export async function ensureSpaBuilt(): Promise<string | undefined> {
  const index = join(SPA_DIST_DIR, 'index.html');
  const built = existsSync(index);
  if (!existsSync(SPA_SOURCE_DIR)) return built ? SPA_DIST_DIR : undefined;
  if (built && statSync(index).mtimeMs >= newestMtimeMs(SPA_SOURCE_DIR)) return SPA_DIST_DIR;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`The Todo SPA could not be built (Vite exited with ${String(code)}).`);
  return SPA_DIST_DIR;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildSpa();
