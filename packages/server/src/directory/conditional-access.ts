import { roleTemplateIdsOf, type ConditionalAccessPolicy } from './conditional-access-policy.js';
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
  /**
   * Ids of the report-only policies (`enabledForReportingButNotEnforced`) that would have applied: never
   * enforced, only reported.
   */
  readonly reportOnlyPolicyIds?: readonly string[];
}

/**
 * Evaluates the user's tenant's conditional access policies for a token request: a policy applies when it is
 * `enabled` (report-only policies are only reported, in {@link ConditionalAccessOutcome.reportOnlyPolicyIds}), its
 * user conditions include the user (`All`, the user's id, or a directory role the user holds, by template id) and
 * do not exclude them (excluded ids and roles win over included ones), and its application conditions include the
 * resource (`All` or its appId) and do not exclude it, or name an authentication context the request asks for.
 * `None` includes nobody and nothing. Reads the tenant's policies from the directory cache (no I/O once warm).
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 * @see https://learn.microsoft.com/entra/identity/conditional-access/concept-conditional-access-users-groups
 */
export async function evaluateConditionalAccess(
  cache: DirectoryCache,
  subject: ConditionalAccessSubject,
): Promise<ConditionalAccessOutcome> {
  const policies = await cache.conditionalAccessPolicies(subject.user.tenantId);
  const policyIds: string[] = [];
  const reportOnlyPolicyIds: string[] = [];
  const required = new Set<ConditionalAccessControl>();
  const contexts = new Set<string>();
  if (policies.length === 0)
    return { policyIds, requiredControls: [], authenticationContexts: [], reportOnlyPolicyIds };
  const roles = roleTemplateIdsOf(subject.user.directoryRoles);
  const resourceAppId = subject.resourceAppId.toLowerCase();
  for (const policy of policies) {
    if (policy.state === 'disabled') continue;
    if (!includesUser(policy, subject.user.id.toLowerCase(), roles)) continue;
    const covered = policy.conditions.applications.includeAuthenticationContextClassReferences.filter((acr) =>
      subject.authenticationContexts.includes(acr),
    );
    if (!includesApplication(policy, resourceAppId) && covered.length === 0) continue;
    if (policy.state === 'enabledForReportingButNotEnforced') {
      reportOnlyPolicyIds.push(policy.id);
      continue;
    }
    policyIds.push(policy.id);
    for (const control of policy.grantControls.builtInControls) required.add(control);
    for (const acr of covered) contexts.add(acr);
  }
  return {
    policyIds,
    requiredControls: [...required],
    authenticationContexts: subject.authenticationContexts.filter((acr) => contexts.has(acr)),
    reportOnlyPolicyIds,
  };
}

function includesUser(policy: ConditionalAccessPolicy, userId: string, roles: readonly string[]): boolean {
  const { includeUsers, excludeUsers, includeRoles, excludeRoles } = policy.conditions.users;
  if (excludeUsers.includes(userId) || excludeRoles.some((role) => roles.includes(role))) return false;
  return (
    includeUsers.includes('All') ||
    includeUsers.includes(userId) ||
    includeRoles.some((role) => roles.includes(role))
  );
}

function includesApplication(policy: ConditionalAccessPolicy, appId: string): boolean {
  const { includeApplications, excludeApplications } = policy.conditions.applications;
  if (excludeApplications.includes(appId)) return false;
  return includeApplications.includes('All') || includeApplications.includes(appId);
}

/** Whether an authentication's RFC 8176 `amr` meets the required grant controls (`mfa` ⇐ `amr` has `mfa`). */
export function meetsControls(
  amr: readonly string[],
  requiredControls: readonly ConditionalAccessControl[],
): boolean {
  return requiredControls.every((control) => amr.includes(control));
}
