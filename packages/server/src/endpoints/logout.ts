import { createHmac, timingSafeEqual } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { matchRedirectUri } from '../directory/redirect-uris.js';
import { asIdentityError } from '../http/errors.js';
import { formParameters } from '../http/form.js';
import { endSessions, listBrowserSessions } from '../sessions/browser-sessions.js';
import { csrfTokenFor, csrfTokenValid } from '../sessions/cookies.js';
import { userOfLoginHint } from '../sessions/login-hint.js';
import type { SsoSession } from '../sessions/sso-session.js';
import { verifyOwnToken } from '../tokens/verify-own-token.js';
import { signedOutPage, signOutPickerPage, type PageNotice } from '../ui/pages.js';
import { sendPage } from '../ui/security-headers.js';
import { sendErrorPage, type ErrorPageWording } from './interaction/error-page.js';
import { resolveTenantSegment, type ResolvedTenantSegment } from '../directory/tenant-segment.js';

/** Seconds the account picker of a sign-out stays usable. */
const PICKER_LIFETIME_SECONDS = 15 * 60;
/** How old an `id_token_hint` may be, in seconds: RP-Initiated Logout accepts expired ID tokens as hints. */
const ID_TOKEN_HINT_MAX_AGE_SECONDS = 365 * 86_400;
/** Longest parameter value kept, in characters (longer ones are cut before they are sealed into a form). */
const MAX_PARAMETER_CHARS = 8192;

/** What a sign-out request asks for, as the request (or the sealed picker form) carried it. */
interface LogoutRequest {
  readonly postLogoutRedirectUri?: string | undefined;
  readonly state?: string | undefined;
  readonly clientId?: string | undefined;
}

/** The picker form's sealed state: the request, its tenant segment and the sessions the page offered. */
interface SealedPicker {
  readonly purpose: 'logout';
  readonly tenant: string;
  readonly request: LogoutRequest;
  readonly sessionIds: readonly string[];
  /** Unix seconds. */
  readonly expiresAt: number;
}

/**
 * `GET|POST /{tenant}/oauth2/v2.0/logout` (OIDC RP-Initiated Logout 1.0) and the form target of its account picker,
 * `POST /{tenant}/oauth2/v2.0/logout/confirm`.
 *
 * Which sessions end: the browser's sessions in the request's tenant (every tenant for `common` /
 * `organizations`). An `id_token_hint` issued by this server (expired is fine; its `tid` this tenant's; its `aud`
 * the `client_id` when both are sent) or a `logout_hint` — the `login_hint` claim of our ID tokens — that names an
 * account signed in here proves the user asked: that account's sessions end at once. Otherwise (no hint, a UPN, a
 * forged hint, a hint for an account not signed in here) the user picks the account on Tessera's page first (§2:
 * the OP must ask); a cross-site link can never sign anyone out by itself.
 *
 * Where the browser goes: to `post_logout_redirect_uri` (+ `state`) only when it is registered for an application
 * that took part in a session this request ended — `client_id`, or the `id_token_hint`'s audience, when named;
 * else any app of the ended sessions (MSAL Browser's `logoutRedirect()` names none, as Entra allows). Anything else
 * ends the sessions all the same and shows the signed-out page with 9100017 / 9100060 (HTTP 400). Front-channel
 * logout frames (`web.logoutUrl`, OIDC Front-Channel Logout 1.0) of the ended sessions' apps come first when any.
 * The SSO cookie is deleted once no session of the browser is left.
 *
 * `POST` takes a form body (an empty body is a request without parameters); `HEAD` is refused (9100062): a sign-out
 * is never a side effect of a safe method.
 */
