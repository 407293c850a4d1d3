import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable, openChromiumProfile, type ChromiumProfile } from '@tessera/testkit';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeDemoPorts, startDemo, type DemoProcess } from './support/demo-process.js';

// The demo in headless Debian Chromium as a new user meets it: the landing page streams the flows as they happen;
// fabrikam's administrator follows the page's admin consent link, signs in on Tessera's form, accepts the
// daemon's application permission and comes back to the demo; the report daemon then works in fabrikam too.

/** Milliseconds the whole browser run may take on a busy machine. */
const BROWSER_TEST_TIMEOUT_MS = 180_000;

const available = chromiumAvailable();

/** The command the demo prints for Alice's current TOTP code. */
const TOTP_CODE = fileURLToPath(new URL('../dist/totp-code.js', import.meta.url));

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
      return opened.context.newPage();
    }

    /** Opens the Todo SPA and signs in on Tessera's form as `upn`. */
    async function signInToSpa(page: Page, upn: string, name: string): Promise<void> {
      await page.goto(`${demo.ready.urls.web}/`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#username').fill(upn);
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
      await profile.close();
      await demo.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it(
      "fabrikam's administrator grants admin consent from the landing page; the daemon then reports on fabrikam",
      async () => {
        const { urls, tenants } = demo.ready;
        const page = await profile.context.newPage();
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
        const alice = await freshPage();
        await signInToSpa(alice, 'alice@contoso.test', 'Alice Adams');
        await alice.locator('#title').fill('Write the report');
        await alice.getByRole('button', { name: 'Add' }).click();
        await alice.getByRole('list', { name: 'Todos' }).getByText('Write the report').waitFor();
        await alice.getByRole('button', { name: 'Load my profile' }).click();
        await alice.getByRole('definition').getByText('alice@contoso.test').waitFor();

        const bob = await freshPage();
        await signInToSpa(bob, 'bob@contoso.test', 'Bob Baker');
        await alice.locator('#online').getByText('Alice Adams, Bob Baker').waitFor();
        await alice.locator('#message').fill('Hi Bob');
        await alice.getByRole('button', { name: 'Send' }).click();
        await bob.getByRole('list', { name: 'Messages' }).getByText('Alice Adams: Hi Bob').waitFor();
        await bob.locator('#message').fill('Hi Alice');
        await bob.getByRole('button', { name: 'Send' }).click();
        await alice.getByRole('list', { name: 'Messages' }).getByText('Bob Baker: Hi Alice').waitFor();
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
        const run = spawnSync(process.execPath, [TOTP_CODE], {
          env: { ...process.env, TESSERA_DATA_DIR: dataDir },
        });
        await otc.fill(run.stdout.toString().slice(0, 6));
        await alice.getByRole('button', { name: 'Verify' }).click();
        await alice.locator('#export-result').getByText('Exported 1 todos after the step-up.').waitFor();
        await demo.waitForFlow((f) => f.flow === 'step_up' && f.outcome === 'ok');
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
  },
);
