/**
 * The logger the hub writes to: structured fields, never a token. URLs are logged only through
 * {@link redactUrl}, which removes `access_token` (browsers put the bearer token in the query string of WebSocket
 * and SSE requests) and the connection token, however their names are spelled.
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

/** Query parameters whose values are secrets: the bearer token and the connection token. */
const SECRET_PARAMETERS: ReadonlySet<string> = new Set(['access_token', 'id']);

/**
 * A request URL safe to log: the values of `access_token` (a bearer token) and `id` (the connection token, a
 * secret too) are replaced by `[redacted]`. Parameter names are compared as the hub reads them, that is after
 * `application/x-www-form-urlencoded` decoding (`access%5Ftoken`, `%69d` and `+` are what `URLSearchParams`
 * turns into those names), and case-insensitively. The rest of the URL is kept as received.
 */
export function redactUrl(url: string | undefined): string {
  if (url === undefined) return '';
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return url;
  const fragmentAt = url.indexOf('#', queryAt);
  const end = fragmentAt === -1 ? url.length : fragmentAt;
  const pairs = url.slice(queryAt + 1, end).split('&');
  const redacted = pairs.map((pair) => {
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    return SECRET_PARAMETERS.has(decodedName(rawName).toLowerCase()) ? `${rawName}=[redacted]` : pair;
  });
  return `${url.slice(0, queryAt + 1)}${redacted.join('&')}${url.slice(end)}`;
}

/** A query parameter name decoded exactly as `URLSearchParams` (and so the hub) decodes it. */
function decodedName(rawName: string): string {
  if (!/[%+]/.test(rawName)) return rawName;
  for (const [name] of new URLSearchParams(`${rawName}=`)) return name;
  return rawName;
}
