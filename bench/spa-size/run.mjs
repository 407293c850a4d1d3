/**
 * `npm run bench:spa-size`: the browser bundle size of @tessera/spa beside MSAL Browser
 * for the same features, minified and gzipped, as an app's bundler would ship them.
 *
 * Method:
 * - Each scenario is a small entry module that uses the features an SPA needs — redirect sign-in and its callback,
 *   silent token acquisition (refresh token, hidden-iframe fallback), tokens for a second resource, sign-out, events
 *   — bundled by Vite (library mode, Rolldown, minified, ES2022, tree-shaken) into one ES module; the figure is its
 *   size in bytes and gzipped (zlib level 9) in bytes.
 * - `@tessera/spa` is measured without `oidc-client-ts` (external, as the issue asks: it is a dependency the app
 *   shares) and with it (what the page downloads in all); the React bindings separately, without React.
 * - MSAL Browser (`@azure/msal-browser`, with `@azure/msal-common` bundled: it has no external dependency) with
 *   `PublicClientApplication`: `initialize`, `handleRedirectPromise`, `loginRedirect`, `acquireTokenSilent`,
 *   `logoutRedirect`, `addEventCallback`. MSAL has no authorized `fetch`, no claims-challenge replay and no route
 *   actions: the app writes those itself, so this comparison favours MSAL.
 * - Written to bench/.results/spa-size.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const spaDist = join(root, 'packages', 'spa', 'dist');

const SCENARIOS = [
  {
    name: '@tessera/spa (without oidc-client-ts)',
    external: ['oidc-client-ts'],
    source: `
import { createAuthentication } from ${JSON.stringify(join(spaDist, 'index.js'))};
const auth = createAuthentication({ authority: 'https://login.example/t/v2.0', clientId: 'c', scopes: ['api://x/Files.Read'] });
auth.events.on('signedIn', console.log);
auth.events.on('renewalError', console.error);
export const route = () => auth.handleRoute();
export const token = () => auth.getAccessToken({ scopes: ['https://graph.microsoft.com/User.Read'] });
export const api = auth.createAuthorizedFetch({ baseUrls: ['https://api.example/v1'] });
export const signOut = () => auth.signOut();
`,
  },
  {
    name: '@tessera/spa with oidc-client-ts',
    external: [],
    source: null, // same entry, nothing external
  },
  {
    name: '@tessera/spa/react (without React, oidc-client-ts)',
    external: ['oidc-client-ts', 'react', 'react/jsx-runtime'],
    source: `export { AuthProvider, RequireAuth, useAuth } from ${JSON.stringify(join(spaDist, 'react', 'index.js'))};`,
  },
  {
    name: '@azure/msal-browser',
    external: [],
    source: `
import { PublicClientApplication, EventType } from '@azure/msal-browser';
const msal = new PublicClientApplication({ auth: { clientId: 'c', authority: 'https://login.example/t' } });
msal.addEventCallback((event) => { if (event.eventType === EventType.LOGIN_SUCCESS) console.log(event); });
export const route = async () => { await msal.initialize(); return msal.handleRedirectPromise(); };
export const signIn = () => msal.loginRedirect({ scopes: ['api://x/Files.Read'] });
export const token = () => msal.acquireTokenSilent({ scopes: ['https://graph.microsoft.com/User.Read'], account: msal.getAllAccounts()[0] });
export const signOut = () => msal.logoutRedirect();
`,
  },
];
SCENARIOS[1].source = SCENARIOS[0].source;

async function measure(scenario, dir) {
  const entry = join(dir, `${scenario.name.replace(/[^a-z0-9]+/gi, '-')}.mjs`);
  writeFileSync(entry, scenario.source);
  const output = await build({
    configFile: false,
    logLevel: 'error',
    root,
    build: {
      write: false,
      minify: true,
      target: 'es2022',
      lib: { entry, formats: ['es'], fileName: 'bundle' },
      // Library mode keeps whitespace in ES output (for pure annotations); an app's bundle has none.
      rolldownOptions: { external: scenario.external, output: { minify: true } },
    },
  });
  const chunks = (Array.isArray(output) ? output : [output]).flatMap((o) => o.output);
  const code = chunks
    .filter((c) => c.type === 'chunk')
    .map((c) => c.code)
    .join('\n');
  return {
    name: scenario.name,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
  };
}

// Inside the repository, so that the entries resolve packages from its node_modules.
mkdirSync(join(root, 'bench', '.results'), { recursive: true });
const dir = mkdtempSync(join(root, 'bench', '.results', 'spa-size-'));
try {
  readFileSync(join(spaDist, 'index.js')); // fails early when the package is not built
  const results = [];
  for (const scenario of SCENARIOS) results.push(await measure(scenario, dir));
  const msal = results.find((r) => r.name === '@azure/msal-browser');
  const versions = {
    'oidc-client-ts': JSON.parse(readFileSync(join(root, 'node_modules/oidc-client-ts/package.json'), 'utf8'))
      .version,
    '@azure/msal-browser': JSON.parse(
      readFileSync(join(root, 'node_modules/@azure/msal-browser/package.json'), 'utf8'),
    ).version,
    vite: JSON.parse(readFileSync(join(root, 'node_modules/vite/package.json'), 'utf8')).version,
  };
  console.log(
    `versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log('| bundle | minified (bytes) | min + gzip (bytes) | gzip vs MSAL Browser |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.bytes} | ${r.gzipBytes} | ${(r.gzipBytes / msal.gzipBytes).toFixed(2)} |`);
  }
  writeFileSync(
    join(root, 'bench', '.results', 'spa-size.json'),
    JSON.stringify({ versions, results }, null, 2),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
