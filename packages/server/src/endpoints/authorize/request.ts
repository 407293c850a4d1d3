import type { ResponseMode, ResponseType } from '@tessera/protocol';
import type { ConsentNeed } from '../../directory/consent.js';
import type { AccessTokenClaimsRequest } from './check-claims.js';
import type { Application, AuthorizedGrant, User } from '../../directory/model.js';
import type { RedirectPlatform } from '../../sessions/authentication-event.js';
import type { SsoSession } from '../../sessions/sso-session.js';
import type { ResolvedTenantSegment } from '../../directory/tenant-segment.js';

/** `prompt` values (OIDC Core §3.1.2.1). */
export type Prompt = 'none' | 'login' | 'consent' | 'select_account';

/** Where and how a response (or an error) goes back to the client, once client and redirect URI are proven. */
export interface ResponseTarget {
  readonly redirectUri: string;
  readonly platform: RedirectPlatform;
  readonly responseMode: ResponseMode;
  readonly state: string | undefined;
  /**
   * `iss` of every response (RFC 9207); undefined on `common` / `organizations` / `consumers`, whose issuer is a
   * `{tenantid}` template no client can match, so no `iss` is sent there (as Entra sends none).
   */
  readonly issuer: string | undefined;
}

export type { ConsentNeed };

/**
 * The authorization request as the named steps fill it in (node-oidc-provider style): each step reads what
 * earlier ones established and adds its part, or throws an IdentityError.
 */
export interface AuthorizationContext {
  readonly params: Readonly<Record<string, string>>;
  readonly tenantSegment: ResolvedTenantSegment;
  client?: Application;
  target?: ResponseTarget;
  responseType?: ResponseType;
  codeChallenge?: string;
  prompts: Set<Prompt>;
  maxAgeSeconds?: number;
  /**
   * Set by the interaction after a sign-in or an account the picker offered: that session is used, the picker is
   * not shown again.
   */
  interactionSessionId?: string;
  /**
   * True when {@link interactionSessionId} was signed in during this interaction (fresh authentication): only then
   * are `prompt=login` and `max_age` satisfied.
   */
  interactionSessionFresh?: boolean;
  /** True on the request that carries the user's consent decision. */
  consentGiven?: boolean;
  session?: SsoSession;
  user?: User;
  grant?: AuthorizedGrant;
  consentNeeds?: readonly ConsentNeed[];
  /** The `claims` parameter's access token requests (`polids`, `acrs`), once `checkClaims` parsed it. */
  claimsRequest?: AccessTokenClaimsRequest;
  /**
   * Authentication context ids the session's authentication satisfies for this request (the tokens' `acrs`), set
   * by `checkConditionalAccess`.
   */
  acrs?: readonly string[];
}

/** What the pipeline decided: a response to the client, or a page the user must see first. */
export type AuthorizationOutcome =
  | {
      readonly kind: 'respond';
      readonly fields: Readonly<Record<string, string>>;
      readonly target: ResponseTarget;
    }
  | { readonly kind: 'sign-in' }
  | { readonly kind: 'select-account'; readonly sessions: readonly SsoSession[] }
  | { readonly kind: 'consent' }
  /** A second factor is required: its page (`registered`: enter a code; else set up an authenticator first). */
  | { readonly kind: 'mfa'; readonly registered: boolean };
