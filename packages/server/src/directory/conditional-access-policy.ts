import { DIRECTORY_ROLES, type DirectoryRoleName } from './model.js';

/**
 * Conditional access policies as the directory keeps them (Graph `conditionalAccessPolicy`), the role template ids
 * Graph names directory roles by in `includeRoles` / `excludeRoles`, and the checks every write of a policy passes
 * (the management API, the CLI and seeds alike).
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 */

/** Graph `conditionalAccessPolicyState`: report-only policies are evaluated and recorded, never enforced. */
export const CONDITIONAL_ACCESS_POLICY_STATES = [
  'enabled',
  'disabled',
  'enabledForReportingButNotEnforced',
] as const;

/** One of {@link CONDITIONAL_ACCESS_POLICY_STATES}. */
export type ConditionalAccessPolicyState = (typeof CONDITIONAL_ACCESS_POLICY_STATES)[number];

/** Graph `conditionalAccessUsers`: ids of users (`All`, `None`) and role template ids. */
export interface ConditionalAccessUsers {
  readonly includeUsers: readonly string[];
  readonly excludeUsers: readonly string[];
  /** Directory role template ids (Graph `unifiedRoleDefinition.templateId`). */
  readonly includeRoles: readonly string[];
  readonly excludeRoles: readonly string[];
}

/** Graph `conditionalAccessApplications`: resource `appId`s (`All`, `None`) and authentication contexts. */
export interface ConditionalAccessApplications {
  readonly includeApplications: readonly string[];
  readonly excludeApplications: readonly string[];
  /** Authentication context ids, `c1` … `c99` (the `acrs` values a claims challenge asks for). */
  readonly includeAuthenticationContextClassReferences: readonly string[];
}

/** Graph `conditionalAccessConditionSet`, the parts Tessera evaluates. */
export interface ConditionalAccessConditions {
  readonly users: ConditionalAccessUsers;
  readonly applications: ConditionalAccessApplications;
  /** Graph `conditionalAccessClientApp` values; Tessera evaluates `all` only. */
  readonly clientAppTypes: readonly string[];
}

/** Graph `conditionalAccessGrantControls`: with `mfa` the only built-in control, `OR` and `AND` agree. */
export interface ConditionalAccessGrantControls {
  readonly operator: 'OR' | 'AND';
  readonly builtInControls: readonly 'mfa'[];
}

/** A conditional access policy of a tenant. */
export interface ConditionalAccessPolicy {
  readonly id: string;
  readonly tenantId: string;
  readonly displayName: string;
  readonly state: ConditionalAccessPolicyState;
  readonly conditions: ConditionalAccessConditions;
  readonly grantControls: ConditionalAccessGrantControls;
  /** Unix seconds (Graph `createdDateTime`). */
  readonly createdAt: number;
  /** Unix seconds of the last change (Graph `modifiedDateTime`); null until changed. */
  readonly modifiedAt: number | null;
}

/** What a policy is made of: everything but its id, tenant and times. */
export type ConditionalAccessPolicyDefinition = Pick<
  ConditionalAccessPolicy,
  'displayName' | 'state' | 'conditions' | 'grantControls'
>;

/**
 * Template ids of the directory roles Tessera knows, by display name (Graph `unifiedRoleDefinition.templateId`,
 * which conditional access policies name roles by).
 *
 * @see https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
 */
export const DIRECTORY_ROLE_TEMPLATE_IDS: Readonly<Record<DirectoryRoleName, string>> = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Global Reader': 'f2ef992c-3afb-46b9-b7cf-a126ee74c451',
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Reports Reader': '4a5d8f65-41da-4de4-8968-e035b65339cf',
  'Security Reader': '5d6b6bb7-de71-4623-b4af-96380a352509',
  'Security Administrator': '194ae4cb-b126-40b2-bd5b-6091b380977d',
  'Conditional Access Administrator': 'b1be1c3e-b65d-4f19-8427-f6fa0d97feb9',
  'Authentication Administrator': 'c4e39bd9-1100-46d3-8c65-fb160da0071f',
  'Privileged Authentication Administrator': '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
};

/**
 * The template id of a role named by template id or display name (case-insensitive); undefined for a role Tessera
 * does not know.
 */
export function roleTemplateId(role: string): string | undefined {
  const wanted = role.trim().toLowerCase();
  for (const name of DIRECTORY_ROLES) {
    const id = DIRECTORY_ROLE_TEMPLATE_IDS[name];
    if (id === wanted || name.toLowerCase() === wanted) return id;
  }
  return undefined;
}

/** The template ids of the roles a user holds (`User.directoryRoles`, display names). */
export function roleTemplateIdsOf(directoryRoles: readonly string[]): string[] {
  return directoryRoles.map((name) => roleTemplateId(name)).filter((id): id is string => id !== undefined);
}

/** Authentication context ids Graph allows: `c1` … `c99`. */
export const AUTHENTICATION_CONTEXT_PATTERN = /^c([1-9]|[1-9][0-9])$/;

/** The conditions of a policy that applies to nobody and nothing until it is given some. */
export const EMPTY_CONDITIONS: ConditionalAccessConditions = {
  users: { includeUsers: [], excludeUsers: [], includeRoles: [], excludeRoles: [] },
  applications: {
    includeApplications: [],
    excludeApplications: [],
    includeAuthenticationContextClassReferences: [],
  },
  clientAppTypes: ['all'],
};
