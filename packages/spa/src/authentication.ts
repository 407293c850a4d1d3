import {
  IndexedDbDPoPStore,
  OidcClient,
  User,
  UserManager,
  WebStorageStateStore,
  type RefreshState,
  type UserManagerSettings,
} from 'oidc-client-ts';
import {
  createAuthorizedFetch,
  type AuthorizedFetch,
  type AuthorizedFetchOptions,
} from './authorized-fetch.js';
import {
  AuthenticationError,
  readableDescription,
  toAuthenticationError,
  type SilentRenewFailure,
} from './errors.js';
import { AuthenticationEventEmitter } from './events.js';
import {
  randomValue,
  validateImplicitResponse,
  type ImplicitRequestState,
  type PublicJwk,
} from './implicit.js';
import { sameOriginReturnUrl } from './return-url.js';
import { actionOf, actionPath, DEFAULT_BASE_PATH, type AuthenticationAction } from './routes.js';

/** Scopes every sign-in asks for besides the app's: OpenID Connect, the profile, and a refresh token. */
export const DEFAULT_SCOPES = ['openid', 'profile', 'offline_access'] as const;
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access', 'address', 'phone']);

/**
 * Options of {@link createAuthentication}. Durations are in seconds, as oidc-client-ts names them.
 *
 * @see docs/spa.md (every option, its default and unit)
 */
export interface AuthenticationOptions {
  /** The tenant's issuer: `https://{host}/{tenant}/v2.0` (its discovery document is read from there). */
  readonly authority: string;
  /** The app's `appId` (client id), registered with the `spa` platform. */
  readonly clientId: string;
  /**
   * Scopes of the sign-in, besides `openid profile offline_access` (always asked): usually the main API's, e.g.
   * `['api://files/Files.Read']`. Default none.
   */
  readonly scopes?: readonly string[];
  /** Whether to ask for `offline_access` (a refresh token); default true. False forces hidden-iframe renewal. */
  readonly refreshTokens?: boolean;
  /** Base path of the route actions; default `/authentication`. */
  readonly basePath?: string;
  /** `code` (code + PKCE, default) or `id_token token` (implicit; see docs/spa.md for its limits). */
  readonly responseType?: 'code' | 'id_token token';
  /** Where tokens are kept: `sessionStorage` (default: per tab, gone with it) or `localStorage` (shared by tabs). */
  readonly userStore?: 'sessionStorage' | 'localStorage';
  /** Renew the access token before it expires (refresh token, else hidden iframe); default true. */
  readonly automaticSilentRenew?: boolean;
  /** How long before expiry renewal starts, in seconds; default 60. */
  readonly accessTokenExpiringNotificationTimeSeconds?: number;
  /** How long the hidden iframe may take, in seconds; default 10. */
  readonly silentRequestTimeoutSeconds?: number;
  /** Age after which an abandoned sign-in's stored state is deleted, in seconds; default 900. */
  readonly staleStateAgeSeconds?: number;
  /** Tolerated clock difference when checking ID tokens, in seconds; default 300. */
  readonly clockSkewSeconds?: number;
  /** Extra authorization request parameters (e.g. `{ domain_hint: 'contoso.com' }`); default none. */
  readonly extraQueryParams?: Readonly<Record<string, string>>;
  /**
   * Bind tokens to a key (DPoP, RFC 9449) kept non-extractable in IndexedDB; default false. Needs an identity
   * server that accepts DPoP proofs at its token endpoint and APIs that accept `Authorization: DPoP`.
   */
  readonly dpop?: boolean;
  /** The app's origin; default `location.origin`. */
  readonly origin?: string;
  /** How the library navigates (to the identity server, back to the return URL); default `location.assign`. */
  readonly navigate?: (url: string, replace: boolean) => void;
}

