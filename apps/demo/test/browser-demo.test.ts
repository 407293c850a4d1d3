import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable, openChromiumProfile, type ChromiumProfile } from '@tessera/testkit';
import type { Locator, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeDemoPorts, startDemo, type DemoProcess } from './support/demo-process.js';

// The demo in headless Debian Chromium as a new user meets it: the landing page streams the flows as they happen;
// fabrikam's administrator follows the page's admin consent link, signs in on Tessera's form, accepts the
// daemon's application permission and comes back to the demo; the report daemon then works in fabrikam too.
// With TESSERA_TOUR_SCREENSHOTS=1 the run saves a screenshot of each step of the README's tour into docs/tour/
// (see docs/demo.md); without it, it writes nothing into the repository.

/** Milliseconds the whole browser run may take on a busy machine. */
const BROWSER_TEST_TIMEOUT_MS = 180_000;

const available = chromiumAvailable();

/** The command the demo prints for Alice's current TOTP code. */
const TOTP_CODE = fileURLToPath(new URL('../dist/totp-code.js', import.meta.url));

/** Where the tour's screenshots go, only when `TESSERA_TOUR_SCREENSHOTS=1`. */
const TOUR_DIR =
  process.env.TESSERA_TOUR_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../../../docs/tour/', import.meta.url))
    : undefined;

/** The page size of every screenshot (CSS pixels): small PNGs, wide enough for the SPA's three panels. */
const VIEWPORT = { width: 1100, height: 700 } as const;

/**
 * Saves `docs/tour/<name>.png` of what `page` shows (scrolled so that `top` is at the top, if given), when the
 * tour is asked for; otherwise does nothing.
 */
async function tourStep(page: Page, name: string, top?: Locator): Promise<void> {
  if (TOUR_DIR === undefined) return;
  mkdirSync(TOUR_DIR, { recursive: true });
  await top?.evaluate((element) => {
    element.scrollIntoView({ block: 'start' });
  });
  await page.screenshot({ path: join(TOUR_DIR, `${name}.png`), animations: 'disabled' });
}

/** A request the page made and the `Authorization` header it carried, if any. */
interface SentRequest {
  readonly method: string;
  readonly url: URL;
  readonly authorization: string | undefined;
}

/**
 * Records every HTTP request `page` makes (navigations, scripts, fetches, its frames) with the headers Chromium
 * actually sent, and every WebSocket it opens.
 */
function recordRequests(page: Page): {
  requests(): Promise<SentRequest[]>;
  readonly webSockets: URL[];
} {
  const seen: Request[] = [];
  const webSockets: URL[] = [];
  page.on('request', (request) => seen.push(request));
  page.on('websocket', (socket) => webSockets.push(new URL(socket.url())));
  return {
    webSockets,
    async requests() {
      return Promise.all(
        seen.map(async (request) => ({
          method: request.method(),
          url: new URL(request.url()),
          authorization: (await request.allHeaders()).authorization,
        })),
      );
    },
  };
}

