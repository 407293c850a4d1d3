/**
 * Seeding and starting the two servers of the refresh benchmark, and obtaining what the load needs: refresh
 * token chains (one per connection) and a real sign-in form. Processes and the Tessera CLI come from bench/lib.
 */
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { createPkcePair, signInThrough, TestBrowser } from '@tessera/testkit';
import { HOST, spawnPinned, waitUntilListening } from '../lib/processes.mjs';
import { runTesseraCli, tesseraCli } from '../lib/tessera.mjs';

export const DOMAIN = 'bench.test';
const API = 'api://bench-api';
const SCOPE = 'Files.Read';
const REDIRECT_URI = 'https://app.example/callback';
const USER = `alice@${DOMAIN}`;
export const PASSWORD = 'Correct-Horse-Battery-9';

/**
 * Seeds a fresh Tessera directory with the CLI: tenant bench.test, an API `api://bench-api` exposing the
 * delegated scope Files.Read (v2.0 tokens, RS256), a confidential web app with a secret, and a user.
 */
export async function seedTessera(repoRoot, env, dataDir) {
  const run = (args) => runTesseraCli(repoRoot, env, dataDir, args);
  const tenant = await run(['tenant', 'create', '--name', 'Bench', '--domain', DOMAIN]);
  const api = await run([
    ...['app', 'create', '--tenant', DOMAIN, '--name', 'API', '--identifier-uri', API],
    ...['--scope', SCOPE, '--token-version', '2'],
  ]);
  const web = await run([
    ...['app', 'create', '--tenant', DOMAIN, '--name', 'Web'],
    ...['--redirect-uri', `web=${REDIRECT_URI}`],
  ]);
  const password = await run(['app', 'add-password', '--tenant', DOMAIN, '--app', web.appId]);
  await run(['user', 'create', '--tenant', DOMAIN, '--upn', USER, '--password', PASSWORD]);
  return { tenantId: tenant.id, apiAppId: api.appId, clientId: web.appId, clientSecret: password.secretText };
}

const form = (fields) => new URLSearchParams(fields).toString();

export async function startTessera({ cleanup, cpu, port, repoRoot, env, dataDir, seed, profileDir }) {
  const args = [
    ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]),
    tesseraCli(repoRoot),
    'serve',
    '--data',
    dataDir,
    '--port',
    String(port),
  ];
  const child = spawnPinned(cleanup, cpu, args, env);
  const base = `http://${HOST}:${port}`;
  await waitUntilListening(child, `${base}/${DOMAIN}/v2.0/.well-known/openid-configuration`);
  return {
    name: 'tessera',
    label: 'Tessera',
    child,
    base,
    tokenUrl: `${base}/${DOMAIN}/oauth2/v2.0/token`,
    jwksUrl: `${base}/${DOMAIN}/discovery/v2.0/keys`,
    body: form({ grant_type: 'refresh_token', client_id: seed.clientId, client_secret: seed.clientSecret }),
  };
}

export async function startOidcProvider({ cleanup, cpu, port, repoRoot, seed }) {
  const config = {
    port,
    clientId: seed.clientId,
    clientSecret: seed.clientSecret,
    redirectUri: REDIRECT_URI,
    resource: API,
    scope: SCOPE,
    lifetimeSeconds: 3599,
  };
  const script = join(repoRoot, 'bench/refresh/oidc-provider-server.mjs');
  const env = { ...process.env, NODE_ENV: 'production', BENCH_OIDC_CONFIG: JSON.stringify(config) };
  const child = spawnPinned(cleanup, cpu, [script], env);
  const base = `http://${HOST}:${port}`;
  await waitUntilListening(child, `${base}/.well-known/openid-configuration`);
  return {
    name: 'oidc-provider',
    label: 'oidc-provider',
    child,
    base,
    tokenUrl: `${base}/token`,
    jwksUrl: `${base}/jwks`,
    body: form({ grant_type: 'refresh_token', client_id: seed.clientId, client_secret: seed.clientSecret }),
  };
}

function authorizeUrl(tessera, seed, extra = {}) {
  const { verifier, challenge } = createPkcePair();
  const params = {
    client_id: seed.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: `openid offline_access ${API}/${SCOPE}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  return { url: `${tessera.base}/${DOMAIN}/oauth2/v2.0/authorize?${form(params)}`, verifier };
}

/**
 * `count` independent refresh token families from Tessera, the way an app gets them: one browser signs in
 * (password form, consent accepted), then runs `count` authorization requests on its SSO session; each code is
 * redeemed (with PKCE and the client secret) for a refresh token.
 */
export async function tesseraRefreshTokens(tessera, seed, count) {
  const browser = new TestBrowser();
  const tokens = [];
  for (let i = 0; i < count; i += 1) {
    const { url, verifier } = authorizeUrl(tessera, seed);
    const back =
      i === 0
        ? await signInThrough(browser, url, { userName: USER, password: PASSWORD, consent: 'accept' })
        : await browser.get(url);
    const code = back.location === undefined ? null : new URL(back.location).searchParams.get('code');
    if (code === null) throw new Error(`Tessera sign-in ended without a code (HTTP ${back.status})`);
    const response = await globalThis.fetch(tessera.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'authorization_code',
        client_id: seed.clientId,
        client_secret: seed.clientSecret,
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      }),
    });
    const json = await response.json();
    if (typeof json.refresh_token !== 'string')
      throw new Error(`code redemption: HTTP ${response.status} ${JSON.stringify(json).slice(0, 300)}`);
    tokens.push(json.refresh_token);
  }
  return tokens;
}

/** `count` refresh tokens minted by the oidc-provider process (one grant each). */
export async function oidcProviderRefreshTokens(handle, count) {
  const response = await globalThis.fetch(`${handle.base}/bench/refresh-tokens?count=${count}`);
  if (response.status !== 200) throw new Error(`oidc-provider tokens: HTTP ${response.status}`);
  return response.json();
}

/**
 * The real sign-in form, as a fresh browser gets it: the authorization request renders the sign-in page, whose
 * form carries the anti-CSRF token (HMAC of the CSRF cookie set alongside) and the sealed interaction. Returns
 * the POST target, the body with the user's name and password, and the cookie to send.
 */
export async function signInForm(tessera, seed) {
  const browser = new TestBrowser();
  const page = await browser.get(authorizeUrl(tessera, seed, { prompt: 'login' }).url);
  const match = /<form method="post" action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(page.body);
  if (page.status !== 200 || match === null || !match[2].includes('name="password"'))
    throw new Error(`no sign-in form (HTTP ${page.status})`);
  const decode = (v) =>
    v
      .replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&');
  const fields = {};
  for (const input of match[2].matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    fields[decode(input[1])] = decode(input[2]);
  const csrf = browser.cookie('tessera_csrf');
  if (csrf === undefined || fields.csrf_token === undefined)
    throw new Error('sign-in form without CSRF token');
  return {
    url: new URL(decode(match[1]), tessera.base).toString(),
    body: form({ ...fields, username: USER, password: PASSWORD }),
    cookie: `tessera_csrf=${csrf}`,
    expectLocation: REDIRECT_URI,
  };
}