/** What {@link Authentication.handleRoute} did. */
export interface RouteResult {
  readonly action: AuthenticationAction | undefined;
  /**
   * `redirecting`: the page is navigating away (to the identity server or the return URL); `succeeded`: the action
   * completed on this page (`profile`, `logged-out`); `failed`: show `message` (`login-failed`); `none`: not an
   * authentication route, or a callback handled inside the hidden iframe.
   */
  readonly outcome: 'redirecting' | 'succeeded' | 'failed' | 'none';
  /** Readable failure text (`login-failed`). */
  readonly message?: string;
  /** The identity server's trace id of the failure, when it sent one. */
  readonly traceId?: string;
  readonly user?: User | null;
}

/** Options of {@link Authentication.signIn}. */
export interface SignInOptions {
  /** Where to come back to (same-origin only, see {@link sameOriginReturnUrl}); default the current page. */
  readonly returnUrl?: string;
  /** A claims request (JSON text) to send as the `claims` parameter (a claims challenge). */
  readonly claims?: string;
  /** Scopes to ask for instead of the configured ones (besides `openid profile offline_access`). */
  readonly scopes?: readonly string[];
  /** `login`, `consent`, `select_account`, `none`. */
  readonly prompt?: string;
}

/** Options of {@link Authentication.getAccessToken}. */
export interface AccessTokenRequest {
  /** The resource's scopes, e.g. `['api://files/Files.Read']`; default the configured scopes. */
  readonly scopes?: readonly string[];
  /** Skip the cached token and renew. */
  readonly forceRefresh?: boolean;
}

interface RoundTripState {
  readonly returnUrl: string;
}

const EXPIRY_MARGIN_SECONDS = 30;

function coversScopes(granted: string | undefined, requested: readonly string[]): boolean {
  const have = new Set((granted ?? '').split(' '));
  return requested.filter((s) => !OIDC_SCOPES.has(s)).every((s) => have.has(s));
}

/**
 * Authentication for a single-page app over oidc-client-ts's `UserManager`: the route actions of Blazor's
 * `RemoteAuthenticatorView`, tokens per resource, an authorized `fetch`, a SignalR `accessTokenFactory`,
 * events and multi-tab sign-out.
 */
export class Authentication {
  /** The underlying oidc-client-ts manager (for what this class does not wrap). */
  readonly manager: UserManager;
  readonly events = new AuthenticationEventEmitter();
  private readonly options: AuthenticationOptions;
  private readonly basePath: string;
  private readonly origin: string;
  private readonly storage: Storage;
  private readonly client: OidcClient;
  private readonly channel: BroadcastChannel | undefined;
  private readonly resourceTokens = new Map<string, { token: string; expiresAt: number }>();
  private refreshing: Promise<unknown> = Promise.resolve();
  /** Set when another tab signed out: a later `login_required` is the session's end, not blocked cookies. */
  private sessionEnded = false;
  /** Set while a sign-out navigates away: a route guard reacting to the removed user must not start a sign-in. */
  private signingOut = false;

