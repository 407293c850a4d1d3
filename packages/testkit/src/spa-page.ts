import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';

/**
 * The absolute path of `file` inside the npm package `packageName`, resolved from the module at `fromUrl`
 * (`import.meta.url`): a browser bundle a test SPA serves.
 *
 * @throws Error when the file is missing.
 */
export function packageFile(fromUrl: string, packageName: string, file: string): string {
  const path = join(dirname(createRequire(fromUrl).resolve(`${packageName}/package.json`)), file);
  if (!existsSync(path)) throw new Error(`${packageName} has no ${file} (looked at ${path})`);
  return path;
}

/** What {@link startStaticSite}'s `generated` answers for a test SPA: an empty favicon and its config script. */
export type GeneratedFile = { readonly type: string; readonly body: string } | undefined;

/**
 * The `generated` files of a test SPA (for {@link startStaticSite}): an empty `/favicon.ico`, and `/config.js`
 * setting `window[globalName]` to `config()` as JSON, read at each request (so it can name the test server and
 * scenario started after the site).
 */
export function spaConfigFiles(globalName: string, config: () => unknown): (path: string) => GeneratedFile {
  return (path) =>
    path === '/favicon.ico'
      ? { type: 'image/x-icon', body: '' }
      : path === '/config.js'
        ? {
            type: 'text/javascript; charset=utf-8',
            body: `window.${globalName} = ${JSON.stringify(config())};`,
          }
        : undefined;
}

/**
 * Reports what a page does wrong: its console (only with `SPA_DEBUG` set) and its uncaught errors (always, as
 * warnings); `timeoutMs` becomes its default wait.
 */
export function watchPage(page: Page, timeoutMs: number): void {
  page.setDefaultTimeout(timeoutMs);
  page.on('console', (message) => {
    if (process.env.SPA_DEBUG !== undefined) console.log(`[page ${message.type()}] ${message.text()}`);
  });
  page.on('pageerror', (error) => {
    console.warn(`[page error] ${error.message}`);
  });
}

/**
 * Acts as the user on Tessera's sign-in page, once `start()` has sent `page` there: types `userName` and
 * `password`, presses "Sign in", presses "Accept" when the consent page shows, and waits until the browser is
 * back at `appOrigin`.
 */
export async function signInOnPage(
  page: Page,
  input: {
    readonly serverOrigin: string;
    readonly appOrigin: string;
    readonly userName: string;
    readonly password: string;
    readonly start: () => Promise<unknown>;
  },
): Promise<void> {
  const atServer = page.waitForURL((url) => url.origin === input.serverOrigin);
  await input.start().catch(() => undefined); // the page navigates away during the call
  await atServer;
  await page.locator('#username').fill(input.userName);
  await page.locator('#password').fill(input.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const consent = page.getByRole('button', { name: 'Accept' });
  const atApp = page.waitForURL((url) => url.origin === input.appOrigin);
  await Promise.race([atApp, consent.waitFor()]);
  if (new URL(page.url()).origin === input.serverOrigin) await consent.click();
  await atApp;
}