export function registerEndSessionEndpoints(app: FastifyInstance, context: ServerContext): void {
  type Request = FastifyRequest<{ Params: { tenant: string } }>;
  const logout = (request: Request, reply: FastifyReply) =>
    guarded(request, reply, async () => {
      if (request.method === 'HEAD') {
        void reply.header('allow', 'GET, POST');
        throw new IdentityError(9100062, {
          path: '/{tenant}/oauth2/v2.0/logout',
          method: 'HEAD',
          allowed: 'GET or POST',
        });
      }
      const segment = await resolveTenantSegment(request.params.tenant, context.cache);
      const params = logoutParameters(request);
      const logoutRequest: LogoutRequest = {
        postLogoutRedirectUri: params.post_logout_redirect_uri,
        state: params.state,
        clientId: params.client_id,
      };
      const sessions = await browserSessions(context, request, segment);
      const hintedUser = await hintedUserOf(context, segment, params);
      const hinted =
        hintedUser === undefined ? [] : sessions.filter((session) => session.userId === hintedUser.userId);
      if (hinted.length > 0) {
        // The hint's audience is the client when the request names none (a client_id mismatch voided the hint).
        return finish(context, request, reply, {
          request: { ...logoutRequest, clientId: logoutRequest.clientId ?? hintedUser?.clientId },
          sessionIds: hinted.map((session) => session.id),
        });
      }
      if (sessions.length === 0)
        return finish(context, request, reply, { request: logoutRequest, sessionIds: [] });
      return picker(context, request, reply, logoutRequest, sessions);
    });
  app.get<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/logout', logout);
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/logout', logout);

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/logout/confirm', (request, reply) =>
    guarded(request, reply, async () => {
      const form = formParameters(request);
      if (!csrfTokenValid(request, context.keys.interaction, form.csrf_token))
        throw new IdentityError(9100061);
      const sealed = openPicker(context.keys.interaction, form.logout_request ?? '', context.now());
      if (sealed?.tenant !== request.params.tenant) throw new IdentityError(9100061);
      const chosen = form.session ?? '';
      const sessionIds =
        chosen === 'all' ? sealed.sessionIds : sealed.sessionIds.filter((id) => id === chosen);
      if (sessionIds.length === 0) throw new IdentityError(9100061);
      return finish(context, request, reply, { request: sealed.request, sessionIds });
    }),
  );
}

/** The sign-out's error page: one title whatever the failure. */
const SIGN_OUT_ERROR_WORDING: ErrorPageWording = {
  refusedTitle: 'We could not sign you out',
  failedTitle: 'We could not sign you out',
  refusedLog: 'sign-out refused',
  logDetail: false,
};

/** Runs a handler; any refusal renders the error page (a navigation endpoint: HTML, never JSON). */
async function guarded(
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<FastifyReply>,
): Promise<FastifyReply> {
  try {
    return await handle();
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error), SIGN_OUT_ERROR_WORDING);
  }
}

/**
 * The request's parameters, single-valued and non-empty: the query of a `GET`; the form body of a `POST` (none
 * when the body is empty).
 *
 * @throws IdentityError 9100004 (a repeated parameter), 9100007 (a `POST` body that is not a form).
 */
function logoutParameters(request: FastifyRequest): Record<string, string> {
  let source: unknown;
  if (request.method === 'GET') source = request.query;
  else if (request.body === undefined && request.headers['content-type'] === undefined) source = {};
  else source = formParameters(request);
  const params: Record<string, string> = {};
  if (typeof source !== 'object' || source === null) return params;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new IdentityError(9100004, { name: name.slice(0, 64) });
    if (typeof value === 'string' && value !== '') params[name] = value.slice(0, MAX_PARAMETER_CHARS);
  }
  return params;
}

/** The sessions of this browser not yet ended (idle ones too: ending them is what the user wants), in `segment`. */
async function browserSessions(
  context: ServerContext,
  request: FastifyRequest,
  segment: ResolvedTenantSegment,
): Promise<SsoSession[]> {
  const sessions = await listBrowserSessions(context, request, { includeIdle: true });
  return sessions.filter((session) => segment.kind !== 'tenant' || session.tenantId === segment.tenant.id);
}

