import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { underCi } from '@tessera/testkit';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatHub } from './support/chat-hub.js';
import { startHub, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';

// The official browser bundle in Chromium, on a page of another origin than the hub (CORS and the origin
// allow-list are exercised), with accessTokenFactory returning a Tessera-issued token.

function findChromium(): string | undefined {
  for (const candidate of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate !== undefined && existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const executablePath = findChromium();
if (executablePath === undefined) {
  if (underCi) throw new Error('Chromium is not installed; CI requires it.');
  console.warn('\n!!! Chromium not found: SKIPPING the browser test. Install Debian `chromium` to run it.\n');
}

const bundle = readFileSync(
  fileURLToPath(
    new URL('../../../node_modules/@microsoft/signalr/dist/browser/signalr.min.js', import.meta.url),
  ),
);
const page = `<!doctype html><meta charset="utf-8"><title>hub</title><script src="/signalr.min.js"></script>
<script>
window.run = async (hubUrl, token, transport) => {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(hubUrl, { accessTokenFactory: () => token, transport: signalR.HttpTransportType[transport] })
    .configureLogging(signalR.LogLevel.None)
    .build();
  try {
    await connection.start();
    const heard = new Promise((resolve) => connection.on('message', (user, text) => resolve(text)));
    const sum = await connection.invoke('add', 20, 22);
    const me = await connection.invoke('whoAmI');
    await connection.invoke('broadcast', 'from the browser');
    return { sum, me, heard: await heard, id: connection.connectionId };
  } catch (error) {
    return { error: String(error) };
  } finally {
    await connection.stop();
  }
};
</script>`;

async function staticServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/signalr.min.js')
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else response.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // "localhost" vs the hub's "127.0.0.1": another origin.
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

describe.skipIf(executablePath === undefined)('browser client (Chromium)', () => {
  let identity: IdentityFixture;
  let running: RunningHub;
  let browser: Browser;
  let allowed: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };
  let token: string;

  beforeAll(async () => {
    identity = await startIdentity();
    token = await identity.token(identity.alice);
    [allowed, foreign] = await Promise.all([staticServer(), staticServer()]);
    running = await startHub({
      path: '/hubs/chat',
      hub: chatHub,
      authentication: { validator: identity.validator() },
      allowedOrigins: [allowed.origin],
    });
    browser = await chromium.launch({
      executablePath: executablePath!,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser.close();
    await running.close();
    allowed.server.close();
    foreign.server.close();
    await identity.close();
  });

  it.each(['WebSockets', 'ServerSentEvents', 'LongPolling'])(
    'connects over %s from an allowed origin with accessTokenFactory, and invokes',
    async (transport) => {
      const tab = await browser.newPage();
      await tab.goto(allowed.origin);
      const result = (await tab.evaluate(
        ([url, accessToken, kind]) =>
          (window as unknown as { run(u: string, t: string, k: string): Promise<unknown> }).run(
            url,
            accessToken,
            kind,
          ),
        [running.url, token, transport] as const,
      )) as Record<string, unknown>;
      await tab.close();
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({
        sum: 42,
        heard: 'from the browser',
        me: { userIdentifier: identity.alice.oid },
      });
    },
  );

  it('is refused from an origin that is not allowed (negotiate and WebSocket)', async () => {
    const tab = await browser.newPage();
    await tab.goto(foreign.origin);
    const result = (await tab.evaluate(
      ([url, accessToken]) =>
        (window as unknown as { run(u: string, t: string, k: string): Promise<unknown> }).run(
          url,
          accessToken,
          'WebSockets',
        ),
      [running.url, token] as const,
    )) as Record<string, unknown>;
    await tab.close();
    expect(String(result.error)).toMatch(/Failed to complete negotiation|Failed to fetch/);
  });
});
