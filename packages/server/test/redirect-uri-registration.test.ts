import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DirectoryError } from '@tessera/server';
import { postgresAvailable, runTesseraCli, startTestServer, type TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Redirect URI registration (RFC 6749 §3.1.2, RFC 8252 §7–8, RFC 9700 §2.1, the platform's restrictions): every
// door that registers one — creating an app, changing it, the CLI — refuses script, inline-content and file
// schemes, plain http off the loopback host, private-use schemes outside publicClient, fragments, userinfo and
// wildcards with one clear sentence, and writes nothing.

type Platform = 'web' | 'spa' | 'publicClient';

const pgAvailable = await postgresAvailable();
const root = fileURLToPath(new URL('../../../', import.meta.url));
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

const NEVER = (scheme: string) => `uses the scheme '${scheme}:', which is never allowed`;
const HTTP_OFF_LOOPBACK =
  "must use https; http is allowed only on a loopback host ('127.0.0.1', '[::1]' or 'localhost')";
const PRIVATE_USE_ONLY_NATIVE = (scheme: string) =>
  `uses the private-use scheme '${scheme}:', which only mobile and desktop (publicClient) redirect URIs may use`;
const NOT_REVERSE_DNS = (scheme: string) =>
  `uses the scheme '${scheme}:'; a private-use scheme must be a reverse domain name such as 'com.example.app' (RFC 8252 section 7.1)`;
const FRAGMENT = 'must not contain a fragment (#)';
const USERINFO = 'must not contain user information (user@host)';
const SPECIAL = "must not contain any of ! $ ' ( ) , ; \\";

/** [case, platform, redirect URI, why it is refused]. */
const refused: readonly (readonly [string, Platform, string, string])[] = [
  ['javascript: (script)', 'web', 'javascript:alert(document.domain)', NEVER('javascript')],
  ['JavaScript: in mixed case', 'spa', 'JavaScript://%0aalert(1)', NEVER('javascript')],
  ['javascript: for a native app', 'publicClient', 'javascript:alert(1)', NEVER('javascript')],
  ['data: (inline content)', 'web', 'data:text/html,<script>alert(1)</script>', NEVER('data')],
  ['data: for a native app', 'publicClient', 'data:text/html;base64,PHNjcmlwdD4=', NEVER('data')],
  ['file:', 'publicClient', 'file:///etc/passwd', NEVER('file')],
  ['vbscript:', 'web', 'vbscript:msgbox', NEVER('vbscript')],
  ['blob:', 'spa', 'blob:https://spa.example/1', NEVER('blob')],
  ['ws:', 'spa', 'ws://localhost/cb', NEVER('ws')],
  ['http off the loopback host (web)', 'web', 'http://app.example/callback', HTTP_OFF_LOOPBACK],
  ['http off the loopback host (spa)', 'spa', 'http://spa.example/', HTTP_OFF_LOOPBACK],
  ['http off the loopback host (native)', 'publicClient', 'http://evil.example/', HTTP_OFF_LOOPBACK],
  ['http on a host that starts like localhost', 'web', 'http://localhost.evil.example/', HTTP_OFF_LOOPBACK],
  ['http on another 127/8 address', 'publicClient', 'http://127.0.0.2/cb', HTTP_OFF_LOOPBACK],
  ['http on a loopback address in short form', 'publicClient', 'http://127.1/cb', HTTP_OFF_LOOPBACK],
  ['http on a hexadecimal loopback address', 'publicClient', 'http://0x7f.0.0.1/cb', HTTP_OFF_LOOPBACK],
  ['http on LOCALHOST in upper case', 'web', 'http://LOCALHOST/cb', HTTP_OFF_LOOPBACK],
  [
    'a private-use scheme on web',
    'web',
    'com.example.app:/callback',
    PRIVATE_USE_ONLY_NATIVE('com.example.app'),
  ],
  [
    'a private-use scheme on spa',
    'spa',
    'com.example.app:/callback',
    PRIVATE_USE_ONLY_NATIVE('com.example.app'),
  ],
  [
    'a private-use scheme that is no domain name',
    'publicClient',
    'myapp://callback',
    NOT_REVERSE_DNS('myapp'),
  ],
  ['a fragment', 'web', 'https://app.example/callback#x', FRAGMENT],
  ['an empty fragment', 'spa', 'https://spa.example/#', FRAGMENT],
  ['userinfo', 'web', 'https://app.example@evil.example/callback', USERINFO],
  ['userinfo with a password', 'spa', 'https://user:pw@spa.example/', USERINFO],
  ['empty userinfo', 'web', 'https://@app.example/callback', USERINFO],
  ['userinfo on loopback http', 'publicClient', 'http://evil.example@127.0.0.1/cb', USERINFO],
  ['a wildcard host', 'spa', 'https://*.spa.example/', 'must not contain a wildcard (*)'],
  ['a wildcard path', 'web', 'https://app.example/*', 'must not contain a wildcard (*)'],
  ['a relative URI', 'web', '/callback', 'is not an absolute URI'],
  ['no scheme', 'web', 'app.example/callback', 'is not an absolute URI'],
  ['an empty string', 'spa', '', 'is empty'],
  ['https without a host', 'web', 'https:///callback', 'must name a host'],
  ['an upper-case scheme', 'web', 'HTTPS://app.example/callback', 'must have a lower-case scheme'],
  ['a space', 'web', 'https://app.example/call back', 'must not contain white space or control characters'],
  ['a new line', 'web', 'https://app.example/cb\nx', 'must not contain white space or control characters'],
  ['a NUL', 'spa', 'https://spa.example/\u0000', 'must not contain white space or control characters'],
  ['a backslash', 'web', 'https://app.example\\@evil.example/', SPECIAL],
  ['a quote', 'web', "https://app.example/cb'onload", SPECIAL],
  ['a comma in the query', 'web', 'https://app.example/cb?a=1,2', SPECIAL],
  ['a port out of range', 'publicClient', 'http://127.0.0.1:99999/cb', 'is not an absolute URI'],
  ['257 characters', 'web', `https://app.example/${'a'.repeat(237)}`, 'is longer than 256 characters'],
];

/** [case, platform, redirect URI] that must stay registrable. */
const accepted: readonly (readonly [string, Platform, string])[] = [
  ['https', 'web', 'https://app.example/callback'],
  ['https with a query', 'web', 'https://app.example/callback?tenant=contoso'],
  ['https on localhost', 'web', 'https://localhost:5001/signin-oidc'],
  ['http on localhost (web, local development)', 'web', 'http://localhost:3000/callback'],
  ['http on localhost (spa, local development)', 'spa', 'http://localhost:5173/'],
  ['http on 127.0.0.1 (spa)', 'spa', 'http://127.0.0.1:8080/callback.html'],
  ['https (spa)', 'spa', 'https://spa.example/'],
  ['http on localhost without port (native)', 'publicClient', 'http://localhost'],
  ['http on 127.0.0.1 (native)', 'publicClient', 'http://127.0.0.1/callback'],
  ['http on [::1] (native)', 'publicClient', 'http://[::1]:8400/'],
  ['a reverse-DNS private-use scheme (native)', 'publicClient', 'com.example.app:/oauth2redirect'],
  ['MSAL’s msal{appId} scheme (native)', 'publicClient', `msal${randomUUID()}://auth`],
  [
    'the Windows broker scheme (native)',
    'publicClient',
    `ms-appx-web://microsoft.aad.brokerplugin/${randomUUID()}`,
  ],
  ['the native client page (native)', 'publicClient', 'https://login.example/common/oauth2/nativeclient'],
];

const dialects = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgAvailable },
] as const;

