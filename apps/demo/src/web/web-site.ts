import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ReportDaemon } from '../daemon/report-daemon.js';
import type { FlowEvent, FlowLog } from '../flows/flow-log.js';
import { adminConsentRedirectUri, type DemoScenario } from '../seed/scenario.js';
import { LANDING_SCRIPT, LANDING_STYLES, consentResultPage, landingPage } from './landing-page.js';

/** How long an admin consent `state` stays redeemable, in milliseconds. */
export const CONSENT_STATE_LIFETIME_MS = 15 * 60_000;
/** Admin consent `state`s kept at once (older ones are dropped first). */
const MAX_CONSENT_STATES = 100;

/** The URLs of the demo's parts, as the page and the console show them. */
export interface DemoUrls {
  readonly identity: string;
  readonly api: string;
  readonly web: string;
}

/** What the demo web site needs. */
export interface WebSiteOptions {
  readonly scenario: DemoScenario;
  readonly urls: DemoUrls;
  readonly flows: FlowLog;
  readonly daemon: ReportDaemon;
  readonly https: { readonly key: Buffer; readonly cert: Buffer } | undefined;
  /** The built Todo SPA (`index.html` and `assets/`); undefined: the landing page stands in for it. */
  readonly spaDir: string | undefined;
}

/** What the Todo SPA reads at start (`GET /demo/spa-config.json`). */
export interface SpaConfig {
  /** The issuer of contoso, `https://{host}/{tenant id}/v2.0`. */
  readonly authority: string;
  readonly clientId: string;
  /** The Todo API's origin: the only one the SPA attaches its token to. */
  readonly apiUrl: string;
  readonly scope: string;
}

/** Content types of the SPA's built assets. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/** The landing page's view of the scenario: names and ids, never a password or a secret. */
export interface PublicScenario {
  readonly urls: DemoUrls;
  readonly tenants: readonly { readonly key: string; readonly id: string; readonly domain: string }[];
  readonly users: readonly {
    readonly userPrincipalName: string;
    readonly displayName: string;
    readonly role: string;
  }[];
  readonly apps: {
    readonly todoApi: { readonly appId: string; readonly identifierUri: string };
    readonly spa: { readonly appId: string };
    readonly daemon: { readonly appId: string };
  };
  /** A fresh admin consent link for fabrikam's administrator (its `state` is checked on the way back). */
  readonly fabrikamAdminConsentUrl: string;
}

/**
 * The security headers of every page: no framing, scripts and styles from this origin only, connections to this
 * origin, the Todo API (its hub's WebSockets included) and the identity server only, and the identity server as
 * the only frame (the hidden iframe of silent renewal).
 */
