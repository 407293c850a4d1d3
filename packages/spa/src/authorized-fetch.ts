import { claimsChallengeOf } from './claims-challenge.js';
import { AuthenticationError } from './errors.js';

/** What {@link createAuthorizedFetch} needs from an `Authentication`. */
export interface AccessTokenSource {
  /** A token for `scopes`; `forceRefresh` skips every cache. */
  getAccessToken(request: { scopes: readonly string[]; forceRefresh?: boolean }): Promise<string>;
  /** Headers that go with the token to `url` (e.g. a DPoP proof); default none. */
  authorizationHeaders?(token: string, url: string, method: string): Promise<Record<string, string>>;
  /** Starts an interactive sign-in asking for `claims` (JSON) and `scopes`, coming back to `returnUrl`. */
  signIn(request: { claims: string; scopes: readonly string[]; returnUrl: string }): Promise<void>;
}

/** Options of {@link createAuthorizedFetch}. */
export interface AuthorizedFetchOptions {
  /**
   * The APIs the token is for: absolute URLs, each matched by exact origin and path prefix on a segment boundary
   * (`https://api.example/v1` matches `/v1` and `/v1/orders`, not `/v10` nor `https://api.example.evil`).
   */
  readonly baseUrls: readonly string[];
  /** Scopes of the token to send, e.g. `['api://files/Files.Read']`. */
  readonly scopes: readonly string[];
  /** Where relative request URLs resolve; default `location.href`. */
  readonly baseHref?: string;
  /** The underlying fetch; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Where the request to replay after a claims round trip is kept; default `sessionStorage`. */
  readonly storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** The page to come back to after a claims round trip; default the current path. */
  readonly returnUrl?: () => string;
}

/** A `fetch` that authorizes requests to its base URLs, plus the replay of a request a claims challenge interrupted. */
export interface AuthorizedFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * Replays the request a claims challenge interrupted, once, after the sign-in round trip; undefined when none
   * is pending. Call it when the page loads.
   */
  resumePending(): Promise<Response | undefined>;
}

/** A request kept for replay across the sign-in round trip (text bodies only). */
interface PendingRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: [string, string][];
  readonly body: string | null;
}

const PENDING_KEY = 'tessera.spa.pending-request';

/** Whether `url` falls under `base`: same origin, and the base path is a whole-segment prefix of its path. */
export function isUnderBaseUrl(url: URL, base: URL): boolean {
  if (url.origin !== base.origin) return false;
  const prefix = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  return url.pathname === base.pathname || url.pathname.startsWith(prefix);
}

/**
 * A `fetch` that attaches `Authorization: Bearer <token>` for `scopes` only to requests under `baseUrls`; any
 * other request is passed through untouched. Authorized requests use `redirect: 'manual'`, so a redirect never
 * carries the token anywhere (the caller receives the `opaqueredirect` response). On a 401 it renews the token
 * and retries once; on `WWW-Authenticate: Bearer error="insufficient_claims", claims="…"` it keeps the request
 * (text bodies only), starts an interactive sign-in with the decoded `claims`, and {@link
 * AuthorizedFetch.resumePending} replays it after the round trip.
 *
 * @throws AuthenticationError `interaction_required` when it navigated away for a claims challenge;
 *   `login_required` when no user is signed in (from the token source).
 * @see RFC 6750 §2.1, §3.1; OpenID Connect Core §5.5 (`claims`)
 */
export function createAuthorizedFetch(
  source: AccessTokenSource,
  options: AuthorizedFetchOptions,
): AuthorizedFetch {
  const bases = options.baseUrls.map((base) => {
    const url = new URL(base);
    if (url.protocol !== 'https:' && url.hostname !== 'localhost' && url.hostname !== '127.0.0.1') {
      throw new AuthenticationError('invalid_configuration', `The API base URL ${base} is not https.`);
    }
    return url;
  });
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const storage = () => options.storage ?? sessionStorage;
  const returnUrl = options.returnUrl ?? (() => `${location.pathname}${location.search}${location.hash}`);
  const covered = (url: URL) => bases.some((base) => isUnderBaseUrl(url, base));

  async function send(request: Request, forceRefresh: boolean): Promise<Response> {
    const token = await source.getAccessToken({ scopes: options.scopes, forceRefresh });
    const headers = new Headers(request.headers);
    const extra = (await source.authorizationHeaders?.(token, request.url, request.method)) ?? {
      authorization: `Bearer ${token}`,
    };
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    return baseFetch(new Request(request, { headers, redirect: 'manual' }));
  }

  async function authorized(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(
      input instanceof Request ? input : new URL(input, options.baseHref ?? location.href),
      init,
    );
    if (!covered(new URL(request.url))) return baseFetch(request);
    // Kept before the first send: a body can be read once.
    const text =
      request.body === null
        ? null
        : await request
            .clone()
            .text()
            .catch(() => undefined);
    let response = await send(request.clone(), false);
    if (response.status !== 401) return response;
    const claims = claimsChallengeOf(response.headers.get('www-authenticate'));
    if (claims === undefined) {
      response = await send(request.clone(), true);
      if (response.status !== 401) return response;
      const again = claimsChallengeOf(response.headers.get('www-authenticate'));
      if (again === undefined) return response;
      return challenge(request, text, again);
    }
    return challenge(request, text, claims);
  }

  async function challenge(
    request: Request,
    text: string | null | undefined,
    claims: string,
  ): Promise<never> {
    if (text !== undefined) {
      const pending: PendingRequest = {
        url: request.url,
        method: request.method,
        headers: [...request.headers.entries()].filter(
          ([name]) => name !== 'authorization' && name !== 'dpop',
        ),
        body: text,
      };
      storage().setItem(PENDING_KEY, JSON.stringify(pending));
    }
    await source.signIn({ claims, scopes: options.scopes, returnUrl: returnUrl() });
    throw new AuthenticationError(
      'interaction_required',
      'The API asked for more claims: signing in again; the request is replayed afterwards.',
    );
  }

  const result = authorized as AuthorizedFetch;
  result.resumePending = async () => {
    const kept = storage().getItem(PENDING_KEY);
    if (kept === null) return undefined;
    let pending: PendingRequest;
    try {
      pending = JSON.parse(kept) as PendingRequest;
    } catch {
      storage().removeItem(PENDING_KEY);
      return undefined;
    }
    if (!covered(new URL(pending.url))) return undefined; // another API's fetch replays it
    storage().removeItem(PENDING_KEY); // single use, even if the replay fails
    return authorized(pending.url, {
      method: pending.method,
      headers: pending.headers,
      ...(pending.body === null ? {} : { body: pending.body }),
    });
  };
  return result;
}
