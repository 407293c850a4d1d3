import type { IncomingMessage } from 'node:http';
import type { AccessTokenClaims } from '@tessera/resource';
import { BearerTokenError } from '@tessera/resource';
import type { ConnectionUser } from '../connection/http-connection.js';
import type { ResolvedHub } from '../hub/definition.js';
import type { HubLogger } from '../logging.js';
import {
  authenticateRequest,
  bindingKeyOf,
  defaultUserIdentifier,
  type HubAuthenticationOptions,
  type RequestIdentity,
} from '../security/authentication.js';
import type { OriginDecision } from '../security/origin.js';
import { satisfiesPolicy } from '../security/policy.js';
import { challenge, refuse, type AnswerTarget, type ResponseHeaders } from './responses.js';

/** The caller of a request on an existing connection: claims, or `undefined` when anonymous. */
export interface ConnectionRequestCaller {
  readonly claims: AccessTokenClaims | undefined;
}

/**
 * Who may open a connection and who may use one: authentication, the hub's exact `exp` rule, anonymous access,
 * the cookie CSRF rule and the hub policy. Each method answers the refusal itself and then returns `undefined`.
 *
 * @see docs/hub.md "Security", docs/hub-protocol.md "HTTP refusals"
 */
export class RequestAdmission {
  constructor(
    private readonly hub: ResolvedHub,
    private readonly authentication: HubAuthenticationOptions | undefined,
    private readonly logger: HubLogger,
  ) {}

  /**
   * Authenticates a request that opens a connection (negotiate, or a WebSocket upgrade with `skipNegotiation`)
   * and turns it into the connection's user, or answers the refusal: `authenticationFailed` for a bad or expired
   * token or an anonymous caller of a protected hub, `cookieOriginNotAllowed` for a cookie session from a foreign
   * page, `policyNotSatisfied` for the hub policy.
   *
   * @param allowQueryToken read `access_token` from the query (WebSocket upgrades only)
   */
  async admit(
    request: IncomingMessage,
    query: URLSearchParams,
    allowQueryToken: boolean,
    origin: OriginDecision,
    target: AnswerTarget,
    headers: ResponseHeaders,
  ): Promise<ConnectionUser | undefined> {
    const identity = await this.authenticate(request, query, allowQueryToken, target, headers);
    if (identity === undefined) return undefined;
    if (identity.kind === 'anonymous') {
      if (!this.hub.anonymousConnect) {
        this.challenge(target, new BearerTokenError('token_missing'), headers);
        return undefined;
      }
      return { claims: undefined, bindingKey: undefined, expiresAtMs: undefined };
    }
    const { claims } = identity;
    if (
      identity.via === 'cookie' &&
      origin.kind !== 'allowed' &&
      !(origin.kind === 'same' && request.headers.origin !== undefined)
    ) {
      this.logger.info('hub request refused: cookie authentication without an allowed origin');
      refuse(target, 'cookieOriginNotAllowed', headers);
      return undefined;
    }
    const userIdentifier = (this.authentication?.userIdentifier ?? defaultUserIdentifier)(claims);
    if (!(await satisfiesPolicy(this.hub.definition.policy, { connectionId: '', claims, userIdentifier }))) {
      refuse(target, 'policyNotSatisfied', headers);
      return undefined;
    }
    return { claims, bindingKey: bindingKeyOf(claims), expiresAtMs: claims.exp * 1000 };
  }

  /**
   * Authenticates a request on an existing connection (upgrade, Server-Sent Events, poll, POST, DELETE), or
   * answers `authenticationFailed`. Whether the caller is the connection's user is the dispatcher's check.
   *
   * @param allowQueryToken read `access_token` from the query (WebSocket upgrades and Server-Sent Events only)
   */
  async authenticateConnectionRequest(
    request: IncomingMessage,
    query: URLSearchParams,
    allowQueryToken: boolean,
    target: AnswerTarget,
    headers: ResponseHeaders,
  ): Promise<ConnectionRequestCaller | undefined> {
    const identity = await this.authenticate(request, query, allowQueryToken, target, headers);
    if (identity === undefined) return undefined;
    return { claims: identity.kind === 'user' ? identity.claims : undefined };
  }

  private async authenticate(
    request: IncomingMessage,
    query: URLSearchParams,
    allowQueryToken: boolean,
    target: AnswerTarget,
    headers: ResponseHeaders,
  ): Promise<Exclude<RequestIdentity, { kind: 'refused' }> | undefined> {
    const identity = await authenticateRequest(request, query, allowQueryToken, this.authentication);
    if (identity.kind === 'refused') {
      this.challenge(target, identity.error, headers);
      return undefined;
    }
    const expired = expiredToken(identity);
    if (expired !== undefined) {
      this.challenge(target, expired, headers);
      return undefined;
    }
    return identity;
  }

  private challenge(target: AnswerTarget, error: BearerTokenError, headers: ResponseHeaders): void {
    this.logger.info('hub request refused: authentication', { code: error.code });
    challenge(target, error, headers);
  }
}

/**
 * A refusal for an identity whose token is at or past `exp` by the hub's rule (exactly, the rule that closes
 * connections): a validator's clock skew must not admit a token the hub would drop at once.
 */
function expiredToken(identity: RequestIdentity): BearerTokenError | undefined {
  if (identity.kind !== 'user' || identity.claims.exp * 1000 > Date.now()) return undefined;
  return new BearerTokenError('token_expired', { detail: 'at or past exp (the hub allows no skew)' });
}