  constructor(options: AuthenticationOptions) {
    if (
      !/^https:\/\//.test(options.authority) &&
      !/^http:\/\/(localhost|127\.0\.0\.1)[:/]/.test(options.authority)
    ) {
      throw new AuthenticationError(
        'invalid_configuration',
        `The authority ${options.authority} is not https.`,
      );
    }
    if (options.clientId === '') throw new AuthenticationError('invalid_configuration', 'clientId is empty.');
    this.options = options;
    this.basePath = options.basePath ?? DEFAULT_BASE_PATH;
    this.origin = options.origin ?? location.origin;
    this.storage = options.userStore === 'localStorage' ? localStorage : sessionStorage;
    const callback = `${this.origin}${actionPath('login-callback', this.basePath)}`;
    const settings: UserManagerSettings = {
      authority: options.authority,
      client_id: options.clientId,
      redirect_uri: callback,
      silent_redirect_uri: callback,
      post_logout_redirect_uri: `${this.origin}${actionPath('logout-callback', this.basePath)}`,
      response_type: 'code',
      scope: this.scopeOf(options.scopes ?? []),
      automaticSilentRenew:
        (options.automaticSilentRenew ?? true) && options.responseType !== 'id_token token',
      accessTokenExpiringNotificationTimeInSeconds: options.accessTokenExpiringNotificationTimeSeconds ?? 60,
      silentRequestTimeoutInSeconds: options.silentRequestTimeoutSeconds ?? 10,
      staleStateAgeInSeconds: options.staleStateAgeSeconds ?? 900,
      userStore: new WebStorageStateStore({ store: this.storage }),
      stateStore: new WebStorageStateStore({ store: sessionStorage }),
      extraQueryParams: { ...options.extraQueryParams },
      ...(options.dpop === true
        ? { dpop: { bind_authorization_code: true, store: new IndexedDbDPoPStore() } }
        : {}),
    };
    this.manager = new UserManager(settings);
    this.client = new OidcClient(this.manager.settings, this.manager.metadataService);
    this.manager.events.addUserLoaded((user) => {
      this.sessionEnded = false;
      this.events.emit('signedIn', user);
    });
    this.manager.events.addUserUnloaded(() => {
      this.resourceTokens.clear();
      this.events.emit('signedOut', undefined);
    });
    this.manager.events.addSilentRenewError((error) => {
      void this.manager.getUser().then((user) => {
        this.events.emit('renewalError', this.renewalError(error, user));
      });
    });
    this.channel =
      typeof BroadcastChannel === 'undefined'
        ? undefined
        : new BroadcastChannel(`tessera.spa:${options.clientId}`);
    this.channel?.addEventListener('message', (event: MessageEvent<unknown>) => {
      if ((event.data as { type?: unknown } | null)?.type !== 'signed-out') return;
      this.sessionEnded = true;
      void this.manager.removeUser(); // raises userUnloaded → signedOut
    });
  }

  private scopeOf(scopes: readonly string[]): string {
    const base =
      this.options.refreshTokens === false
        ? DEFAULT_SCOPES.filter((s) => s !== 'offline_access')
        : DEFAULT_SCOPES;
    return [...new Set([...base, ...scopes])].join(' ');
  }

  private navigate(url: string, replace = false): void {
    if (this.options.navigate !== undefined) this.options.navigate(url, replace);
    else if (replace) location.replace(url);
    else location.assign(url);
  }

  /** The path of a route action, e.g. `/authentication/login`. */
  pathOf(action: AuthenticationAction): string {
    return actionPath(action, this.basePath);
  }

  /** The signed-in user (from storage), or null. */
  getUser(): Promise<User | null> {
    return this.manager.getUser();
  }

  /**
   * Starts an interactive sign-in: deletes stale state of abandoned sign-ins, then navigates to the authorization
   * endpoint. Resolves as the page navigates away.
   */
  async signIn(options: SignInOptions = {}): Promise<void> {
    if (this.signingOut) return;
    await this.clearStaleState();
    const returnUrl = sameOriginReturnUrl(
      options.returnUrl ?? `${location.pathname}${location.search}${location.hash}`,
      this.origin,
    );
    const state: RoundTripState = { returnUrl };
    const scope = this.scopeOf(options.scopes ?? this.options.scopes ?? []);
    const extraQueryParams: Record<string, string> = {
      ...this.options.extraQueryParams,
      ...(options.claims === undefined ? {} : { claims: options.claims }),
    };
    if (this.options.responseType === 'id_token token') {
      await this.signInImplicit(state, scope, extraQueryParams, options.prompt);
      return;
    }
    await this.manager.signinRedirect({
      state,
      scope,
      extraQueryParams,
      ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
      redirectMethod: 'assign',
    });
  }

  private implicitKey(state: string): string {
    return `tessera.spa.implicit.${state}`;
  }

