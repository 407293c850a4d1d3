import { IdentityError } from '@tessera/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  DIRECTORY_ERRORS,
  DirectoryError,
  graphErrorBody,
  type DirectoryErrorDescriptor,
  type GraphErrorBody,
} from '../directory/errors.js';
import { STORE_UNAVAILABLE_RETRY_AFTER_SECONDS, correlationIdOf } from '../http/errors.js';
import { isStoreUnavailable } from '../store/database.js';

/**
 * Every way the management API (`/v1.0`) refuses a request: the directory's refusals ({@link DIRECTORY_ERRORS},
 * raised by the directory services) and the ones only the HTTP API has, each with Microsoft Graph's `error.code`
 * and HTTP status.
 *
 * @see https://learn.microsoft.com/graph/errors
 */
export const MANAGEMENT_ERRORS = {
  ...DIRECTORY_ERRORS,
  /** No bearer token, or one this server does not accept for the directory API (RFC 6750 §3.1 `invalid_token`). */
  unauthenticated: { graphCode: 'InvalidAuthenticationToken', httpStatus: 401 },
  /** A query option, filter clause or operator the API does not support. */
  unsupported_query: { graphCode: 'Request_UnsupportedQuery', httpStatus: 400 },
  /**
   * An object whose key is already taken where Graph answers 409: a second service principal of one app in a
   * tenant, a second delegated grant of one client, resource, consent type and principal.
   */
  key_value_conflict: { graphCode: 'Request_MultipleObjectsWithSameKeyValue', httpStatus: 409 },
  /** A path segment that names no resource or operation (Graph answers these with 400 `BadRequest`). */
  no_segment: { graphCode: 'BadRequest', httpStatus: 400 },
  /** A resource that exists but not with this HTTP method. */
  method_not_allowed: { graphCode: 'Request_BadRequest', httpStatus: 405 },
  /** A body that is not JSON (`application/json`). */
  unsupported_media_type: { graphCode: 'Request_BadRequest', httpStatus: 415 },
  /** The directory store cannot be reached now: 503 with `Retry-After`, as Graph answers a service outage. */
  unavailable: { graphCode: 'serviceNotAvailable', httpStatus: 503 },
  /** An unexpected failure; its detail stays in the logs. */
  internal: { graphCode: 'generalException', httpStatus: 500 },
} as const satisfies Record<string, DirectoryErrorDescriptor>;

/** Why the management API refused a request: a key of {@link MANAGEMENT_ERRORS}. */
export type ManagementErrorCode = keyof typeof MANAGEMENT_ERRORS;

/** A refused management request, made only from {@link MANAGEMENT_ERRORS}; the message is safe to show. */
export class ManagementError extends Error {
  override readonly name = 'ManagementError';

  constructor(
    readonly code: ManagementErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The Graph error and HTTP status this refusal answers. */
  get descriptor(): DirectoryErrorDescriptor {
    return MANAGEMENT_ERRORS[this.code];
  }

  /** Graph's error body, as {@link DirectoryError.toGraphBody} makes it. */
  toGraphBody(innerError?: Readonly<Record<string, string>>): GraphErrorBody {
    return graphErrorBody(this.descriptor, this.message, innerError);
  }
}

/** The Graph message of `Authorization_RequestDenied`. */
export const INSUFFICIENT_PRIVILEGES = 'Insufficient privileges to complete the operation.';

/**
 * Maps anything thrown while answering a management request to a refusal: management and directory errors pass
 * through; Fastify's body errors become `Request_BadRequest` (415 for another media type); anything else is
 * `internal`, whose cause is only logged.
 */
export function asManagementError(error: unknown): ManagementError | DirectoryError {
  if (error instanceof ManagementError || error instanceof DirectoryError) return error;
  if (isStoreUnavailable(error) || (error instanceof IdentityError && isStoreUnavailable(error.cause))) {
    return new ManagementError(
      'unavailable',
      'The service is temporarily unavailable. Retry the request after the time in the Retry-After header.',
    );
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ManagementError('unsupported_media_type', 'The request body must be application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ManagementError('invalid', 'The request body is too large.');
    default:
      if (
        typeof fastifyError.statusCode === 'number' &&
        fastifyError.statusCode >= 400 &&
        fastifyError.statusCode < 500
      ) {
        return new ManagementError('invalid', 'The request could not be read.');
      }
      return new ManagementError('internal', 'An unexpected error occurred.');
  }
}

/**
 * Sends Graph's error body `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`
 * with the refusal's status, `request-id` / `client-request-id` headers and `Cache-Control: no-store`. Internal
 * errors are logged with their cause, client errors at info level.
 *
 * @param nowSeconds the clock, Unix seconds (`innerError.date`, ISO 8601 without fraction, as Graph writes it).
 */
export function sendGraphError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  nowSeconds: number,
): FastifyReply {
  const refusal = asManagementError(error);
  const status = refusal.descriptor.httpStatus;
  const clientRequestId = correlationIdOf(request);
  if (status === 503) {
    request.log.warn(
      { err: error, traceId: request.id, correlationId: clientRequestId },
      'the database cannot be reached',
    );
    void reply.header('retry-after', String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS));
  } else if (status >= 500)
    request.log.error(
      { err: error, traceId: request.id, correlationId: clientRequestId },
      'management request failed',
    );
  else
    request.log.info(
      { code: refusal.code, traceId: request.id, correlationId: clientRequestId },
      refusal.descriptor.graphCode,
    );
  const body = refusal.toGraphBody({
    date: new Date(nowSeconds * 1000).toISOString().slice(0, 19),
    'request-id': request.id,
    'client-request-id': clientRequestId,
  });
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .header('request-id', request.id)
    .header('client-request-id', clientRequestId)
    .send(body);
}
