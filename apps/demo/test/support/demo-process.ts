import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  TestBrowser,
  authorizeUrl,
  cliEnvironment,
  createPkcePair,
  freePort,
  postForm,
  signInThrough,
} from '@tessera/testkit';

/** The built demo (`npx tsc -b` first), started as `npm start` starts it. */
export const DEMO_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The `ready` line the demo prints in JSON mode. */
export interface ReadyLine {
  readonly type: 'ready';
  readonly urls: { readonly identity: string; readonly api: string; readonly web: string };
  readonly dataDir: string;
  readonly startupMs: number;
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly tenants: {
    readonly contoso: { readonly id: string; readonly domain: string };
    readonly fabrikam: { readonly id: string; readonly domain: string };
  };
  readonly users: readonly { readonly userPrincipalName: string; readonly password: string }[];
  readonly apps: {
    readonly todoApi: { readonly appId: string; readonly identifierUri: string };
    readonly spa: { readonly appId: string };
    readonly daemon: { readonly appId: string };
  };
  readonly totp: {
    readonly userPrincipalName: string;
    readonly secret: string;
    readonly otpauthUri: string;
    readonly codeCommand: string;
  } | null;
}

/** A `flow` line of the demo's JSON output. */
export interface FlowLine {
  readonly type: 'flow';
  readonly id: number;
  readonly flow: string;
  readonly outcome: 'ok' | 'refused';
  readonly title: string;
  readonly token?: { readonly header: Record<string, unknown>; readonly claims: Record<string, unknown> };
}

/** Ports the demo listens on: fixed for a data directory, so a restart keeps the registered redirect URIs. */
export interface DemoPorts {
  readonly identity: number;
  readonly api: number;
  readonly web: number;
}

/** A running demo process. */
export interface DemoProcess {
  readonly ready: ReadyLine;
  /** Every flow line printed so far. */
  readonly flows: FlowLine[];
  /** Resolves with the first flow line (already printed or later) matching `match`. */
  waitForFlow(match: (flow: FlowLine) => boolean, timeoutMs?: number): Promise<FlowLine>;
  /** The password the demo generated for `upn`. */
  password(upn: string): string;
  /** Sends SIGTERM and resolves with the exit code once the process has exited. */
  stop(): Promise<number | null>;
  /** Everything written to stderr. */
  stderr(): string;
}

/** Three free ports. */
export async function freeDemoPorts(): Promise<DemoPorts> {
  return {
    identity: await freePort('localhost'),
    api: await freePort('localhost'),
    web: await freePort('localhost'),
  };
}

/**
 * Starts `node apps/demo/dist/main.js` on `dataDir` with JSON output, the test TLS certificate (trusted by this
 * process through the global setup's `NODE_EXTRA_CA_CERTS`) and the daemon's schedule off, and resolves at its
 * `ready` line.
 *
 * @throws Error when the demo exits or prints an `error` line before it is ready.
 */
