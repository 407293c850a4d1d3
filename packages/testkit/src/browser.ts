import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { underCi } from './services.js';

/** Flags for a quiet, deterministic headless Chromium in containers and CI. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

let located: { path: string | undefined } | undefined;

/** The Chromium executable: `CHROMIUM_PATH`, else `which chromium` (Debian `chromium`); undefined when absent. */
export function chromiumPath(): string | undefined {
  located ??= { path: findChromium() };
  return located.path;
}

function findChromium(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  try {
    const found = execFileSync('which', ['chromium'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return found.trim() === '' ? undefined : found.trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether Chromium is installed. Locally a missing browser makes browser suites skip, with a loud warning; under
 * CI it throws so the run fails.
 *
 * @throws Error under CI when Chromium cannot be found.
 */
export function chromiumAvailable(): boolean {
  if (chromiumPath() !== undefined) return true;
  const message = 'Chromium is not installed (no CHROMIUM_PATH, no `chromium` on PATH)';
  if (underCi) throw new Error(`${message}; CI requires it.`);
  console.warn(`\n!!! ${message}: SKIPPING the browser runs. Install Debian \`chromium\` to run them.\n`);
  return false;
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /**
   * PEM certificates (a CA or a leaf) whose public keys Chromium accepts in a server's chain although no system
   * root vouches for them (`--ignore-certificate-errors-spki-list`): only chains holding one of these keys are
   * excused, every other certificate error still fails. Default: the test CA of the Vitest global setup and its
   * `localhost` certificate (Chromium matches the keys of the chain the server presents).
   */
  readonly trustCertificates?: readonly string[];
}

/**
 * Launches headless Debian Chromium through `playwright-core`, trusting the test CA (see
 * {@link LaunchChromiumOptions.trustCertificates}). Its `newContext()` contexts are off-the-record profiles
 * that block third-party cookies; {@link openChromiumProfile} opens a profile that can allow them.
 *
 * @throws Error when Chromium is not installed.
 */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch(launchOptions(options));
}

/** Options of {@link openChromiumProfile}. */
export interface ChromiumProfileOptions extends LaunchChromiumOptions {
  /**
   * Default true: the profile's cookie setting is "allow third-party cookies" (`profile.cookie_controls_mode`
   * 0), so a cross-site iframe receives `SameSite=None` cookies. Current Chromium blocks them out of the box,
   * as Safari and Firefox do; false keeps that default.
   */
  readonly allowThirdPartyCookies?: boolean;
}

/** A Chromium profile opened by {@link openChromiumProfile}: one browser process with one context. */
export interface ChromiumProfile {
  readonly context: BrowserContext;
  /** Closes the browser and deletes the profile directory. */
  close(): Promise<void>;
}

/**
 * Opens a fresh Chromium profile (a temporary user-data directory) as one browser context, with third-party
 * cookies allowed unless told otherwise (see {@link ChromiumProfileOptions}). Each call is its own browser
 * process.
 *
 * @throws Error when Chromium is not installed.
 */
export async function openChromiumProfile(options: ChromiumProfileOptions = {}): Promise<ChromiumProfile> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  if (options.allowThirdPartyCookies !== false) {
    mkdirSync(join(userDataDir, 'Default'));
    writeFileSync(
      join(userDataDir, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
    );
  }
  const context = await chromium.launchPersistentContext(userDataDir, launchOptions(options));
  return {
    context,
    async close() {
      await context.close();
      // Chromium may still be flushing the profile as it exits: retry the removal.
      await rm(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

function launchOptions(options: LaunchChromiumOptions): {
  executablePath: string;
  headless: true;
  args: string[];
} {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error('Chromium is not installed');
  const pems = options.trustCertificates ?? testCaCertificates();
  const spki = pems.map((pem) =>
    createHash('sha256')
      .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64'),
  );
  return {
    executablePath,
    headless: true,
    args: [
      ...CHROMIUM_ARGS,
      ...(spki.length === 0 ? [] : [`--ignore-certificate-errors-spki-list=${spki.join(',')}`]),
    ],
  };
}

function testCaCertificates(): string[] {
  const dir = process.env.TESSERA_TEST_TLS_DIR;
  return dir === undefined
    ? []
    : ['ca.pem', 'server.pem'].map((name) => readFileSync(join(dir, name), 'utf8'));
}

/** A static HTTPS site on its own origin (`https://127.0.0.1:{port}`), for pages a browser test loads. */
export interface StaticSite {
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

/**
 * Serves the files under `root` (and the extra `files`, URL path → absolute file, and `generated`, URL path →
 * body) over HTTPS on 127.0.0.1 with the test certificate, on a free port. `127.0.0.1` is another site than the
 * `localhost` of test servers, so a page served here is cross-site to them (CORS and `SameSite` apply).
 *
 * @throws Error when the test TLS directory is not set (the Vitest global setup sets it).
 */
export async function startStaticSite(input: {
  readonly root: string;
  readonly files?: Readonly<Record<string, string>>;
  readonly generated?: (path: string) => { readonly type: string; readonly body: string } | undefined;
}): Promise<StaticSite> {
  const dir = process.env.TESSERA_TEST_TLS_DIR;
  if (dir === undefined) throw new Error('TESSERA_TEST_TLS_DIR is not set (Vitest global setup)');
  const server: Server = createServer(
    { cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server-key.pem')) },
    (request, response) => {
      const path = new URL(request.url ?? '/', 'https://site.invalid').pathname;
      const generated = input.generated?.(path);
      if (generated !== undefined) {
        response.writeHead(200, { 'content-type': generated.type, 'cache-control': 'no-store' });
        response.end(generated.body);
        return;
      }
      const file = input.files?.[path] ?? join(input.root, normalize(path === '/' ? '/index.html' : path));
      const inside = input.files?.[path] !== undefined || file.startsWith(input.root + sep);
      if (request.method !== 'GET' || !inside || !existsSync(file) || !statSync(file).isFile()) {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('not found');
        return;
      }
      response.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      response.end(readFileSync(file));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `https://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
      }),
  };
}
