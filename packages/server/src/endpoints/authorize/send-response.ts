import type { IdentityError } from '@tessera/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBodyOf } from '../../http/errors.js';
import { formPostPage } from '../../ui/pages.js';
import { sendPage } from '../../ui/security-headers.js';
import type { ResponseTarget } from './request.js';

/**
 * Sends an authorization response (or error) to the redirect URI in its response mode: `query` (RFC 6749 §4.1.2),
 * `fragment` (§4.2.2), or `form_post` (OAuth 2.0 Form Post Response Mode: an auto-submitting form). A redirect
 * is `302` with `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
 */
export function sendAuthorizationResponse(
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

/**
 * Sends a refusal to the proven redirect URI (RFC 6749 §4.1.2.1): `error`, `error_description`, `suberror` when
 * the catalogue has one, `state`, `iss` (RFC 9207), `trace_id` and `correlation_id`.
 */
export function sendAuthorizationError(
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
  return sendAuthorizationResponse(reply, target, fields);
}
