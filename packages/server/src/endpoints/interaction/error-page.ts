import type { IdentityError } from '@tessera/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBodyOf } from '../../http/errors.js';
import { errorPage } from '../../ui/pages.js';
import { sendPage } from '../../ui/security-headers.js';

/** How a browser endpoint words its error page and its log line. */
export interface ErrorPageWording {
  /** The page's title for a refusal (4xx). */
  readonly refusedTitle: string;
  /** The page's title for a server failure (5xx). */
  readonly failedTitle: string;
  /** The log message of a refusal. */
  readonly refusedLog: string;
  /** Whether a refusal's log line carries the error's internal detail (never sent to the browser). */
  readonly logDetail: boolean;
}

/** The wording of the sign-in UI's error page (`/authorize` before the redirect URI is proven, `/login`). */
export const SIGN_IN_ERROR_WORDING: ErrorPageWording = {
  refusedTitle: 'We could not sign you in',
  failedTitle: 'Something went wrong',
  refusedLog: 'authorization refused',
  logDetail: true,
};

/**
 * Renders the error page of a browser navigation (HTML, never JSON), with the error's HTTP status, its safe
 * description, code, trace and correlation ids; a 5xx is logged with its cause, a refusal at info level.
 */
export function sendErrorPage(
  request: FastifyRequest,
  reply: FastifyReply,
  error: IdentityError,
  wording: ErrorPageWording = SIGN_IN_ERROR_WORDING,
): FastifyReply {
  const body = errorBodyOf(request, error);
  const failed = error.status >= 500;
  if (failed)
    request.log.error(
      { err: error.cause ?? error, traceId: request.id, correlationId: body.correlation_id },
      'request failed',
    );
  else if (wording.logDetail)
    request.log.info(
      { code: error.code, detail: error.detail, traceId: request.id, correlationId: body.correlation_id },
      wording.refusedLog,
    );
  else
    request.log.info(
      { code: error.code, traceId: request.id, correlationId: body.correlation_id },
      wording.refusedLog,
    );
  return sendPage(
    reply,
    error.status,
    errorPage({
      title: failed ? wording.failedTitle : wording.refusedTitle,
      message: error.description,
      code: error.code,
      codePrefix: request.server.errorCodePrefix,
      traceId: body.trace_id,
      correlationId: body.correlation_id,
      timestamp: body.timestamp,
    }),
  );
}
