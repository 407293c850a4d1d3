import { randomUUID } from 'node:crypto';
import type { Directory } from '@tessera/server';
import { createClientCertificate, type ClientCertificate } from './certificates.js';

/** The interactive sign-in scenario: a tenant with users, an API with delegated scopes, and client apps. */
export interface InteractiveScenario {
  readonly tenantId: string;
  readonly domain: string;
  readonly password: string;
  readonly user: { readonly id: string; readonly userPrincipalName: string; readonly displayName: string };
  readonly admin: { readonly id: string; readonly userPrincipalName: string };
  /** An API exposing `Files.Read` (User) and `Files.Admin` (Admin); v2 tokens. */
  readonly api: { readonly appId: string; readonly identifierUri: string };
  /** A confidential web app with a secret and a certificate, redirect `https://app.example/callback`. */
  readonly web: {
    readonly appId: string;
    readonly secret: string;
    readonly certificate: ClientCertificate;
    readonly redirectUri: string;
  };
  /** A single-page app, redirect `https://spa.example/callback`; implicit id_token and token enabled. */
  readonly spa: { readonly appId: string; readonly redirectUri: string; readonly origin: string };
  /** A public (native) client, redirect `http://127.0.0.1/callback` (any port). */
  readonly native: { readonly appId: string; readonly redirectUri: string };
}

/**
 * Seeds {@link InteractiveScenario}: tenant `domain` (default a unique `*.test`), user `alice@{domain}` and
 * administrator `admin@{domain}` (password `Correct-Horse-9`), the API, and web / spa / native clients.
 * Extra redirect URIs may be given per platform for tests that need the app's own server.
 */
export async function seedInteractiveScenario(
  directory: Directory,
  options: { domain?: string; webRedirectUris?: readonly string[]; spaRedirectUris?: readonly string[] } = {},
): Promise<InteractiveScenario> {
  const domain = options.domain ?? `i${randomUUID().slice(0, 8)}.test`;
  const password = 'Correct-Horse-9';
  const tenant = await directory.tenants.create({ displayName: `Contoso ${domain}`, domains: [domain] });
  const user = await directory.users.create({
    tenant: tenant.id,
    userPrincipalName: `alice@${domain}`,
    password,
    displayName: 'Alice Adams',
  });
  const admin = await directory.users.create({
    tenant: tenant.id,
    userPrincipalName: `admin@${domain}`,
    password,
    displayName: 'Ada Admin',
    admin: true,
  });
  const identifierUri = `api://${domain}/files`;
  const api = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'Files API',
    identifierUris: [identifierUri],
    scopes: ['Files.Read', 'Files.Admin'],
    requestedAccessTokenVersion: 2,
  });
  await directory.applications.update(api.application.appId, (current) => ({
    api: {
      ...current.api,
      oauth2PermissionScopes: current.api.oauth2PermissionScopes.map((s) =>
        s.value === 'Files.Admin'
          ? { ...s, type: 'Admin' as const, adminConsentDisplayName: 'Administer all files' }
          : {
              ...s,
              userConsentDisplayName: 'Read your files',
              userConsentDescription: 'Allows the app to read your files.',
            },
      ),
    },
  }));
  const webRedirect = 'https://app.example/callback';
  const web = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'Contoso Web',
    redirectUris: { web: [webRedirect, ...(options.webRedirectUris ?? [])] },
  });
  const secret = await directory.credentials.addPassword({ appId: web.application.appId });
  const certificate = await createClientCertificate();
  await directory.credentials.addCertificate({
    appId: web.application.appId,
    certificatePem: certificate.certificatePem,
  });
  const spaRedirect = 'https://spa.example/callback';
  const spa = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'Contoso SPA',
    redirectUris: { spa: [spaRedirect, ...(options.spaRedirectUris ?? [])] },
  });
  await directory.applications.update(spa.application.appId, (current) => ({
    web: {
      ...current.web,
      implicitGrantSettings: { enableAccessTokenIssuance: true, enableIdTokenIssuance: true },
    },
  }));
  const nativeRedirect = 'http://127.0.0.1/callback';
  const native = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'Contoso Desktop',
    redirectUris: { publicClient: [nativeRedirect] },
  });
  return {
    tenantId: tenant.id,
    domain,
    password,
    user: { id: user.id, userPrincipalName: user.userPrincipalName, displayName: user.displayName },
    admin: { id: admin.id, userPrincipalName: admin.userPrincipalName },
    api: { appId: api.application.appId, identifierUri },
    web: { appId: web.application.appId, secret: secret.secretText, certificate, redirectUri: webRedirect },
    spa: { appId: spa.application.appId, redirectUri: spaRedirect, origin: 'https://spa.example' },
    native: { appId: native.application.appId, redirectUri: nativeRedirect },
  };
}