/**
 * The account a hint names: an `id_token_hint` this server issued (an ID token: no `scp`, no `uti`; its `tid` the
 * request's tenant; its `aud` the `client_id` when one is sent), else a `logout_hint` made by `loginHintFor`.
 * Undefined for anything else — a hint is never an error, only not a proof.
 */
async function hintedUserOf(
  context: ServerContext,
  segment: ResolvedTenantSegment,
  params: Readonly<Record<string, string>>,
): Promise<{ userId: string; clientId?: string } | undefined> {
  const idTokenHint = params.id_token_hint;
  if (idTokenHint !== undefined) {
    const verified = await verifyOwnToken(
      context.keyRing(),
      context.baseUrl(),
      idTokenHint,
      ID_TOKEN_HINT_MAX_AGE_SECONDS,
    );
    const claims = verified.ok ? verified.claims : undefined;
    const isIdToken =
      claims !== undefined &&
      claims.scp === undefined &&
      claims.uti === undefined &&
      typeof claims.aud === 'string' &&
      typeof claims.oid === 'string';
    if (
      isIdToken &&
      (segment.kind !== 'tenant' || claims.tid === segment.tenant.id) &&
      (params.client_id === undefined || params.client_id === claims.aud)
    ) {
      return { userId: claims.oid as string, clientId: claims.aud as string };
    }
  }
  const logoutHint = params.logout_hint;
  const userId = logoutHint === undefined ? undefined : userOfLoginHint(context.keys.pairwise, logoutHint);
  return userId === undefined ? undefined : { userId };
}

/** Renders the account picker ("Pick an account to sign out"): nothing ends until the user chooses. */
async function picker(
  context: ServerContext,
  request: FastifyRequest<{ Params: { tenant: string } }>,
  reply: FastifyReply,
  logoutRequest: LogoutRequest,
  sessions: readonly SsoSession[],
): Promise<FastifyReply> {
  const accounts = [];
  for (const session of sessions) {
    const user = await context.cache.user(session.userId);
    accounts.push({
      sessionRef: session.id,
      displayName: user?.displayName ?? 'Unknown account',
      userPrincipalName: user?.userPrincipalName ?? '',
    });
  }
  const sealed = sealPicker(context.keys.interaction, {
    purpose: 'logout',
    tenant: request.params.tenant,
    request: logoutRequest,
    sessionIds: sessions.map((session) => session.id),
    expiresAt: context.now() + PICKER_LIFETIME_SECONDS,
  });
  const page = signOutPickerPage({
    action: `/${encodeURIComponent(request.params.tenant)}/oauth2/v2.0/logout/confirm`,
    fields: {
      logout_request: sealed,
      csrf_token: csrfTokenFor(request, reply, context.keys.interaction),
    },
    accounts,
  });
  // Chromium applies `form-action` to the redirect answering the form's POST: allow the requested return address
  // (whether the server goes there is decided after the choice; the page's own forms only post to this origin).
  const target = logoutRequest.postLogoutRedirectUri;
  const origin = target !== undefined && URL.canParse(target) ? new URL(target) : undefined;
  const redirectSource =
    origin !== undefined && (origin.protocol === 'https:' || origin.protocol === 'http:')
      ? origin.origin
      : undefined;
  return sendPage(reply, 200, page, redirectSource === undefined ? {} : { redirectSource });
}

/**
 * Ends `sessionIds` of this browser, deletes the cookie when none is left, then sends the browser on: to the
 * front-channel frames and/or the registered return address, else to the signed-out page (with the refusal of
 * the return address, if one was asked for).
 */
