import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { randomToken } from '../tokens/opaque-tokens.js';
import type { UserAuthentication } from './authentication-event.js';
import { browserHash, browserToken, clearSessionCookie, setSessionCookie } from './cookies.js';
import type { SsoSession } from './sso-session.js';

/** What the session functions need from the running server. */
export type SessionContext = Pick<ServerContext, 'signIn' | 'config' | 'now'>;

/** A session just created or upgraded, with the browser key the response's new cookie carries. */
export interface BrowserSession {
  readonly session: SsoSession;
  /** SHA-256 of the new browser token (the request still carries the old cookie, or none). */
  readonly browserHash: string;
}

/**
 * The SSO sessions of this browser (its `tessera_sso` cookie), newest sign-in first: live ones — not ended,
 * before their absolute end and used within `sessionIdleTimeoutSeconds` — or, with `includeIdle`, every one not
 * yet ended or expired (what a sign-out may end).
 *
 * @param options.browserHash the browser key to use instead of the request's cookie (the response that signed in
 *   sets a new cookie the request does not carry yet).
 */
export async function listBrowserSessions(
  context: SessionContext,
  request: FastifyRequest,
  options: { readonly browserHash?: string | undefined; readonly includeIdle?: boolean } = {},
): Promise<SsoSession[]> {
  const token = browserToken(request);
  const key = options.browserHash ?? (token === undefined ? undefined : browserHash(token));
  if (key === undefined) return [];
  const now = context.now();
  const idleSeconds = options.includeIdle === true ? now : context.config.sessionIdleTimeoutSeconds;
  return context.signIn.sessions.listLive(key, now, idleSeconds);
}

/**
 * Creates an SSO session for an interactive authentication that just succeeded (its `auth_time` is now) and sets
 * a new SSO cookie: a new random browser token, to which the browser's other sessions move, so a cookie planted
 * before the sign-in never names the signed-in session (session fixation). The session lasts
 * `sessionMaxLifetimeSeconds` at most.
 *
 * @param authentication the user, tenant and RFC 8176 `amr` values (`['pwd']` for a password).
 */
export async function startSession(
  context: SessionContext,
  request: FastifyRequest,
  reply: FastifyReply,
  authentication: Pick<UserAuthentication, 'userId' | 'tenantId' | 'amr'>,
): Promise<BrowserSession> {
  const now = context.now();
  const cookie = await rotateBrowserToken(context, request);
  const session: SsoSession = {
    id: randomToken(),
    userId: authentication.userId,
    tenantId: authentication.tenantId,
    authTime: now,
    amr: [...authentication.amr],
    lastActiveAt: now,
    expiresAt: now + context.config.sessionMaxLifetimeSeconds,
  };
  await context.signIn.sessions.insert({ ...session, browserHash: cookie.browserHash, createdAt: now });
  setSessionCookie(reply, cookie.token, context.config.sessionMaxLifetimeSeconds);
  return { session, browserHash: cookie.browserHash };
}

/**
 * Records a further authentication of a live session (MFA step-up adds `mfa` and the factor's method, e.g.
 * `['mfa', 'otp']`): the `amr` values are added to the session's, and its `auth_time` becomes now (OIDC Core §2:
 * the time of the latest authentication).
 *
 * The session id stays: authorization codes, refresh token families and the front-channel logout list refer to
 * it, and ending it must still end what it signed in to. The cookie rotates as at sign-in: a browser token copied
 * before the step-up never carries the stronger authentication.
 *
 * @returns the upgraded session, or undefined when it ended or expired meanwhile (the caller asks for a sign-in).
 */
export async function upgradeSession(
  context: SessionContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: SsoSession,
  addedAmr: readonly string[],
): Promise<BrowserSession | undefined> {
  const now = context.now();
  const amr = [...new Set([...session.amr, ...addedAmr])];
  if (!(await context.signIn.sessions.updateAuthentication(session.id, now, amr, now))) return undefined;
  const cookie = await rotateBrowserToken(context, request);
  setSessionCookie(reply, cookie.token, context.config.sessionMaxLifetimeSeconds);
  return { session: { ...session, authTime: now, amr, lastActiveAt: now }, browserHash: cookie.browserHash };
}

/**
 * Ends sessions of this browser (OIDC RP-Initiated Logout 1.0 §2) and deletes the SSO cookie once none of the
 * browser's sessions is left.
 *
 * @returns the `appId`s the ended sessions signed in to (for front-channel logout).
 */
export async function endSessions(
  context: SessionContext,
  request: FastifyRequest,
  reply: FastifyReply,
  sessionIds: readonly string[],
): Promise<string[]> {
  const token = browserToken(request);
  if (token === undefined) return [];
  const now = context.now();
  const hash = browserHash(token);
  const appIds =
    sessionIds.length > 0 ? (await context.signIn.sessions.end(hash, now, sessionIds)).appIds : [];
  if ((await context.signIn.sessions.listLive(hash, now, now)).length === 0) clearSessionCookie(reply);
  return appIds;
}

/** A new browser token; the browser's sessions move from its old cookie's key to the new one. */
async function rotateBrowserToken(
  context: SessionContext,
  request: FastifyRequest,
): Promise<{ readonly token: string; readonly browserHash: string }> {
  const previous = browserToken(request);
  const token = randomToken();
  const hash = browserHash(token);
  if (previous !== undefined) await context.signIn.sessions.rebindBrowser(browserHash(previous), hash);
  return { token, browserHash: hash };
}