function secure(reply: FastifyReply, urls: DemoUrls): FastifyReply {
  const hubSocket = urls.api.replace(/^http/, 'ws');
  return reply
    .header(
      'content-security-policy',
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; ` +
        `connect-src 'self' ${urls.api} ${hubSocket} ${urls.identity}; frame-src ${urls.identity}; ` +
        `form-action 'self' ${urls.identity}; base-uri 'none'; frame-ancestors 'none'`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}

/**
 * The demo web site, on its own origin: the landing page that explains each flow as it happens (it streams the
 * {@link FlowLog} over Server-Sent Events), the admin consent return page for the report daemon, and — once the
 * Todo SPA is built — the SPA itself.
 *
 * | route | what |
 * | --- | --- |
 * | `GET /`, `GET /authentication/{action}` | the Todo SPA (the landing page until it is built) |
 * | `GET /demo/` | the landing page |
 * | `GET /demo/spa-config.json` | {@link SpaConfig} |
 * | `GET /assets/{file}` | the SPA's built scripts and styles |
 * | `GET /demo/scenario` | {@link PublicScenario} (no passwords, no secrets) |
 * | `GET /demo/events` | `text/event-stream` of {@link FlowEvent}s, the kept ones first |
 * | `POST /demo/daemon/run` | runs the report daemon in both tenants now (same-origin JSON requests only) |
 * | `GET /adminconsent/callback` | where `/adminconsent` returns the administrator (`tenant`, `state`, `admin_consent` or `error`) |
 */
export function createWebSite(options: WebSiteOptions): FastifyInstance {
  const { scenario, urls, flows, daemon } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: 1024,
    ...(options.https === undefined ? {} : { https: { key: options.https.key, cert: options.https.cert } }),
  }) as unknown as FastifyInstance;
  const consentStates = new Map<string, number>();

  const publicScenario = (): PublicScenario => {
    const state = randomBytes(16).toString('base64url');
    const now = Date.now();
    for (const [kept, at] of consentStates) {
      if (now - at > CONSENT_STATE_LIFETIME_MS || consentStates.size >= MAX_CONSENT_STATES) {
        consentStates.delete(kept);
      }
    }
    consentStates.set(state, now);
    return {
      urls,
      tenants: [
        { key: 'contoso', id: scenario.contoso.id, domain: scenario.contoso.domain },
        { key: 'fabrikam', id: scenario.fabrikam.id, domain: scenario.fabrikam.domain },
      ],
      users: scenario.users.map((u) => ({
        userPrincipalName: u.userPrincipalName,
        displayName: u.displayName,
        role: u.role,
      })),
      apps: {
        todoApi: { appId: scenario.todoApi.appId, identifierUri: scenario.todoApi.identifierUri },
        spa: { appId: scenario.spa.appId },
        daemon: { appId: scenario.daemon.appId },
      },
      fabrikamAdminConsentUrl: `${urls.identity}/${scenario.fabrikam.domain}/adminconsent?${new URLSearchParams(
        {
          client_id: scenario.daemon.appId,
          redirect_uri: adminConsentRedirectUri(urls.web),
          state,
        },
      ).toString()}`,
    };
  };

  app.setErrorHandler((_error, _request, reply) =>
    reply.code(400).send({ error: 'invalid_request', error_description: 'The request is not valid.' }),
  );
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'not_found', error_description: 'No such page.' }),
  );

  const landing = (_request: unknown, reply: FastifyReply) =>
    secure(reply, urls)
      .type('text/html; charset=utf-8')
      .send(landingPage(options.spaDir !== undefined));
  const spaIndex =
    options.spaDir === undefined ? undefined : readFileSync(join(options.spaDir, 'index.html'));
  const spa =
    spaIndex === undefined
      ? landing
      : (_request: unknown, reply: FastifyReply) =>
          secure(reply, urls).type('text/html; charset=utf-8').send(spaIndex);
  app.get('/', spa);
  app.get('/authentication/:action', spa);
  app.get('/demo/', landing);
  app.get('/demo', (_request, reply) => reply.redirect('/demo/'));
  app.get('/demo/spa-config.json', (_request, reply) =>
    secure(reply, urls).send({
      authority: `${urls.identity}/${scenario.contoso.id}/v2.0`,
      clientId: scenario.spa.appId,
      apiUrl: urls.api,
      scope: `${scenario.todoApi.identifierUri}/access_as_user`,
    } satisfies SpaConfig),
  );
  app.get<{ Params: { file: string } }>('/assets/:file', (request, reply) => {
    const { file } = request.params;
    const type = ASSET_TYPES[file.slice(file.lastIndexOf('.') + 1)];
    const path = options.spaDir === undefined ? undefined : join(options.spaDir, 'assets', file);
    // Built asset names only: no path separators, no dot segments.
    if (!/^[\w-]+(\.[\w-]+)+$/.test(file) || type === undefined || path === undefined || !existsSync(path)) {
      return reply.code(404).send({ error: 'not_found', error_description: 'No such page.' });
    }
    return secure(reply, urls)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(type)
      .send(readFileSync(path));
  });
  app.get('/demo/landing.js', (_request, reply) =>
    secure(reply, urls).type('text/javascript; charset=utf-8').send(LANDING_SCRIPT),
  );
  app.get('/demo/landing.css', (_request, reply) =>
    secure(reply, urls).type('text/css; charset=utf-8').send(LANDING_STYLES),
  );
  app.get('/demo/scenario', (_request, reply) => secure(reply, urls).send(publicScenario()));

  app.get('/demo/events', (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    const send = (event: FlowEvent) => raw.write(`id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`);
    const since = Number(request.headers['last-event-id'] ?? 0);
    for (const event of flows.recent()) if (!(event.id <= since)) send(event);
    const stop = flows.subscribe(send);
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    request.raw.on('close', () => {
      clearInterval(keepAlive);
      stop();
    });
  });

  app.post('/demo/daemon/run', async (request, reply) => {
    // Only this site's own page may start a run: a cross-site form cannot send JSON with this Origin.
    if (
      request.headers.origin !== urls.web ||
      request.headers['content-type']?.startsWith('application/json') !== true
    ) {
      return reply
        .code(403)
        .send({ error: 'forbidden', error_description: 'Same-origin JSON requests only.' });
    }
    return { value: await daemon.runAll() };
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/adminconsent/callback',
    async (request, reply) => {
      const {
        tenant,
        state,
        admin_consent: adminConsent,
        error,
        error_description: description,
      } = request.query;
      const issuedAt = state === undefined ? undefined : consentStates.get(state);
      if (state !== undefined) consentStates.delete(state);
      const known = issuedAt !== undefined && Date.now() - issuedAt <= CONSENT_STATE_LIFETIME_MS;
      secure(reply, urls).type('text/html; charset=utf-8');
      if (!known) {
        flows.record({
          flow: 'admin_consent',
          outcome: 'refused',
          title: 'An admin consent answer with an unknown state was ignored',
          explanation:
            'The state parameter must be one this site issued with the consent link, and is used once.',
          rules: ['state binds the answer to the request this site made (RFC 6749 §10.12).'],
        });
        return reply.code(400).send(consentResultPage('unknown-state', undefined, urls.web));
      }
      if (error !== undefined || adminConsent !== 'True') {
        flows.record({
          flow: 'admin_consent',
          outcome: 'refused',
          title: `The administrator declined: ${error ?? 'no consent'}`,
          explanation: description ?? 'Nothing was granted; the daemon stays refused in that tenant.',
          rules: ['Declining grants nothing.'],
        });
        return reply.send(consentResultPage('declined', undefined, urls.web));
      }
      flows.record({
        flow: 'admin_consent',
        outcome: 'ok',
        title: `Admin consent granted in tenant ${tenant ?? ''}`,
        explanation:
          'The administrator signed in, read the application permissions the Report Daemon requires ' +
          '(requiredResourceAccess: Todos.Read.All on the Todo API) and accepted: the tenant now has service ' +
          'principals for both apps and the app role assignment. /adminconsent answered ?tenant=…&state=…&admin_consent=True.',
        rules: [
          'Only a Global Administrator of the tenant can approve; a user gets a refusal page and nothing is granted.',
        ],
      });
      void daemon.runAll();
      return reply.send(consentResultPage('granted', tenant, urls.web));
    },
  );

  return app;
}
