import type { ServerContext } from '../context.js';
import type { Application, User } from '../directory/model.js';
import type { AuthenticationEvent } from '../sessions/authentication-event.js';

/** What {@link checkConditionalAccess} looks at: who gets a token for which resource, authenticated how. */
export interface ConditionalAccessRequest {
  readonly client: Application;
  readonly resource: Application;
  readonly user: User;
  readonly authentication: AuthenticationEvent;
}

/**
 * Enforces the tenant's conditional access policies on a token issued without an interactive page (refresh,
 * On-Behalf-Of, token exchange, code redemption): when an enabled policy applies to the user and the resource and
 * its grant controls (`mfa`) are not met by the authentication event's `amr`, the grant is refused with
 * `interaction_required` and a claims challenge the client passes to `/authorize` as `claims=`.
 *
 * Not yet enforcing: no policy engine is wired in (issue 11 item 4).
 */
export async function checkConditionalAccess(
  _context: ServerContext,
  _request: ConditionalAccessRequest,
): Promise<void> {
  await Promise.resolve();
}
