import type { OAuthErrorName } from './catalogue.js';
import type { IdentityError } from './identity-error.js';

/**
 * The wire body of every error from the token endpoint (and other JSON endpoints), in the Microsoft identity
 * platform's shape.
 *
 * @see RFC 6749 §5.2, `docs/errors.md`
 */
export interface ErrorBody {
  error: OAuthErrorName;
  /**
   * `{prefix}{code}: {description}` (prefix `TSS` unless configured) followed by `Trace ID`, `Correlation ID` and
   * `Timestamp` lines (CRLF-separated).
   */
  error_description: string;
  error_codes: number[];
  /** UTC, `YYYY-MM-DD hh:mm:ssZ`. */
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  suberror?: string;
  claims?: string;
}

/** Default prefix of `error_description`, before the numeric code (a server may be configured to use `AADSTS`). */
export const ERROR_DESCRIPTION_PREFIX = 'TSS';

/** Request-scoped identifiers for an error body. */
export interface ErrorContext {
  /** Unique per request (a GUID). */
  readonly traceId: string;
  /** The client's `client-request-id`, else a fresh GUID. */
  readonly correlationId: string;
  /** When the error happened; defaults to now. */
  readonly at?: Date;
  /** What precedes the code in `error_description`; default {@link ERROR_DESCRIPTION_PREFIX} (`TSS`). */
  readonly prefix?: string;
}

/** Formats a time as the platform does in error bodies: `2016-01-09 02:02:12Z`. */
export function formatErrorTimestamp(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/**
 * Turns an {@link IdentityError} into its wire body. Internal `detail` is never included.
 */
export function toErrorBody(err: IdentityError, context: ErrorContext): ErrorBody {
  const timestamp = formatErrorTimestamp(context.at ?? new Date());
  const body: ErrorBody = {
    error: err.error,
    error_description:
      `${context.prefix ?? ERROR_DESCRIPTION_PREFIX}${err.code}: ${err.description}\r\n` +
      `Trace ID: ${context.traceId}\r\nCorrelation ID: ${context.correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [err.code],
    timestamp,
    trace_id: context.traceId,
    correlation_id: context.correlationId,
  };
  if (err.suberror !== undefined) body.suberror = err.suberror;
  if (err.claims !== undefined) body.claims = err.claims;
  return body;
}
