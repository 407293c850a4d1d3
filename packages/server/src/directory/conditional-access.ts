import type { DirectoryCache } from './directory-cache.js';
import type { User } from './model.js';

/** A grant control of a conditional access policy Tessera enforces (Graph `conditionalAccessGrantControls`). */
export type ConditionalAccessControl = 'mfa';

/** Who asks for a token for what: the input of {@link evaluateConditionalAccess}. */
export interface ConditionalAccessSubject {
  readonly user: User;
  /** `appId` of the resource the token is for. */
  readonly resourceAppId: string;
  /**
   * Authentication context class references (`acrs` values, e.g. `c1`) the request asks for: the `claims`
   * parameter's `access_token.acrs` at `/authorize`; empty elsewhere.
   */
  readonly authenticationContexts: readonly string[];
}

/** The policies that apply to a {@link ConditionalAccessSubject} and what they require. */
export interface ConditionalAccessOutcome {
  /** Ids of the enabled policies that apply (the `polids` of a claims challenge). */
  readonly policyIds: readonly string[];
  /** Grant controls the applying policies require; empty: nothing beyond the sign-in. */
  readonly requiredControls: readonly ConditionalAccessControl[];
  /** The requested authentication contexts that some applying policy covers (a satisfied token's `acrs`). */
  readonly authenticationContexts: readonly string[];
}

/**
 * Evaluates the user's tenant's conditional access policies for a token request: a policy applies when it is
 * `enabled` (report-only policies are only recorded), its user conditions include the user (ids, directory roles,
 * `All`) and do not exclude them, and its application conditions include the resource (`All` or its appId) or an
 * authentication context the request asks for.
 *
 * Not yet evaluating: no policy store is wired in (issue 11 item 4); every request is unconditioned.
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 */
export async function evaluateConditionalAccess(
  _cache: DirectoryCache,
  _subject: ConditionalAccessSubject,
): Promise<ConditionalAccessOutcome> {
  return Promise.resolve({ policyIds: [], requiredControls: [], authenticationContexts: [] });
}

/** Whether an authentication's RFC 8176 `amr` meets the required grant controls (`mfa` ⇐ `amr` has `mfa`). */
export function meetsControls(
  amr: readonly string[],
  requiredControls: readonly ConditionalAccessControl[],
): boolean {
  return requiredControls.every((control) => amr.includes(control));
}
