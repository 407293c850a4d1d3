import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { asIdentityError, errorBodyOf } from '../../http/errors.js';
import {
  browserHash,
  browserToken,
  csrfTokenFor,
  csrfTokenValid,
  setSessionCookie,
} from '../../sessions/cookies.js';
import type { SsoSession } from '../../sessions/sso-session.js';
import { isUniqueViolation } from '../../store/database.js';
import { randomToken } from '../../tokens/opaque-tokens.js';
import { issuerV2 } from '../../tokens/issuer.js';
import {
  accountPickerPage,
  consentPage,
  errorPage,
  formPostPage,
  signInPage,
  type AppBadge,
  type FormContext,
} from '../../ui/pages.js';
import { sendPage } from '../../ui/security-headers.js';
import { resolveTenantSegment } from '../../directory/tenant-segment.js';
import { withAccountLoginHint } from '../../sessions/login-hint.js';
import { resolveScopes } from '../../directory/consent.js';
import type { Application } from '../../directory/model.js';
import { checkClient } from './check-client.js';
import { checkConsent } from './check-consent.js';
import { checkPkce } from './check-pkce.js';
import { checkPrompt } from './check-prompt.js';
import { checkRedirectUri, matchRedirectUri } from './check-redirect-uri.js';
import { checkResponseType } from './check-response-type.js';
import {
  STEP_ACTIONS,
  acceptAnswer,
  loadInteractionStep,
  saveInteractionStep,
  type InteractionAnswer,
  type InteractionStep,
} from './interaction-state.js';
import type { AuthorizationContext, AuthorizationOutcome, ResponseTarget } from './request.js';
import { respond } from './respond.js';
import { selectAccount } from './select-account.js';

/** How the interaction POST continues the authorization. */
interface Continuation {
  /** The session signed in (`fresh`) or picked on the account picker during this interaction. */
  readonly session?: { readonly id: string; readonly fresh: boolean };
  /** The browser's session key when this very response sets a new cookie (just signed in). */
  readonly browserHash?: string;
  readonly consent?: { readonly accept: boolean; readonly forOrganization: boolean };
}

/**
 * `GET|POST /{tenant}/oauth2/v2.0/authorize` (RFC 6749 §3.1, OIDC Core §3.1.2) and the sign-in UI's form target
 * `POST /{tenant}/login`. The request runs through named steps — check client, check redirect URI, check
 * response type and mode, check PKCE, check prompt, select account, check consent, respond — each in its own
 * module. Until client and redirect URI are proven, refusals render the error page; after, they go back to the
 * redirect URI (`error`, `error_description`, `state`, `iss`). `prompt=none` never renders a page.
 */
export function registerAuthorizeEndpoints(app: FastifyInstance, context: ServerContext): void {
  const handler = async (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    const source = request.method === 'GET' ? request.query : request.body;
    return run(context, request, reply, request.params.tenant, () => singleValued(source), {});
  };
  app.get<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', handler);
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', handler);
  app.post<{ Params: { tenant: string } }>('/:tenant/login', (request, reply) =>
    interact(context, request, reply),
  );
}

/** The parameters as single values; a repeated parameter is refused (RFC 6749 §3.1). */
function singleValued(source: unknown): Record<string, string> {
  const params: Record<string, string> = {};
  if (typeof source !== 'object' || source === null) return params;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new IdentityError(9100004, { name: name.slice(0, 64) });
    if (typeof value === 'string') params[name] = value;
  }
  return params;
}

