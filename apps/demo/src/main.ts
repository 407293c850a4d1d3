/**
 * The demo's entry point (`npm start`, or `node apps/demo/dist/main.js`). See docs/demo.md.
 *
 * Node reads `NODE_EXTRA_CA_CERTS` only when a process starts, and the demo's own clients (MSAL Node in the Todo
 * API and the report daemon, `fetch` in the resource library) call the identity server over HTTPS with the
 * development certificate (`tls: dev`). So unless the variable already names the data directory's development
 * CA, this launcher makes sure the CA exists (`prepare-tls.js`, only when it is missing or expires within 30 days),
 * runs the demo as a child process that trusts it, forwards SIGINT and SIGTERM, and exits with the child's code.
 * It loads nothing but Node's built-ins, so it costs little memory while the demo runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Renew the CA before it is this close to expiring, in ms (the identity server renews it then too). */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** An environment variable's value, empty counting as unset (as the identity server's configuration reads it). */
function setting(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function usable(caFile: string): boolean {
  if (!existsSync(caFile)) return false;
  return Date.parse(new X509Certificate(readFileSync(caFile)).validTo) - Date.now() > RENEW_BEFORE_MS;
}

// The same defaults as the identity server's `dataDir` (`./data`) and `tls` (`dev`).
const dataDir = resolve(setting('TESSERA_DATA_DIR') ?? './data');
const caFile = join(dataDir, 'tls', 'ca.pem');
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

if ((setting('TESSERA_TLS') ?? 'dev') !== 'dev' || process.env.NODE_EXTRA_CA_CERTS === caFile) {
  await import('./demo.js');
} else {
  if (!usable(caFile)) {
    const prepared = spawnSync(process.execPath, [...process.execArgv, here('./prepare-tls.js')], {
      stdio: 'inherit',
    });
    if (prepared.status !== 0) process.exit(prepared.status ?? 1);
  }
  const child = spawn(process.execPath, [...process.execArgv, here('./demo.js'), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
  });
  // A terminal's Ctrl-C reaches the child too; the child treats a second signal as the same request.
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 143);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  });
}
