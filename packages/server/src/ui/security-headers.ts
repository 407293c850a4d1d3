import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { FORM_POST_SCRIPT } from './pages.js';

const FORM_POST_SCRIPT_HASH = `'sha256-${createHash('sha256').update(FORM_POST_SCRIPT).digest('base64')}'`;

/**
 * Headers of every UI page: a strict CSP (nothing but the self-served stylesheet; forms post only to this
 * origin, or to the app for form_post; no framing), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
 * `Cache-Control: no-store`.
 *
 * @param options.formActionOrigin the app's origin a form_post page submits to (enables its one inline script).
 * @param options.redirectSource CSP source of the app's redirect URI, where a UI form's POST may be redirected:
 *   Chromium applies `form-action` to every redirect that follows a form submission.
 * @param options.frameOrigins origins of front-channel logout frames the page embeds.
 */
export function sendPage(
  reply: FastifyReply,
  status: number,
  html: string,
  options: { formActionOrigin?: string; redirectSource?: string; frameOrigins?: readonly string[] } = {},
): FastifyReply {
  const formAction = ["'self'", options.formActionOrigin, options.redirectSource]
    .filter((source) => source !== undefined)
    .join(' ');
  const directives = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    ...(options.formActionOrigin === undefined ? [] : [`script-src ${FORM_POST_SCRIPT_HASH}`]),
    ...(options.frameOrigins !== undefined && options.frameOrigins.length > 0
      ? [`frame-src ${options.frameOrigins.join(' ')}`]
      : []),
  ];
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', directives.join('; '))
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send(html);
}
