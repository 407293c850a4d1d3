import { createHmac, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomToken, tokenHash } from '../tokens/opaque-tokens.js';

/** The SSO cookie: an opaque browser token; the store keeps only its SHA-256. */
export const SESSION_COOKIE = 'tessera_sso';
/** The anti-CSRF cookie of the signed double-submit pattern. */
export const CSRF_COOKIE = 'tessera_csrf';

/** The browser token from the SSO cookie, if it looks like one of ours. */
export function browserToken(request: FastifyRequest): string | undefined {
  const value = request.cookies[SESSION_COOKIE];
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
}

/** Hash of a browser token, the sessions' lookup key. */
export function browserHash(token: string): string {
  return tokenHash(token);
}

/**
 * Sets the SSO cookie: `HttpOnly; Secure; SameSite=None` so a hidden iframe on the app's site can renew silently
 * (`prompt=none`), `Path=/`, lasting `maxAgeSeconds`.
 */
export function setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    secure: true,
    sameSite: 'none',
    path: '/',
    maxAge: maxAgeSeconds,
  });
}

/** Deletes the SSO cookie (sign-out). */
export function clearSessionCookie(reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: 'none', path: '/' });
}

/**
 * The anti-CSRF token for a form: HMAC of the browser's CSRF cookie (set here when absent). A cross-site form
 * can neither read the cookie nor compute the MAC (signed double-submit cookie).
 */
export function csrfTokenFor(request: FastifyRequest, reply: FastifyReply, key: Buffer): string {
  let cookie = request.cookies[CSRF_COOKIE];
  if (cookie === undefined || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
    cookie = randomToken();
    void reply.setCookie(CSRF_COOKIE, cookie, { httpOnly: true, secure: true, sameSite: 'lax', path: '/' });
  }
  return csrfMac(key, cookie);
}

/** True when the submitted token matches the browser's CSRF cookie. */
export function csrfTokenValid(request: FastifyRequest, key: Buffer, submitted: string | undefined): boolean {
  const cookie = request.cookies[CSRF_COOKIE];
  if (cookie === undefined || submitted === undefined) return false;
  const expected = Buffer.from(csrfMac(key, cookie));
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function csrfMac(key: Buffer, cookie: string): string {
  return createHmac('sha256', key).update(`csrf|${cookie}`).digest('base64url');
}
