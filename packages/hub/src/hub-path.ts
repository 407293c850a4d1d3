/** The hub endpoint a request is for. */
export type HubEndpoint = 'connection' | 'negotiate';

/** A request target split into what the hub reads. */
export interface RequestTarget {
  /** The path as received (percent-encoding kept). */
  readonly pathname: string;
  /** The decoded query. */
  readonly query: URLSearchParams;
}

/**
 * Splits a request target (origin-form `/path?query`, or absolute-form `http://host/path?query`) into its path
 * and query; `undefined` for anything else. The path is not normalized: `/a/../hub` and `//host/hub` are not the
 * hub's path.
 */
export function requestTargetOf(url: string | undefined): RequestTarget | undefined {
  const target = url ?? '/';
  if (target.startsWith('/')) {
    const queryAt = target.search(/[?#]/);
    if (queryAt === -1) return { pathname: target, query: new URLSearchParams() };
    const fragmentAt = target.indexOf('#', queryAt);
    const query =
      target[queryAt] === '?' ? target.slice(queryAt + 1, fragmentAt === -1 ? undefined : fragmentAt) : '';
    return { pathname: target.slice(0, queryAt), query: new URLSearchParams(query) };
  }
  try {
    const parsed = new URL(target);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return { pathname: parsed.pathname, query: parsed.searchParams };
  } catch {
    return undefined;
  }
}

/**
 * Which endpoint of the hub at `hubPath` a request path is: the path itself (connection requests and WebSocket
 * upgrades) or `{path}/negotiate`. As in ASP.NET Core routing, the comparison ignores case and one trailing slash
 * (the official client follows negotiate redirects and keeps the casing it was given).
 */
export function hubEndpointOf(pathname: string, hubPath: string): HubEndpoint | undefined {
  let path = pathname.toLowerCase();
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const base = hubPath.toLowerCase();
  if (path === base) return 'connection';
  if (path === `${base}/negotiate`) return 'negotiate';
  return undefined;
}