  private async signInImplicit(
    data: RoundTripState,
    scope: string,
    extraQueryParams: Record<string, string>,
    prompt: string | undefined,
  ): Promise<void> {
    const state = randomValue();
    const entry: ImplicitRequestState = {
      nonce: randomValue(),
      createdSeconds: Math.floor(Date.now() / 1000),
      data,
    };
    sessionStorage.setItem(this.implicitKey(state), JSON.stringify(entry));
    const url = new URL(await this.manager.metadataService.getAuthorizationEndpoint());
    const params: Record<string, string> = {
      ...extraQueryParams,
      client_id: this.options.clientId,
      redirect_uri: this.manager.settings.redirect_uri,
      response_type: 'id_token token',
      response_mode: 'fragment',
      scope: scope.replace(/\s*\boffline_access\b/, ''),
      nonce: entry.nonce,
      state,
      ...(prompt === undefined ? {} : { prompt }),
    };
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    this.navigate(url.href);
  }

  /** Takes (single use) the stored implicit request of `state`, or null. */
  private takeImplicitState(state: string | null): ImplicitRequestState | null {
    if (state === null) return null;
    const key = this.implicitKey(state);
    const stored = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    if (stored === null) return null;
    try {
      return JSON.parse(stored) as ImplicitRequestState;
    } catch {
      return null;
    }
  }

  /**
   * Deletes stored state of sign-ins older than `staleStateAgeSeconds` (tabs closed mid-flow), so they never
   * accumulate; a new sign-in never waits for an old one.
   */
  async clearStaleState(): Promise<void> {
    await this.manager.clearStaleState();
    const oldest = Math.floor(Date.now() / 1000) - (this.options.staleStateAgeSeconds ?? 900);
    for (let i = sessionStorage.length - 1; i >= 0; i--) {
      const key = sessionStorage.key(i);
      if (key?.startsWith('tessera.spa.implicit.') !== true) continue;
      try {
        const entry = JSON.parse(sessionStorage.getItem(key) ?? '') as ImplicitRequestState;
        if (entry.createdSeconds < oldest) sessionStorage.removeItem(key);
      } catch {
        sessionStorage.removeItem(key);
      }
    }
  }

  /**
   * Signs out: tells the app's other tabs (they drop their tokens), removes the user here, and navigates to the
   * identity server's end-session endpoint, which ends the SSO session and comes back to `logout-callback`.
   */
  async signOut(options: { returnUrl?: string } = {}): Promise<void> {
    this.channel?.postMessage({ type: 'signed-out' });
    this.resourceTokens.clear();
    const returnUrl = sameOriginReturnUrl(options.returnUrl ?? '/', this.origin);
    this.signingOut = true;
    try {
      await this.manager.signoutRedirect({
        state: { returnUrl } satisfies RoundTripState,
        redirectMethod: 'assign',
      });
    } catch (cause) {
      this.signingOut = false;
      throw toAuthenticationError(cause, 'authorization_error');
    }
  }

  /**
   * Performs the route action `location` names (see {@link AUTHENTICATION_ACTIONS}); call it when the app loads
   * on a path under the base path.
   *
   * - `login?returnUrl=/x`: starts the sign-in; `login-callback`: completes it (code + PKCE or implicit), then
   *   replaces the page with the return URL, or with `login-failed?message=…&traceId=…` on any failure;
   * - `logout?returnUrl=/x`, `logout-callback` → `logged-out`; `profile`: the user.
   */
  async handleRoute(where: { href: string } = location): Promise<RouteResult> {
    const url = new URL(where.href);
    const action = actionOf(url.pathname, this.basePath);
    switch (action) {
      case undefined:
        return { action, outcome: 'none' };
      case 'login':
        await this.signIn({ returnUrl: url.searchParams.get('returnUrl') ?? '/' });
        return { action, outcome: 'redirecting' };
      case 'login-callback':
        return this.completeSignIn(url);
      case 'login-failed': {
        const traceId = url.searchParams.get('traceId') ?? undefined;
        return {
          action,
          outcome: 'failed',
          message: url.searchParams.get('message') ?? 'Sign-in failed.',
          ...(traceId === undefined ? {} : { traceId }),
        };
      }
      case 'logout':
        await this.signOut({ returnUrl: url.searchParams.get('returnUrl') ?? '/' });
        return { action, outcome: 'redirecting' };
      case 'logout-callback':
        try {
          await this.manager.signoutCallback(url.href);
        } catch {
          // a replayed or foreign sign-out response: the user is signed out here either way
        }
        await this.manager.removeUser();
        this.navigate(`${this.origin}${this.pathOf('logged-out')}`, true);
        return { action, outcome: 'redirecting' };
      case 'logged-out':
        return { action, outcome: 'succeeded', user: null };
      case 'profile':
        return { action, outcome: 'succeeded', user: await this.manager.getUser() };
    }
  }

