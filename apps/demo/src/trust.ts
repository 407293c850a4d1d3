import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureDevTls, type TesseraConfig } from '@tessera/server';

/** The TLS files every demo server uses, and the CA its own clients must trust. */
export interface DemoTls {
  /** PEM key and certificate chain for `https`; undefined with `tls: off`. */
  readonly keyFile: string | undefined;
  readonly certFile: string | undefined;
  /** The development CA (`tls: dev`), which Node clients trust through `NODE_EXTRA_CA_CERTS`. */
  readonly caFile: string | undefined;
}

/** The TLS files of `config`: the development CA and `localhost` certificate under `<dataDir>/tls/` for `dev`. */
export async function demoTls(config: TesseraConfig): Promise<DemoTls> {
  if (config.tls === 'off') return { keyFile: undefined, certFile: undefined, caFile: undefined };
  if (config.tls === 'files') {
    return { keyFile: config.tlsKeyFile, certFile: config.tlsCertFile, caFile: undefined };
  }
  // The same directory the identity server uses, so the four servers share one certificate.
  const files = await ensureDevTls(join(config.dataDir, 'tls'));
  return { keyFile: files.keyFile, certFile: files.certFile, caFile: files.caFile };
}

/**
 * Node reads `NODE_EXTRA_CA_CERTS` only when the process starts, and the demo's own clients (MSAL Node in the Todo
 * API and the report daemon, `fetch` in the resource library) call the identity server over HTTPS with the
 * development certificate. So when the variable does not name the development CA yet, the demo runs itself again
 * as a child process with it set, forwards SIGINT / SIGTERM, and exits with the child's code.
 *
 * @returns true when this process is the launcher (the caller must do nothing else), false when it is the demo.
 */
export function relaunchTrusting(caFile: string | undefined): boolean {
  if (caFile === undefined || process.env.NODE_EXTRA_CA_CERTS === caFile) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
  });
  const forward = (signal: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches the child too; the child treats a second signal as the same request.
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === null ? 1 : 128 + (signal === 'SIGINT' ? 2 : 15));
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  });
  return true;
}