async function run(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tenant: string,
  readParams: () => Record<string, string>,
  continuation: Continuation,
): Promise<FastifyReply> {
  let ctx: AuthorizationContext | undefined;
  try {
    const params = await withAccountLoginHint(context.keys.pairwise, context.cache, readParams());
    const tenantSegment = await resolveTenantSegment(tenant, context.cache);
    ctx = { params, tenantSegment, prompts: new Set() };
    if (continuation.session !== undefined) {
      ctx.interactionSessionId = continuation.session.id;
      ctx.interactionSessionFresh = continuation.session.fresh;
    }
    const base = context.baseUrl();
    await checkClient(context, ctx);
    // RFC 9207 `iss` only where the issuer is one tenant's: no client can match the `{tenantid}` template.
    const issuer = tenantSegment.kind === 'tenant' ? issuerV2(base, tenantSegment.tenant.id) : undefined;
    checkRedirectUri(ctx, issuer);
    checkResponseType(ctx);
    checkPkce(ctx);
    checkPrompt(ctx);
    // Scope syntax and resources are checked before any page, so a bad request never asks for a password.
    await resolveScopes(context.cache, ctx.client as Application, params.scope, tenantSegment.segment);
    const token = browserToken(request);
    const key = continuation.browserHash ?? (token === undefined ? undefined : browserHash(token));
    const sessions =
      key === undefined
        ? []
        : await context.signIn.listSessions(key, context.now(), context.config.sessionIdleTimeoutSeconds);
    const selected = await selectAccount(context, ctx, sessions);
    if (selected !== undefined) return await render(context, request, reply, ctx, selected, tenant);
    // Declining ends the request whatever else happened meanwhile (consent given in another tab).
    if (continuation.consent?.accept === false) throw new IdentityError(65004);
    let consent = await checkConsent(context, ctx);
    if (consent !== undefined && continuation.consent !== undefined) {
      await recordConsent(context, ctx, continuation.consent.forOrganization);
      ctx.consentGiven = true;
      consent = await checkConsent(context, ctx);
    }
    if (consent !== undefined) return await render(context, request, reply, ctx, consent, tenant);
    return await render(context, request, reply, ctx, await respond(context, ctx), tenant);
  } catch (error) {
    const identityError = asIdentityError(error);
    if (ctx?.target === undefined || identityError.status >= 500)
      return sendErrorPage(request, reply, identityError);
    return redirectError(request, reply, ctx.target, identityError);
  }
}

async function recordConsent(
  context: ServerContext,
  ctx: AuthorizationContext,
  forOrganization: boolean,
): Promise<void> {
  const user = ctx.user;
  if (user === undefined) return;
  const admin = user.directoryRoles.includes('Global Administrator');
  const consent = {
    tenantId: user.tenantId,
    userId: user.id,
    forOrganization: admin && forOrganization,
    items: (ctx.consentNeeds ?? []).map((need) => ({
      clientAppId: need.client.appId,
      resourceAppId: need.resource.appId,
      scopes: need.scopes,
    })),
  };
  // Recording looks for the grant (and service principal) before writing it: two decisions at once (a double
  // click, two tabs) both find none and one insert loses on the unique key. The loser tries again, now merging
  // into what the winner wrote, instead of answering 500.
  for (let attempt = 1; ; attempt++) {
    try {
      await context.directory.recordConsent(consent);
      break;
    } catch (error) {
      if (attempt >= 3 || !isUniqueViolation(error)) throw error;
    }
  }
  // This node sees its own write at once; others drop their caches within one poll interval.
  context.cache.invalidate();
}

async function render(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: AuthorizationContext,
  outcome: AuthorizationOutcome,
  tenant: string,
  error?: { readonly message: string; readonly status: number; readonly userName?: string | undefined },
): Promise<FastifyReply> {
  if (outcome.kind === 'respond') return sendResponse(reply, outcome.target, outcome.fields);
  const client = ctx.client;
  if (client === undefined) throw new Error('unreachable');
  // The page's step is kept server-side: which actions it offers and what they may refer to.
  const accounts = outcome.kind === 'select-account' ? await accountsOf(context, outcome.sessions) : [];
  const admin = ctx.user?.directoryRoles.includes('Global Administrator') === true;
  const step: InteractionStep = {
    tenant,
    params: ctx.params,
    step: outcome.kind,
    actions: STEP_ACTIONS[outcome.kind],
    choices: Object.fromEntries(accounts.map((a) => [a.sessionRef, a.sessionId])),
    sessionId: outcome.kind === 'consent' ? ctx.session?.id : undefined,
    sessionFresh:
      outcome.kind === 'consent' &&
      ctx.interactionSessionFresh === true &&
      ctx.session !== undefined &&
      ctx.interactionSessionId === ctx.session.id,
    organizationConsent: outcome.kind === 'consent' && admin,
  };
  const csrfToken = csrfTokenFor(request, reply, context.keys.interaction);
  const form: FormContext = {
    action: `/${encodeURIComponent(tenant)}/login`,
    interaction: await saveInteractionStep(context.signIn, step, csrfToken, context.now()),
    csrfToken,
  };
  const home = await context.cache.tenant(client.tenantId);
  const badge: AppBadge = {
    displayName: client.displayName,
    publisherDomain: home?.domains[0] ?? 'unverified publisher',
  };
  // The form's POST answers with a redirect to the app, which Chromium checks against `form-action` too.
  const page = { redirectSource: redirectSourceOf(client, ctx) };
  switch (outcome.kind) {
    case 'sign-in':
      return sendPage(
        reply,
        error?.status ?? 200,
        signInPage({
          form,
          app: badge,
          loginHint: error?.userName ?? ctx.params.login_hint,
          error: error?.message ?? outcome.error,
        }),
        page,
      );
    case 'select-account': {
      return sendPage(reply, 200, accountPickerPage({ form, app: badge, accounts }), page);
    }
    case 'consent': {
      const user = ctx.user;
      const items = (ctx.consentNeeds ?? []).flatMap((need) =>
        need.scopes.map((value) => {
          const scope = need.resource.api.oauth2PermissionScopes.find((s) => s.value === value);
          const adminOnly = need.adminScopes.includes(value);
          return {
            displayName:
              (adminOnly ? scope?.adminConsentDisplayName : scope?.userConsentDisplayName) ?? value,
            description:
              (adminOnly ? scope?.adminConsentDescription : scope?.userConsentDescription) ?? value,
            resourceName: need.resource.displayName,
            adminOnly,
          };
        }),
      );
      return sendPage(
        reply,
        200,
        consentPage({
          form,
          app: badge,
          userPrincipalName: user?.userPrincipalName ?? '',
          items,
          canConsentForOrganization: admin,
        }),
        page,
      );
    }
  }
}