  private fail(error: AuthenticationError): RouteResult {
    const target = new URL(`${this.origin}${this.pathOf('login-failed')}`);
    target.searchParams.set('message', error.message);
    if (error.traceId !== undefined) target.searchParams.set('traceId', error.traceId);
    this.navigate(target.href, true);
    return {
      action: 'login-callback',
      outcome: 'failed',
      message: error.message,
      ...(error.traceId === undefined ? {} : { traceId: error.traceId }),
    };
  }

  private async completeSignIn(url: URL): Promise<RouteResult> {
    const inFrame = typeof window !== 'undefined' && window.parent !== window;
    const fragment = new URLSearchParams(url.hash.slice(1));
    try {
      if (fragment.has('state') && this.options.responseType === 'id_token token') {
        history.replaceState(null, '', url.pathname); // tokens leave the address bar at once
        return await this.completeImplicit(fragment);
      }
      await this.checkResponseIssuer(url.searchParams);
      if (inFrame) {
        await this.manager.signinCallback(url.href);
        return { action: 'login-callback', outcome: 'none' };
      }
      const user = await this.manager.signinCallback(url.href);
      const state = (user?.state ?? {}) as Partial<RoundTripState>;
      this.navigate(`${this.origin}${sameOriginReturnUrl(state.returnUrl, this.origin)}`, true);
      return { action: 'login-callback', outcome: 'redirecting', user: user ?? null };
    } catch (cause) {
      if (inFrame) throw cause;
      return this.fail(toAuthenticationError(cause));
    }
  }

  /**
   * RFC 9207: the `iss` of an authorization response must be the configured issuer (a mix-up defence); when the
   * server advertises `authorization_response_iss_parameter_supported` it must be present.
   */
  private async checkResponseIssuer(params: URLSearchParams): Promise<void> {
    const issuer = await this.manager.metadataService.getIssuer();
    const iss = params.get('iss');
    if (iss === null) {
      const metadata = (await this.manager.metadataService.getMetadata()) as {
        authorization_response_iss_parameter_supported?: boolean;
      };
      if (metadata.authorization_response_iss_parameter_supported === true && params.has('state')) {
        throw new AuthenticationError(
          'issuer_mismatch',
          'The sign-in response does not name its issuer (iss).',
        );
      }
      return;
    }
    if (iss !== issuer) {
      throw new AuthenticationError(
        'issuer_mismatch',
        `The sign-in response comes from another issuer (${iss}).`,
      );
    }
  }

