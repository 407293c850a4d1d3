import type { IncomingMessage } from 'node:http';

/** Result of checking a request's `Origin`. */
export type OriginDecision =
  /** No `Origin` header (not a browser) or the page's own origin: allowed, no CORS headers needed. */
  | { readonly kind: 'same' }
  /** A listed cross origin: allowed; responses carry CORS headers for it. */
  | { readonly kind: 'allowed'; readonly origin: string }
  | { readonly kind: 'refused'; readonly origin: string };

/**
 * The origin allow-list. Cross-origin negotiate requests and WebSocket upgrades are refused unless listed: CORS
 * does not apply to WebSockets, so a browser page on any site could otherwise open a socket carrying the user's
 * cookies.
 *
 * @see docs/hub.md "Security" (origins)
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  /**
   * @param allowedOrigins exact origins (`scheme://host[:port]`, no path); `*` is refused.
   * @throws TypeError for a value that is not an origin.
   */
  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins.map(normalizeOrigin));
  }

  /** True when at least one cross origin is listed. */
  get hasAllowList(): boolean {
    return this.allowed.size > 0;
  }

  check(request: IncomingMessage): OriginDecision {
    const origin = request.headers.origin;
    if (origin === undefined) return { kind: 'same' };
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      return { kind: 'refused', origin };
    }
    const normalized = parsed.origin.toLowerCase();
    if (this.allowed.has(normalized)) return { kind: 'allowed', origin };
    const host = request.headers.host?.toLowerCase();
    if (host !== undefined && parsed.host.toLowerCase() === host && normalized !== 'null')
      return { kind: 'same' };
    return { kind: 'refused', origin };
  }

  /** CORS response headers for an allowed cross-origin request (credentials allowed: the origin is echoed). */
  static corsHeaders(decision: OriginDecision): Record<string, string> {
    if (decision.kind !== 'allowed') return {};
    return {
      'access-control-allow-origin': decision.origin,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    };
  }
}

function normalizeOrigin(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new TypeError(`"${value}" is not an origin.`);
  }
  if (parsed.origin === 'null' || parsed.origin !== value.replace(/\/$/, '').toLowerCase()) {
    throw new TypeError(`"${value}" is not an origin (scheme://host[:port], lower case, no path).`);
  }
  return parsed.origin;
}