/**
 * The CSP source (origin, or scheme for a custom-scheme URI) of the request's redirect URI once it is proven
 * registered for the client; undefined otherwise.
 */
function redirectSourceOf(client: Application, ctx: AuthorizationContext): string | undefined {
  const uri = ctx.target?.redirectUri ?? ctx.params.redirect_uri;
  if (uri === undefined || matchRedirectUri(client, uri) === undefined || !URL.canParse(uri))
    return undefined;
  const url = new URL(uri);
  return url.origin === 'null' ? url.protocol : url.origin;
}

/** The picker's accounts; each gets a random reference (the session id never reaches the browser). */
async function accountsOf(context: ServerContext, sessions: readonly SsoSession[]) {
  const accounts = [];
  for (const session of sessions) {
    const user = await context.cache.user(session.userId);
    if (user !== undefined)
      accounts.push({
        sessionRef: randomToken(),
        sessionId: session.id,
        displayName: user.displayName,
        userPrincipalName: user.userPrincipalName,
      });
  }
  return accounts;
}

/** Sends a successful or failed authorization response to the redirect URI in its response mode. */
function sendResponse(
  reply: FastifyReply,
  target: ResponseTarget,
  fields: Readonly<Record<string, string>>,
): FastifyReply {
  if (target.responseMode === 'form_post') {
    return sendPage(reply, 200, formPostPage(target.redirectUri, fields), {
      formActionOrigin: new URL(target.redirectUri).origin,
    });
  }
  const encoded = new URLSearchParams(fields).toString();
  let location: string;
  if (target.responseMode === 'fragment') {
    location = `${target.redirectUri}#${encoded}`;
  } else {
    location = `${target.redirectUri}${target.redirectUri.includes('?') ? '&' : '?'}${encoded}`;
  }
  return reply
    .status(302)
    .header('location', location)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send();
}

function redirectError(
  request: FastifyRequest,
  reply: FastifyReply,
  target: ResponseTarget,
  error: IdentityError,
): FastifyReply {
  const body = errorBodyOf(request, error);
  request.log.info({ code: error.code, detail: error.detail, traceId: request.id }, 'authorization refused');
  const fields: Record<string, string> = { error: body.error, error_description: body.error_description };
  if (error.suberror !== undefined) fields.suberror = error.suberror;
  if (target.state !== undefined) fields.state = target.state;
  if (target.issuer !== undefined) fields.iss = target.issuer;
  fields.trace_id = body.trace_id;
  fields.correlation_id = body.correlation_id;
  return sendResponse(reply, target, fields);
}

function sendErrorPage(request: FastifyRequest, reply: FastifyReply, error: IdentityError): FastifyReply {
  const body = errorBodyOf(request, error);
  if (error.status >= 500)
    request.log.error({ err: error.cause ?? error, traceId: request.id }, 'request failed');
  else
    request.log.info(
      { code: error.code, detail: error.detail, traceId: request.id },
      'authorization refused',
    );
  const title = error.status >= 500 ? 'Something went wrong' : 'We could not sign you in';
  return sendPage(
    reply,
    error.status,
    errorPage({
      title,
      message: error.description,
      code: error.code,
      codePrefix: request.server.errorCodePrefix,
      traceId: body.trace_id,
      correlationId: body.correlation_id,
      timestamp: body.timestamp,
    }),
  );
}

