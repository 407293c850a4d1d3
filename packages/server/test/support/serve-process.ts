import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { cliEnvironment, freePort, TESSERA_CLI } from '@tessera/testkit';

export { freePort };

// `tessera serve` as a child process on a data directory of the test's own, plain HTTP on a free port.

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The demo seed `serve --demo` writes to `{dataDir}/demo/demo.json`. */
export interface DemoSeedFile {
  readonly tenantId: string;
  readonly tenantDomain: string;
  readonly apiIdentifierUri: string;
  readonly daemonAppId: string;
  readonly daemonSecret: string;
}

/** A running `tessera serve` child. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly base: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if it still runs. */
  kill(): Promise<void>;
}

/**
 * Starts `serve --demo --data dataDir --port <free>` with `TESSERA_TLS=off` and `env`, and waits (up to 20 s) until
 * the metadata document answers.
 *
 * @throws Error with the process output when it exits or does not answer in time.
 */
export async function startServe(
  dataDir: string,
  env: Readonly<Record<string, string>> = {},
  cwd?: string,
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [TESSERA_CLI, 'serve', '--demo', '--data', dataDir, '--port', String(port)],
    {
      env: cliEnvironment({ TESSERA_TLS: 'off', TESSERA_LOG_LEVEL: 'info', ...env }),
      ...(cwd === undefined ? {} : { cwd }),
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const base = `http://localhost:${port}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${output}`);
    try {
      const response = await fetch(`${base}/common/v2.0/.well-known/openid-configuration`);
      if (response.ok && output.includes('Tessera listening')) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`the server did not answer within 20 s: ${output}`);
    }
    await sleep(50);
  }
  return { child, port, base, output: () => output, exited, kill };
}

/** Reads the demo seed of a data directory. */
export function readDemoSeed(dataDir: string): DemoSeedFile {
  return JSON.parse(readFileSync(join(dataDir, 'demo', 'demo.json'), 'utf8')) as DemoSeedFile;
}

/** How one raw HTTP request ended: a response, or a socket error code (`ECONNREFUSED`, `ECONNRESET`, …). */
export type RawOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly body: string; readonly at: number }
  | { readonly kind: 'error'; readonly code: string; readonly connected: boolean; readonly at: number };

/**
 * POSTs a form to `http://127.0.0.1:{port}{path}` on a connection of its own (no keep-alive).
 * `onWritten` runs once the request is fully written to a connected socket.
 */
export function postForm(
  port: number,
  path: string,
  form: Record<string, string>,
  onWritten?: () => void,
): Promise<RawOutcome> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve) => {
    let connected = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: {
          host: `localhost:${port}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ kind: 'response', status: res.statusCode ?? 0, body: text, at: Date.now() });
        });
        res.on('error', (error: NodeJS.ErrnoException) => {
          resolve({ kind: 'error', code: error.code ?? error.message, connected, at: Date.now() });
        });
      },
    );
    req.on('socket', (socket) => {
      socket.once('connect', () => (connected = true));
    });
    req.on('finish', () => onWritten?.());
    req.on('error', (error: NodeJS.ErrnoException) => {
      resolve({ kind: 'error', code: error.code ?? error.message, connected, at: Date.now() });
    });
    req.end(body);
  });
}