  private async completeImplicit(fragment: URLSearchParams): Promise<RouteResult> {
    const stored = this.takeImplicitState(fragment.get('state'));
    const keys = ((await this.manager.metadataService.getSigningKeys()) ?? []) as PublicJwk[];
    const tokens = await validateImplicitResponse({
      fragment,
      stored,
      issuer: await this.manager.metadataService.getIssuer(),
      clientId: this.options.clientId,
      keys,
      nowSeconds: Math.floor(Date.now() / 1000),
      clockSkewSeconds: this.options.clockSkewSeconds ?? 300,
    });
    const user = new User({
      id_token: tokens.idToken,
      access_token: tokens.accessToken,
      token_type: tokens.tokenType,
      ...(tokens.scope === undefined ? {} : { scope: tokens.scope }),
      profile: tokens.profile as User['profile'],
      expires_at: tokens.expiresAt,
      session_state: fragment.get('session_state'),
    });
    await this.manager.storeUser(user);
    this.events.emit('signedIn', user);
    const returnUrl = sameOriginReturnUrl(
      (stored?.data as Partial<RoundTripState> | undefined)?.returnUrl,
      this.origin,
    );
    this.navigate(`${this.origin}${returnUrl}`, true);
    return { action: 'login-callback', outcome: 'redirecting', user };
  }

  private renewalError(cause: unknown, user: User | null): AuthenticationError {
    const error = toAuthenticationError(cause, 'silent_renew_failed');
    const fields = { error: error.error, errorDescription: error.errorDescription, cause };
    let reason: SilentRenewFailure | undefined;
    let message = error.message;
    if (user?.refresh_token) {
      if (error.error === 'invalid_grant') {
        reason = 'refresh_token_refused';
        message = `The refresh token was refused: ${readableDescription(error.errorDescription) ?? error.message}`;
      }
    } else if (error.error === 'login_required' || error.error === 'interaction_required') {
      if (this.sessionEnded || user === null) {
        reason = 'session_ended';
        message = 'The session ended: sign in again.';
      } else {
        reason = 'third_party_cookies_blocked';
        message =
          'Silent renewal in a hidden iframe cannot work: the identity server saw no session in the iframe although ' +
          'this app is signed in, so the browser withholds its cookies from third-party frames (the default of ' +
          'Chromium, Safari and Firefox). Ask for offline_access so renewal uses refresh tokens, or sign in again.';
      }
    }
    return new AuthenticationError('silent_renew_failed', message, { ...fields, reason });
  }

  /**
   * Renews the user's tokens now: with the refresh token when there is one, else in a hidden `prompt=none` iframe.
   *
   * @throws AuthenticationError `silent_renew_failed` with `reason` (`third_party_cookies_blocked`,
   *   `session_ended`, `refresh_token_refused`) — also raised as a `renewalError` event.
   */
  async renew(): Promise<User> {
    const run = this.refreshing.then(async () => {
      const before = await this.manager.getUser();
      try {
        const user = await this.manager.signinSilent();
        if (user === null) throw new AuthenticationError('login_required', 'No user is signed in.');
        return user;
      } catch (cause) {
        const error = this.renewalError(cause, before);
        this.events.emit('renewalError', error);
        throw error;
      }
    });
    this.refreshing = run.catch(() => undefined);
    return run;
  }

  /**
   * An access token for `scopes` (default the configured ones): the user's own when its scope covers them and it
   * is valid for 30 more seconds; else one from a refresh-token request with that `scope`, cached per resource in
   * memory (the rotated refresh token is stored back on the user).
   *
   * @throws AuthenticationError `login_required` (nobody signed in), `refresh_token_unavailable` (another
   *   resource without a refresh token), `silent_renew_failed`, `token_error`.
   * @see RFC 6749 §6 (refreshing with a narrower or other scope), Microsoft identity platform multi-resource
   *   refresh tokens
   */
  async getAccessToken(request: AccessTokenRequest = {}): Promise<string> {
    const scopes = request.scopes ?? this.options.scopes ?? [];
    const now = Math.floor(Date.now() / 1000);
    let user = await this.manager.getUser();
    if (user === null) throw new AuthenticationError('login_required', 'No user is signed in.');
    if (coversScopes(user.scope, scopes)) {
      if (request.forceRefresh === true || (user.expires_at ?? 0) - EXPIRY_MARGIN_SECONDS <= now) {
        user = await this.renew();
      }
      return user.access_token;
    }
    const key = [...scopes].sort().join(' ');
    const cached = this.resourceTokens.get(key);
    if (
      cached !== undefined &&
      request.forceRefresh !== true &&
      cached.expiresAt - EXPIRY_MARGIN_SECONDS > now
    ) {
      return cached.token;
    }
    const run = this.refreshing.then(() => this.refreshFor(scopes, key));
    this.refreshing = run.catch(() => undefined);
    return run;
  }

