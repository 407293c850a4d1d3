/**
 * The logger the hub writes to: structured fields, never a token. URLs are logged only through
 * {@link redactUrl}, which removes `access_token` (browsers put the bearer token in the query string of WebSocket
 * and SSE requests).
 */
export interface HubLogger {
  debug(message: string, fields?: Readonly<Record<string, unknown>>): void;
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** A logger that drops everything (the default). */
export const silentLogger: HubLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * A request URL safe to log: the values of `access_token` (a bearer token) and `id` (the connection token, a
 * secret too) are replaced by `[redacted]`.
 */
export function redactUrl(url: string | undefined): string {
  if (url === undefined) return '';
  return url.replace(/([?&](?:access_token|id)=)[^&#]*/gi, '$1[redacted]');
}