async function finish(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  input: { readonly request: LogoutRequest; readonly sessionIds: readonly string[] },
): Promise<FastifyReply> {
  const appIds = await endSessions(context, request, reply, input.sessionIds);
  const frames: string[] = [];
  for (const appId of appIds) {
    const logoutUrl = (await context.cache.application(appId))?.web.logoutUrl;
    if (typeof logoutUrl === 'string' && isWebUrl(logoutUrl)) frames.push(logoutUrl);
  }
  const destination = await returnAddress(context, input.request, appIds);
  const continueTo = destination.kind === 'redirect' ? destination.uri : undefined;
  if (frames.length === 0 && continueTo !== undefined) {
    return reply.status(302).header('location', continueTo).header('cache-control', 'no-store').send();
  }
  const notice: PageNotice | undefined =
    destination.kind === 'refused'
      ? {
          message: destination.error.description,
          code: destination.error.code,
          codePrefix: request.server.errorCodePrefix,
        }
      : undefined;
  if (notice !== undefined) {
    request.log.info({ code: notice.code, traceId: request.id }, 'post_logout_redirect_uri refused');
  }
  return sendPage(
    reply,
    destination.kind === 'refused' ? destination.error.status : 200,
    signedOutPage({ frames, continueTo, notice }),
    { frameOrigins: [...new Set(frames.map((url) => new URL(url).origin))] },
  );
}

type ReturnAddress =
  | { readonly kind: 'none' }
  | { readonly kind: 'redirect'; readonly uri: string }
  | { readonly kind: 'refused'; readonly error: IdentityError };

/**
 * Where the browser may go after the sign-out: `post_logout_redirect_uri` + `state` when the URI is registered
 * (exactly, as redirect URIs match) for an app that took part in one of the ended sessions — the named client, or
 * when none is named any of those apps. Ending the sessions is never undone by a refusal here.
 */
async function returnAddress(
  context: ServerContext,
  logoutRequest: LogoutRequest,
  endedAppIds: readonly string[],
): Promise<ReturnAddress> {
  const uri = logoutRequest.postLogoutRedirectUri;
  if (uri === undefined) return { kind: 'none' };
  const redirectUri = uri.slice(0, 512);
  const named = logoutRequest.clientId;
  const candidates = named === undefined ? endedAppIds : endedAppIds.filter((id) => id === named);
  for (const appId of candidates) {
    const application = await context.cache.application(appId).catch(() => undefined);
    if (application !== undefined && matchRedirectUri(application, uri) !== undefined && isWebUrl(uri)) {
      const state = logoutRequest.state;
      const query = state === undefined ? '' : new URLSearchParams({ state }).toString();
      return { kind: 'redirect', uri: query === '' ? uri : `${uri}${uri.includes('?') ? '&' : '?'}${query}` };
    }
  }
  if (named !== undefined && candidates.length > 0) {
    return {
      kind: 'refused',
      error: new IdentityError(9100017, { redirectUri, clientId: named.slice(0, 64) }),
    };
  }
  return { kind: 'refused', error: new IdentityError(9100060, { redirectUri }) };
}

/** An absolute `https:` / `http:` URL (a registered custom scheme is for native sign-in, not a frame or a page). */
function isWebUrl(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const protocol = new URL(uri).protocol;
  return protocol === 'https:' || protocol === 'http:';
}

/** Seals the picker state: base64url JSON, `.`, base64url HMAC-SHA256 over `logout|` and the JSON. */
function sealPicker(key: Buffer, state: SealedPicker): string {
  const body = Buffer.from(JSON.stringify(state)).toString('base64url');
  return `${body}.${pickerMac(key, body)}`;
}

/** Opens sealed picker state; undefined when forged, malformed, of another purpose or expired. */
function openPicker(key: Buffer, sealed: string, now: number): SealedPicker | undefined {
  const dot = sealed.indexOf('.');
  if (dot <= 0 || sealed.length > 32_768) return undefined;
  const body = sealed.slice(0, dot);
  const mac = Buffer.from(sealed.slice(dot + 1));
  const expected = Buffer.from(pickerMac(key, body));
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  try {
    const state = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SealedPicker;
    return (state.purpose as string) === 'logout' && state.expiresAt > now ? state : undefined;
  } catch {
    return undefined;
  }
}

function pickerMac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(`logout|${body}`).digest('base64url');
}
