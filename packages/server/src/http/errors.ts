import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { IdentityError, errorCatalogue, toErrorBody, type ErrorBody } from '@tessera/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TENANT_SEGMENT_MAX_CHARS } from '../directory/tenant-segment.js';
import { isStoreUnavailable } from '../store/database.js';

/**
 * `Retry-After` (RFC 9110 §10.2.3), in seconds, of a 503 sent because the database cannot be reached: about as long
 * as a PostgreSQL restart or fail-over takes.
 */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

const CORRELATION_ID = /^[A-Za-z0-9-]{1,64}$/;

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured `errorCodePrefix` (`TSS` or `AADSTS`), decorated by `buildHttpApp`. */
    errorCodePrefix: string;
  }
}

/**
 * The wire body of an error for a request: {@link toErrorBody} with the request's trace and correlation ids and
 * the server's configured `errorCodePrefix`. Every error the server sends goes through here.
 */
export function errorBodyOf(request: FastifyRequest, error: IdentityError): ErrorBody {
  return toErrorBody(error, {
    traceId: request.id,
    correlationId: correlationIdOf(request),
    prefix: request.server.errorCodePrefix,
  });
}

/**
 * The correlation id of a request: the client's `client-request-id` (header, else query parameter, as MSAL sends
 * it) when it is a plausible id, else the request's trace id.
 */
export function correlationIdOf(request: FastifyRequest): string {
  const header = request.headers['client-request-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.['client-request-id'];
  const candidate = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
  return candidate !== undefined && CORRELATION_ID.test(candidate) ? candidate : request.id;
}

/**
 * Maps anything thrown while handling a request to an {@link IdentityError}: identity errors pass through;
 * Fastify's client errors (unsupported media type, body too large, unparsable body) become their catalogue
 * entries; a database that cannot be reached ({@link isStoreUnavailable}) is 90033 `temporarily_unavailable`
 * (503, RFC 6749 §4.1.2.1); everything else is an internal error whose detail stays in the logs.
 */
export function asIdentityError(error: unknown): IdentityError {
  if (error instanceof IdentityError) {
    // A failure wrapped as internal keeps its cause: an outage is still an outage.
    return error.code === 9100500 && isStoreUnavailable(error.cause)
      ? new IdentityError(90033, {}, { cause: error.cause })
      : error;
  }
  if (isStoreUnavailable(error)) return new IdentityError(90033, {}, { cause: error });
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new IdentityError(9100007);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new IdentityError(9100008);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new IdentityError(9100009, { reason: 'the body could not be parsed.' });
    case 'FST_ERR_BAD_URL':
      return new IdentityError(9100009, { reason: 'the URL is not validly percent-encoded.' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new IdentityError(9100009, {
        reason: `a path segment is longer than ${TENANT_SEGMENT_MAX_CHARS} characters.`,
      });
    default:
      if (
        typeof fastifyError.statusCode === 'number' &&
        fastifyError.statusCode >= 400 &&
        fastifyError.statusCode < 500
      ) {
        return new IdentityError(9100009, { reason: 'the request could not be read.' }, { cause: error });
      }
      return new IdentityError(9100500, {}, { cause: error });
  }
}

/**
 * Sends the error body (RFC 6749 §5.2, docs/errors.md) with `Cache-Control: no-store`. Server errors are logged with their cause;
 * client errors at info level with their internal detail. Neither ever carries request bodies or credentials.
 */
export function sendIdentityError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  const identityError = asIdentityError(error);
  const body = errorBodyOf(request, identityError);
  if (identityError.status === 503) {
    request.log.warn(
      { err: identityError.cause ?? identityError, traceId: request.id, correlationId: body.correlation_id },
      'the database cannot be reached',
    );
    void reply.header('retry-after', String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS));
  } else if (identityError.status >= 500) {
    request.log.error(
      { err: identityError.cause ?? identityError, traceId: request.id, correlationId: body.correlation_id },
      'request failed',
    );
  } else {
    request.log.info(
      {
        code: identityError.code,
        detail: identityError.detail,
        traceId: request.id,
        correlationId: body.correlation_id,
        url: request.routeOptions.url,
      },
      errorCatalogue[identityError.code].name,
    );
  }
  if (identityError.status === 401 && /^basic /i.test(request.headers.authorization ?? '')) {
    // RFC 6749 §5.2: a client that tried HTTP Basic gets the matching challenge.
    void reply.header('www-authenticate', 'Basic realm="tessera", charset="UTF-8"');
  }
  return reply
    .status(identityError.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('client-request-id', body.correlation_id)
    .send(body);
}

/**
 * Fastify's `frameworkErrors` hook: errors raised before a route runs (`FST_ERR_BAD_URL` for a malformed
 * percent-encoding, `FST_ERR_MAX_PARAM_LENGTH` for an over-long segment) answer with a catalogue body. An
 * over-long first segment is a `{tenant}` that can be no tenant: 900023, as for any other malformed tenant.
 */
export function sendFrameworkError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: FastifyError,
): FastifyReply {
  const firstSegment = request.url.split(/[/?]/, 2)[1] ?? '';
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' && firstSegment.length > TENANT_SEGMENT_MAX_CHARS) {
    return sendIdentityError(
      request,
      reply,
      new IdentityError(900023, { tenant: `${firstSegment.slice(0, 64)}…` }),
    );
  }
  return sendIdentityError(request, reply, error);
}

/**
 * Fastify's `clientErrorHandler`: the HTTP parser refused the request before Fastify saw it (request line or
 * headers over Node's limit, malformed HTTP, timeout). Writes a catalogue body — 9100021 (431) for oversized
 * headers, else 9100009 (400) — with the configured error code `prefix`, and closes the connection, as Node
 * does.
 */
export function writeConnectionError(
  error: Error & { code?: string; rawPacket?: unknown },
  socket: Socket,
  prefix: string,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const identityError =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new IdentityError(9100021)
        : new IdentityError(9100009, {
            reason:
              error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
                ? 'the request was not received in time.'
                : 'the HTTP request could not be parsed.',
          });
    const traceId = randomUUID();
    const json = JSON.stringify(toErrorBody(identityError, { traceId, correlationId: traceId, prefix }));
    // A response to HEAD has no body (RFC 9110 §9.3.2); the parser keeps the bytes it refused in rawPacket.
    const head =
      Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
    const body = head ? '' : json;
    socket.write(
      `HTTP/1.1 ${identityError.status} ${STATUS_CODES[identityError.status] ?? 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n` +
        `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