/** A response as {@link TestBrowser} saw it. */
export interface BrowserResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** `Location` of a redirect, absolute. */
  readonly location: string | undefined;
}

/**
 * A minimal cookie-carrying browser over `fetch` for driving the sign-in UI without JavaScript: keeps cookies per
 * host, never follows redirects (tests inspect them), and submits the page's own forms.
 */
export class TestBrowser {
  private readonly cookies = new Map<string, string>();

  /** GETs a URL. */
  get(url: string): Promise<BrowserResponse> {
    return this.request(url, { method: 'GET' });
  }

  /** POSTs a form, with `headers` besides its content type (e.g. the `Origin` a browser sends). */
  post(
    url: string,
    fields: Readonly<Record<string, string>>,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<BrowserResponse> {
    return this.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** The value of a cookie this browser holds. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Forgets every cookie (a fresh browser profile). */
  clearCookies(): void {
    this.cookies.clear();
  }

  /**
   * Submits the form of `page` that contains `match` (default the first), with its hidden fields plus `fields`.
   * Relative actions resolve against `base`; `headers` are sent with the POST.
   */
  submit(
    base: string,
    page: BrowserResponse,
    fields: Readonly<Record<string, string>>,
    match?: string,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<BrowserResponse> {
    const forms = [...page.body.matchAll(/<form method="post" action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = forms.find((f) => match === undefined || f[2]?.includes(match) === true);
    if (form === undefined)
      throw new Error(
        `no form${match === undefined ? '' : ` containing ${match}`} on the page (status ${page.status})`,
      );
    const hidden: Record<string, string> = {};
    for (const input of (form[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
      hidden[decodeHtml(input[1] ?? '')] = decodeHtml(input[2] ?? '');
    }
    return this.post(new URL(decodeHtml(form[1] ?? ''), base).toString(), { ...hidden, ...fields }, headers);
  }

  private async request(url: string, init: RequestInit): Promise<BrowserResponse> {
    const cookie = [...this.cookies.entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string> | undefined),
        ...(cookie === '' ? {} : { cookie }),
        'user-agent': 'tessera-test-browser',
      },
    });
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair === undefined || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(set)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = response.headers.get('location') ?? undefined;
    return {
      status: response.status,
      headers: response.headers,
      body: await response.text(),
      location: location === undefined ? undefined : new URL(location, url).toString(),
    };
  }
}

function decodeHtml(value: string): string {
  return value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/**
 * Drives an authorization request to its redirect: signs in with `userName` / `password` when the sign-in page
 * shows, accepts consent when asked, picks `pick` on the account picker.
 *
 * @returns the final redirect (to the app) or the last page when it ended elsewhere.
 */
export async function signInThrough(
  browser: TestBrowser,
  authorizeUrl: string,
  credentials: {
    userName: string;
    password: string;
    consent?: 'accept' | 'decline';
    consentForOrganization?: boolean;
  },
): Promise<BrowserResponse> {
  let page = await browser.get(authorizeUrl);
  for (let step = 0; step < 6; step++) {
    if (page.status === 302 || page.status === 303) {
      const location = page.location ?? '';
      if (!location.startsWith(new URL(authorizeUrl).origin)) return page;
      page = await browser.get(location);
      continue;
    }
    if (page.body.includes('name="password"')) {
      page = await browser.submit(authorizeUrl, page, {
        username: credentials.userName,
        password: credentials.password,
      });
    } else if (page.body.includes('value="consent"')) {
      page = await browser.submit(authorizeUrl, page, {
        action: credentials.consent === 'decline' ? 'decline' : 'consent',
        ...(credentials.consentForOrganization === true ? { consent_organization: 'true' } : {}),
      });
    } else if (page.body.includes('name="session"')) {
      page = await browser.submit(authorizeUrl, page, {}, credentials.userName);
    } else {
      return page;
    }
  }
  return page;
}