describe.each(dialects)('redirect URI registration on $name', ({ name, available }) => {
  let server: TestServer;
  let tenantId: string;

  beforeAll(async () => {
    if (!available) return;
    server = await startTestServer({ database: name });
    tenantId = (
      await server.directory.tenants.create({
        displayName: 'Redirects',
        domains: [`r${randomUUID().slice(0, 8)}.test`],
      })
    ).id;
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  async function expectRefused(write: Promise<unknown>, message: string): Promise<void> {
    const error = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DirectoryError);
    expect({ code: (error as DirectoryError).code, message: (error as DirectoryError).message }).toEqual({
      code: 'invalid',
      message,
    });
  }

  // eslint-disable-next-line no-control-regex -- the message shows control characters as U+FFFD
  const shown = (uri: string) => uri.replace(/[\x00-\x1f\x7f]/g, '\uFFFD');

  it.skipIf(!available).each(refused)(
    'refuses %s when an app is created, writing nothing',
    async (_case, platform, uri, why) => {
      const before = await server.server.store.version();
      await expectRefused(
        server.directory.applications.create({
          tenant: tenantId,
          displayName: 'Refused',
          redirectUris: { [platform]: ['https://fine.example/cb', uri] },
        }),
        `The ${platform} redirect URI '${shown(uri)}' ${why}.`,
      );
      expect(await server.server.store.version()).toBe(before);
    },
  );

  it.skipIf(!available).each(refused)(
    'refuses %s when an app is changed, keeping the old definition',
    async (_case, platform, uri, why) => {
      const { application } = await server.directory.applications.create({
        tenant: tenantId,
        displayName: 'Changed',
      });
      await expectRefused(
        server.directory.applications.update(application.appId, (current) =>
          platform === 'web'
            ? { web: { ...current.web, redirectUris: [uri] } }
            : { [platform]: { redirectUris: [uri] } },
        ),
        `The ${platform} redirect URI '${shown(uri)}' ${why}.`,
      );
      const stored = await server.server.store.applications.findByAppId(application.appId);
      expect(stored?.[platform].redirectUris).toEqual([]);
    },
  );

  it.skipIf(!available).each(accepted)('accepts %s', async (_case, platform, uri) => {
    const { application } = await server.directory.applications.create({
      tenant: tenantId,
      displayName: 'Accepted',
      redirectUris: { [platform]: [uri] },
    });
    expect(application[platform].redirectUris).toEqual([uri]);
  });

  it.skipIf(!available)('refuses a front-channel logout URL the same way', async () => {
    await expectRefused(
      server.directory.applications.create({
        tenant: tenantId,
        displayName: 'Logout',
        logoutUrl: 'https://user@app.example/logout',
      }),
      "The logout URL 'https://user@app.example/logout' must be an absolute https URL (http only on a loopback host), without a fragment, userinfo or wildcard.",
    );
  });

  it.skipIf(!available)('refuses more than 256 redirect URIs', async () => {
    const many = Array.from({ length: 257 }, (_, i) => `https://app.example/cb${i}`);
    await expectRefused(
      server.directory.applications.create({
        tenant: tenantId,
        displayName: 'Many',
        redirectUris: { web: many },
      }),
      'An application may have at most 256 redirect URIs.',
    );
  });
});

describe('redirect URI registration through the CLI', () => {
  it.each([
    [
      'web=javascript:alert(1)',
      "The web redirect URI 'javascript:alert(1)' uses the scheme 'javascript:', which is never allowed.",
    ],
    ['spa=http://spa.example/', `The spa redirect URI 'http://spa.example/' ${HTTP_OFF_LOOPBACK}.`],
  ])('refuses --redirect-uri %s with the same sentence, no stack trace', async (option, message) => {
    const server = await startTestServer();
    try {
      const tenant = await server.directory.tenants.create({
        displayName: 'CLI',
        domains: [`c${randomUUID().slice(0, 8)}.test`],
      });
      const result = await runTesseraCli(
        [
          'app',
          'create',
          '--tenant',
          tenant.id,
          '--name',
          'X',
          '--redirect-uri',
          option,
          '--data',
          server.dataDir,
        ],
        { cwd: root, env: { PATH: process.env.PATH ?? '' } },
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(STACK_FRAME);
    } finally {
      await server.close();
    }
  });
});