export async function startDemo(dataDir: string, ports: DemoPorts, timeoutMs = 90_000): Promise<DemoProcess> {
  const tlsDir = process.env.TESSERA_TEST_TLS_DIR;
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [DEMO_MAIN], {
    env: cliEnvironment({
      TESSERA_DATA_DIR: dataDir,
      TESSERA_PORT: String(ports.identity),
      TESSERA_DEMO_API_PORT: String(ports.api),
      TESSERA_DEMO_WEB_PORT: String(ports.web),
      TESSERA_DEMO_OUTPUT: 'json',
      TESSERA_DEMO_REPORT_INTERVAL_SECONDS: '0',
      TESSERA_LOG_LEVEL: 'error',
      ...(tlsDir === undefined
        ? {}
        : {
            TESSERA_TLS: 'files',
            TESSERA_TLS_CERT: join(tlsDir, 'server.pem'),
            TESSERA_TLS_KEY: join(tlsDir, 'server-key.pem'),
          }),
    }),
  });
  const flows: FlowLine[] = [];
  const waiters = new Set<{ match: (flow: FlowLine) => boolean; resolve: (flow: FlowLine) => void }>();
  let stderr = '';
  let buffered = '';
  let exited: Promise<number | null> | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the demo was not ready in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${String(code)}: ${stderr}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (!line.startsWith('{')) continue;
        const value = JSON.parse(line) as { type: string; message?: string };
        if (value.type === 'ready') {
          clearTimeout(timer);
          resolve(value as unknown as ReadyLine);
        } else if (value.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`the demo failed: ${value.message ?? ''}`));
        } else if (value.type === 'flow') {
          const flow = value as unknown as FlowLine;
          flows.push(flow);
          for (const waiter of waiters) {
            if (waiter.match(flow)) {
              waiters.delete(waiter);
              waiter.resolve(flow);
            }
          }
        }
      }
    });
  });
  return {
    ready,
    flows,
    waitForFlow(match, waitMs = 30_000) {
      const seen = flows.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter))
            reject(new Error(`no such flow in ${waitMs} ms; seen: ${flows.map((f) => f.title).join(' | ')}`));
        }, waitMs);
      });
    },
    password(upn) {
      const user = ready.users.find((u) => u.userPrincipalName === upn);
      if (user === undefined) throw new Error(`no demo user ${upn}`);
      return user.password;
    },
    stop() {
      exited ??= (async () => {
        child.kill('SIGTERM');
        return exit;
      })();
      return exited;
    },
    stderr: () => stderr,
  };
}

/** Scopes the Todo SPA asks for at sign-in. */
export function spaScopes(ready: ReadyLine): string {
  return `openid profile offline_access ${ready.apps.todoApi.identifierUri}/access_as_user`;
}

/**
 * Signs `upn` in to the Todo SPA as the SPA does it (authorization code with PKCE, RFC 7636; the code redeemed
 * cross-origin with the SPA's `Origin`), and returns the token response.
 */
export async function spaSignIn(
  demo: DemoProcess,
  upn: string,
  options: {
    /** The `claims` request parameter (OIDC Core §5.5), e.g. a claims challenge of the Todo API. */
    readonly claims?: string;
    /** The code typed on the second-factor page, when the identity server shows it. */
    readonly secondFactor?: () => Promise<string>;
  } = {},
): Promise<{ access_token: string; id_token: string; refresh_token?: string }> {
  const { ready } = demo;
  const pkce = createPkcePair();
  const redirectUri = `${ready.urls.web}/authentication/login-callback`;
  const browser = new TestBrowser();
  const url = authorizeUrl(
    ready.urls.identity,
    ready.tenants.contoso.id,
    { appId: ready.apps.spa.appId, redirectUri },
    {
      scope: spaScopes(ready),
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      ...(options.claims === undefined ? {} : { claims: options.claims }),
    },
  );
  let page = await signInThrough(browser, url, { userName: upn, password: demo.password(upn) });
  if (page.status === 200 && page.body.includes('name="otc"') && options.secondFactor !== undefined) {
    page = await browser.submit(url, page, { otc: await options.secondFactor() }, undefined, {
      origin: new URL(ready.urls.identity).origin,
    });
  }
  const code = new URL(page.location ?? 'https://invalid/').searchParams.get('code');
  if (code === null) throw new Error(`no code: ${page.status} ${page.location ?? page.body.slice(0, 300)}`);
  const response = await postForm(
    `${ready.urls.identity}/${ready.tenants.contoso.id}/oauth2/v2.0/token`,
    {
      grant_type: 'authorization_code',
      client_id: ready.apps.spa.appId,
      code,
      redirect_uri: redirectUri,
      code_verifier: pkce.verifier,
      scope: spaScopes(ready),
    },
    { origin: ready.urls.web },
  );
  const body = (await response.json()) as {
    access_token?: string;
    id_token: string;
    error_description?: string;
  };
  if (body.access_token === undefined) throw new Error(`no token: ${body.error_description ?? ''}`);
  return body as { access_token: string; id_token: string };
}

/** Calls the Todo API with `token`; the status, headers and JSON body (undefined when empty). */
export async function callApi(
  demo: DemoProcess,
  path: string,
  token: string | undefined,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> | undefined }> {
  const response = await fetch(`${demo.ready.urls.api}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}