  private async refreshFor(scopes: readonly string[], key: string): Promise<string> {
    const user = await this.manager.getUser();
    if (user === null) throw new AuthenticationError('login_required', 'No user is signed in.');
    if (!user.refresh_token) {
      throw new AuthenticationError(
        'refresh_token_unavailable',
        'A token for another resource needs a refresh token: ask for offline_access.',
      );
    }
    // oidc-client-ts declares `RefreshState` but does not export the class at run time: an object of its shape is
    // what `useRefreshToken` reads.
    /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
    const state: RefreshState = {
      refresh_token: user.refresh_token,
      ...(user.id_token === undefined ? {} : { id_token: user.id_token }),
      session_state: user.session_state,
      scope: this.scopeOf(scopes),
      profile: user.profile,
    };
    /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */
    let response;
    try {
      response = await this.client.useRefreshToken({ state });
    } catch (cause) {
      throw toAuthenticationError(cause, 'token_error');
    }
    if (response.refresh_token) {
      user.refresh_token = response.refresh_token; // rotated: the old one is spent
      await this.manager.storeUser(user);
    }
    const expiresAt = response.expires_at ?? Math.floor(Date.now() / 1000) + 300;
    this.resourceTokens.set(key, { token: response.access_token, expiresAt });
    return response.access_token;
  }

  /** Headers authorizing a request to `url`: `Authorization: Bearer …`, or `DPoP …` plus its proof. */
  async authorizationHeaders(token: string, url: string, method: string): Promise<Record<string, string>> {
    if (this.options.dpop !== true) return { authorization: `Bearer ${token}` };
    const user = await this.manager.getUser();
    // The proof's `ath` is the hash of the token it goes with, which may be another resource's than the user's.
    const proof =
      user === null
        ? undefined
        : await this.manager.dpopProof(
            url,
            new User({ access_token: token, token_type: 'DPoP', profile: user.profile }),
            method,
          );
    return proof === undefined
      ? { authorization: `Bearer ${token}` }
      : { authorization: `DPoP ${token}`, dpop: proof };
  }

  /** A `fetch` that authorizes requests to `baseUrls` with a token for `scopes` (see {@link createAuthorizedFetch}). */
  createAuthorizedFetch(
    options: Omit<AuthorizedFetchOptions, 'scopes'> & { scopes?: readonly string[] },
  ): AuthorizedFetch {
    return createAuthorizedFetch(
      {
        getAccessToken: (request) => this.getAccessToken(request),
        authorizationHeaders: (token, url, method) => this.authorizationHeaders(token, url, method),
        signIn: (request) => this.signIn(request),
      },
      { ...options, scopes: options.scopes ?? this.options.scopes ?? [] },
    );
  }

  /**
   * The `accessTokenFactory` of a `@microsoft/signalr` `HubConnectionBuilder().withUrl(url, { accessTokenFactory })`:
   * a token for `scopes` (default the configured ones), renewed as needed.
   */
  accessTokenFactory(scopes?: readonly string[]): () => Promise<string> {
    return () => this.getAccessToken(scopes === undefined ? {} : { scopes });
  }

  /** Stops timers and the multi-tab channel. */
  dispose(): void {
    this.manager.stopSilentRenew();
    this.channel?.close();
  }
}

/** Creates an {@link Authentication} (see {@link AuthenticationOptions}). */
export function createAuthentication(options: AuthenticationOptions): Authentication {
  return new Authentication(options);
}