/**
 * `POST /{tenant}/login`: a form of the sign-in UI. Checks the anti-CSRF token, loads the page's step (kept
 * server-side, bound to this browser), and accepts only an answer that page offered (9100022 otherwise, on the
 * error page): a password sign-in on the sign-in page (new session, new cookie against fixation), an account the
 * picker offered or "use another account" on the picker, a consent decision on the consent page. Then continues
 * the authorization request.
 */
async function interact(
  context: ServerContext,
  request: FastifyRequest<{ Params: { tenant: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  let form: Record<string, string>;
  try {
    form = singleValued(request.body);
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error));
  }
  if (!csrfTokenValid(request, context.keys.interaction, form.csrf_token)) {
    return sendErrorPage(request, reply, new IdentityError(9100013));
  }
  let step: InteractionStep | undefined;
  try {
    step = await loadInteractionStep(context.signIn, form.interaction, form.csrf_token, context.now());
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error));
  }
  if (step?.tenant !== request.params.tenant)
    return sendErrorPage(request, reply, new IdentityError(9100014));
  const answer = acceptAnswer(step, form);
  if (answer === undefined) {
    request.log.info(
      { step: step.step, action: (form.action ?? '').slice(0, 32), traceId: request.id },
      'interaction answer not offered by its page',
    );
    return sendErrorPage(request, reply, new IdentityError(9100022));
  }
  const params = () => ({ ...step.params });
  switch (answer.action) {
    case 'signin':
      return signIn(context, request, reply, step, answer);
    case 'select':
      return run(context, request, reply, step.tenant, params, {
        session: { id: answer.sessionId, fresh: false },
      });
    case 'use_another': {
      const { prompt: _prompt, login_hint: _hint, ...rest } = step.params;
      return run(context, request, reply, step.tenant, () => ({ ...rest, prompt: 'login' }), {});
    }
    case 'consent':
    case 'decline':
      if (step.sessionId === undefined) return sendErrorPage(request, reply, new IdentityError(9100014));
      return run(context, request, reply, step.tenant, params, {
        session: { id: step.sessionId, fresh: step.sessionFresh },
        consent: { accept: answer.action === 'consent', forOrganization: answer.forOrganization },
      });
  }
}

async function signIn(
  context: ServerContext,
  request: FastifyRequest<{ Params: { tenant: string } }>,
  reply: FastifyReply,
  step: InteractionStep,
  answer: Extract<InteractionAnswer, { action: 'signin' }>,
): Promise<FastifyReply> {
  const segment = await resolveTenantSegment(step.tenant, context.cache).catch(() => undefined);
  let user;
  try {
    user = await context.passwords.verify({
      userName: answer.userName,
      password: answer.password,
      clientIp: request.ip,
      tenantId: segment?.kind === 'tenant' ? segment.tenant.id : undefined,
      nowMs: Date.now(),
    });
  } catch (error) {
    const identityError = asIdentityError(error);
    if (identityError.status >= 500) return sendErrorPage(request, reply, identityError);
    const ctx: AuthorizationContext = {
      params: step.params,
      tenantSegment: segment ?? { kind: 'alias', alias: 'common', segment: 'common' },
      prompts: new Set(),
    };
    ctx.client = await context.cache.application(step.params.client_id ?? '');
    if (ctx.client === undefined) return sendErrorPage(request, reply, identityError);
    return render(context, request, reply, ctx, { kind: 'sign-in' }, step.tenant, {
      message: identityError.description,
      status: identityError.status,
      userName: answer.userName,
    });
  }
  // The session's auth_time is this sign-in's, after the password was verified.
  const now = context.now();
  const previous = browserToken(request);
  const token = randomToken();
  const hash = browserHash(token);
  if (previous !== undefined) await context.signIn.rebindBrowser(browserHash(previous), hash);
  const session: SsoSession = {
    id: randomToken(),
    userId: user.id,
    tenantId: user.tenantId,
    authTime: now,
    amr: ['pwd'],
    lastActiveAt: now,
    expiresAt: now + context.config.sessionMaxLifetimeSeconds,
  };
  await context.signIn.insertSession({ ...session, browserHash: hash, createdAt: now });
  setSessionCookie(reply, token, context.config.sessionMaxLifetimeSeconds);
  return run(context, request, reply, step.tenant, () => ({ ...step.params }), {
    session: { id: session.id, fresh: true },
    browserHash: hash,
  });
}