describe.skipIf(!available)(
  'the demo in Chromium: landing page, admin consent, the daemon in a second tenant',
  () => {
    let dataDir: string;
    let demo: DemoProcess;
    let profile: ChromiumProfile;
    const profiles: ChromiumProfile[] = [];

    /** A page of a fresh Chromium profile (its own cookies: another person's browser). */
    async function freshPage(): Promise<Page> {
      const opened = await openChromiumProfile();
      profiles.push(opened);
      const page = await opened.context.newPage();
      await page.setViewportSize(VIEWPORT);
      return page;
    }

    /** Opens the Todo SPA and signs in on Tessera's form as `upn`. */
    async function signInToSpa(page: Page, upn: string, name: string, screenshot?: string): Promise<void> {
      await page.goto(`${demo.ready.urls.web}/`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#username').fill(upn);
      if (screenshot !== undefined) await tourStep(page, screenshot);
      await page.locator('#password').fill(demo.password(upn));
      await page.getByRole('button', { name: 'Sign in' }).click();
      try {
        await page.getByText(`Signed in as ${name}`).waitFor({ timeout: 20_000 });
      } catch (error) {
        const text = (await page.content()).slice(0, 3000);
        throw new Error(`not signed in at ${page.url()}: ${text}`, { cause: error });
      }
    }

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'tessera-demo-browser-'));
      demo = await startDemo(dataDir, await freeDemoPorts());
      profile = await openChromiumProfile();
    }, BROWSER_TEST_TIMEOUT_MS);
    afterAll(async () => {
      for (const opened of profiles) await opened.close();
      await profile.close();
      await demo.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it(
      "fabrikam's administrator grants admin consent from the landing page; the daemon then reports on fabrikam",
      async () => {
        const { urls, tenants } = demo.ready;
        const page = await profile.context.newPage();
        await page.setViewportSize(VIEWPORT);
        await page.goto(`${urls.web}/demo/`);
        // The run at start-up, replayed to a page opened later: contoso answers, fabrikam refuses (700016).
        const events = page.getByRole('list', { name: 'Flow events' });
        await events.getByText('Report for contoso.test').waitFor();
        await events
          .getByText('Report Daemon got no token in fabrikam.test: unauthorized_client (700016)')
          .waitFor();
        expect(await page.getByRole('table', { name: 'Users' }).innerText()).toContain('admin@fabrikam.test');
        expect(await page.content()).not.toContain(demo.password('admin@fabrikam.test'));

        await page.getByRole('link', { name: "Grant admin consent as fabrikam's administrator" }).click();
        await page.locator('#username').fill('admin@fabrikam.test');
        await page.locator('#password').fill(demo.password('admin@fabrikam.test'));
        await page.getByRole('button', { name: 'Sign in' }).click();
        const accept = page.getByRole('button', { name: 'Accept' });
        await accept.waitFor();
        const permissions = await page.getByRole('list', { name: 'Requested permissions' }).innerText();
        expect(permissions).toContain('Todos.Read.All');
        await tourStep(page, '07-admin-consent');
        const back = page.waitForURL((url) => url.href.startsWith(`${urls.web}/adminconsent/callback`));
        await accept.click();
        await back;
        const answer = new URL(page.url());
        expect(answer.searchParams.get('tenant')).toBe(tenants.fabrikam.id);
        expect(answer.searchParams.get('admin_consent')).toBe('True');
        expect(await page.locator('#consent-result').innerText()).toBe(
          `Admin consent granted in tenant ${tenants.fabrikam.id}. The report daemon runs there now.`,
        );

        // The callback ran the daemon: a token in fabrikam with the granted role, and fabrikam's report.
        const token = await demo.waitForFlow(
          (f) => f.flow === 'client_credentials' && f.token?.claims.tid === tenants.fabrikam.id,
        );
        expect(token.token?.claims).toMatchObject({ idtyp: 'app', roles: ['Todos.Read.All'], azpacr: '2' });
        await demo.waitForFlow((f) => f.title.startsWith('Report for fabrikam.test:'));

        // The same page again: its event stream shows the consent and fabrikam's report.
        await page.goto(`${urls.web}/demo/`);
        await events.getByText(`Admin consent granted in tenant ${tenants.fabrikam.id}`).waitFor();
        await events.getByText('Report for fabrikam.test').first().waitFor();

        // A replayed or forged answer (its state already used) is ignored.
        const replay = await fetch(`${urls.web}${answer.pathname}${answer.search}`);
        expect(replay.status).toBe(400);
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
    it(
      'Alice uses the Todo SPA: sign-in, a todo, her profile through On-Behalf-Of, a chat with Bob, the export after a TOTP step-up',
      async () => {
        const { urls } = demo.ready;
        const alice = await freshPage();
        const aliceSent = recordRequests(alice);
        await signInToSpa(alice, 'alice@contoso.test', 'Alice Adams', '01-sign-in');
        await alice.locator('#title').fill('Write the report');
        await alice.getByRole('button', { name: 'Add' }).click();
        await alice.getByRole('list', { name: 'Todos' }).getByText('Write the report').waitFor();
        await tourStep(alice, '02-todos');
        await alice.getByRole('button', { name: 'Load my profile' }).click();
        await alice.getByRole('definition').getByText('alice@contoso.test').waitFor();
        await tourStep(alice, '03-profile');

        const bob = await freshPage();
        const bobSent = recordRequests(bob);
        await signInToSpa(bob, 'bob@contoso.test', 'Bob Baker');
        await alice.locator('#online').getByText('Alice Adams, Bob Baker').waitFor();
        await alice.locator('#message').fill('Hi Bob');
        await alice.getByRole('button', { name: 'Send' }).click();
        await bob.getByRole('list', { name: 'Messages' }).getByText('Alice Adams: Hi Bob').waitFor();
        await bob.locator('#message').fill('Hi Alice');
        await bob.getByRole('button', { name: 'Send' }).click();
        await alice.getByRole('list', { name: 'Messages' }).getByText('Bob Baker: Hi Alice').waitFor();
        await tourStep(alice, '04-team-chat', alice.getByRole('heading', { name: 'Team' }));
        // Bob lacks the moderator role: the hub refuses, the page says so.
        await bob.getByRole('button', { name: 'Clear the chat (moderators)' }).click();
        await bob.getByText("Failed to invoke 'clearHistory' because user is unauthorized").waitFor();

        // The export answers a claims challenge; the SPA signs in again with it and Tessera asks for the code.
        await alice.getByRole('button', { name: 'Export (needs MFA)' }).click();
        const otc = alice.locator('#otc');
        const account = alice.locator('button.account').first();
        await otc.or(account).first().waitFor();
        if (await account.isVisible()) await account.click();
        await otc.waitFor();
        await tourStep(alice, '05-step-up');
        const run = spawnSync(process.execPath, [TOTP_CODE], {
          env: { ...process.env, TESSERA_DATA_DIR: dataDir },
        });
        await otc.fill(run.stdout.toString().slice(0, 6));
        await alice.getByRole('button', { name: 'Verify' }).click();
        await alice.locator('#export-result').getByText('Exported 1 todos after the step-up.').waitFor();
        await demo.waitForFlow((f) => f.flow === 'step_up' && f.outcome === 'ok');
        // Back from the step-up round trip, the page joins the team again and reads the chat's history.
        await alice.getByRole('list', { name: 'Messages' }).getByText('Bob Baker: Hi Alice').waitFor();
        await alice.locator('#online').getByText('Alice Adams, Bob Baker').waitFor();
        await tourStep(alice, '06-export');

        // Tokens only to configured origins: of everything both pages sent (the identity server's metadata,
        // sign-in pages and token endpoint, the web site's assets and settings, the Todo API and its hub), only
        // the Todo API's origin received an Authorization header; the token endpoint never did (the SPA is a
        // public client: PKCE, no client authentication). The hub's WebSocket, which browsers cannot give a
        // header, goes to the Todo API's origin too.
        const apiOrigin = new URL(urls.api).origin;
        for (const recorded of [aliceSent, bobSent]) {
          const sent = await recorded.requests();
          const authorized = sent.filter((r) => r.authorization !== undefined);
          expect(authorized.length).toBeGreaterThan(0);
          expect(authorized.filter((r) => r.url.origin !== apiOrigin)).toEqual([]);
          expect(authorized.every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
          const origins = new Set(sent.map((r) => r.url.origin));
          expect(origins).toEqual(
            new Set([new URL(urls.web).origin, new URL(urls.identity).origin, apiOrigin]),
          );
          const tokenRequests = sent.filter((r) => r.url.pathname.endsWith('/oauth2/v2.0/token'));
          expect(tokenRequests.filter((r) => r.method === 'POST').length).toBeGreaterThan(0);
          expect(tokenRequests.filter((r) => r.authorization !== undefined)).toEqual([]);
          expect(recorded.webSockets.length).toBeGreaterThan(0);
          expect(recorded.webSockets.every((u) => u.host === new URL(urls.api).host)).toBe(true);
        }

        // The landing page, now with this run's flows and the rules each one shows.
        await alice.goto(`${urls.web}/demo/`);
        const events = alice.getByRole('list', { name: 'Flow events' });
        await events.getByText('exported their todos after a step-up').first().waitFor();
        await tourStep(
          alice,
          '08-landing-page',
          alice.getByRole('heading', { name: 'Flows, as they happen' }),
        );
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
  },
);
