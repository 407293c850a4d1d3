import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
import { ConditionalAccessPolicyRepository } from '../../store/repositories/conditional-access-policies.js';
import {
  AUTHENTICATION_CONTEXT_PATTERN,
  CONDITIONAL_ACCESS_POLICY_STATES,
  EMPTY_CONDITIONS,
  roleTemplateId,
  type ConditionalAccessApplications,
  type ConditionalAccessConditions,
  type ConditionalAccessGrantControls,
  type ConditionalAccessPolicy,
  type ConditionalAccessPolicyState,
  type ConditionalAccessUsers,
} from '../conditional-access-policy.js';
import { DirectoryError } from '../errors.js';
import { GUID_PATTERN } from '../identifiers.js';
import type { TenantService } from './tenants.js';

/** Most policies one tenant may have (Entra's limit of conditional access policies per tenant). */
export const MAX_POLICIES_PER_TENANT = 195;

/** Longest `displayName` of a policy, in characters. */
const MAX_DISPLAY_NAME_LENGTH = 256;

/** Most values in one condition list (users, roles, applications, authentication contexts). */
const MAX_VALUES_PER_CONDITION = 500;

/** A list of a condition as a caller gives it: each value a string. */
type Values = readonly string[];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * What a caller sets of a policy: on create `displayName`, `state` and `grantControls` are required; on update
 * only what is given changes (each of `conditions.users`, `conditions.applications` and their lists replaced
 * whole when given).
 */
export interface ConditionalAccessPolicyChange {
  readonly displayName?: string;
  /** `enabled`, `disabled` or `enabledForReportingButNotEnforced` (report-only). */
  readonly state?: string;
  readonly conditions?: {
    readonly users?: {
      readonly includeUsers?: Values;
      readonly excludeUsers?: Values;
      /** Role template ids, or the roles' display names (stored as template ids). */
      readonly includeRoles?: Values;
      readonly excludeRoles?: Values;
    };
    readonly applications?: {
      readonly includeApplications?: Values;
      readonly excludeApplications?: Values;
      readonly includeAuthenticationContextClassReferences?: Values;
    };
    readonly clientAppTypes?: Values;
  };
  readonly grantControls?: { readonly operator?: string; readonly builtInControls?: Values };
}

/**
 * Conditional access policies of a tenant (Graph `conditionalAccessPolicy`): which users (ids, directory roles,
 * `All`) need which grant controls (`mfa`) for which resources (`appId`s, `All`) or authentication contexts
 * (`c1` … `c99`). A write is one directory write: every node's cache reloads the tenant's policies
 * (`directory-cache.ts`), so the token endpoint enforces a change at once.
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 */
export class ConditionalAccessPolicyService {
  private readonly policies: ConditionalAccessPolicyRepository;

  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly tenants: TenantService,
  ) {
    this.policies = new ConditionalAccessPolicyRepository(store.db);
  }

  /**
   * Creates a policy in a tenant.
   *
   * @throws DirectoryError `not_found` (tenant), `invalid` (a missing `displayName`, `state` or `grantControls`,
   *   a bad value: see {@link ConditionalAccessPolicyChange}; a tenant that has {@link MAX_POLICIES_PER_TENANT}
   *   policies already).
   * @see https://learn.microsoft.com/graph/api/conditionalaccessroot-post-policies
   */
  async create(tenant: string, input: ConditionalAccessPolicyChange): Promise<ConditionalAccessPolicy> {
    const home = await this.tenants.require(tenant);
    for (const name of ['displayName', 'state', 'grantControls'] as const) {
      if (input[name] === undefined) {
        throw new DirectoryError('invalid', `A conditional access policy needs '${name}'.`);
      }
    }
    const policy = checkedPolicy(
      {
        id: randomUUID(),
        tenantId: home.id,
        displayName: '',
        state: 'disabled',
        conditions: EMPTY_CONDITIONS,
        grantControls: { operator: 'OR', builtInControls: [] },
        createdAt: this.nowSeconds(),
        modifiedAt: null,
      },
      input,
    );
    if ((await this.policies.countByTenant(home.id)) >= MAX_POLICIES_PER_TENANT) {
      throw new DirectoryError(
        'invalid',
        `A tenant can have at most ${MAX_POLICIES_PER_TENANT} conditional access policies.`,
      );
    }
    await this.store.write((trx) => this.policies.insert(trx, policy));
    return policy;
  }

  /**
   * A policy of a tenant.
   *
   * @throws DirectoryError `not_found` (tenant, or no such policy in it).
   */
  async get(tenant: string, id: string): Promise<ConditionalAccessPolicy> {
    const home = await this.tenants.require(tenant);
    const policy = GUID_PATTERN.test(id.toLowerCase()) ? await this.policies.findById(id) : undefined;
    if (policy?.tenantId !== home.id) {
      throw new DirectoryError(
        'not_found',
        `Conditional access policy '${id.slice(0, 100)}' not found in tenant '${home.id}'.`,
      );
    }
    return policy;
  }

  /**
   * Every policy of a tenant (at most {@link MAX_POLICIES_PER_TENANT}), by id.
   *
   * @throws DirectoryError `not_found` (tenant).
   */
  async list(tenant: string): Promise<readonly ConditionalAccessPolicy[]> {
    const home = await this.tenants.require(tenant);
    return this.policies.listByTenant(home.id);
  }

  /**
   * Changes a policy: what `change` gives replaces what it names.
   *
   * @returns the policy as stored after the change.
   * @throws DirectoryError `not_found` (tenant, policy), `invalid` (a bad value).
   * @see https://learn.microsoft.com/graph/api/conditionalaccesspolicy-update
   */
  async update(
    tenant: string,
    id: string,
    change: ConditionalAccessPolicyChange,
  ): Promise<ConditionalAccessPolicy> {
    const current = await this.get(tenant, id);
    const policy = checkedPolicy({ ...current, modifiedAt: this.nowSeconds() }, change);
    const updated = await this.store.write((trx) => this.policies.update(trx, policy));
    if (!updated) throw new DirectoryError('not_found', `Conditional access policy '${id}' not found.`);
    return policy;
  }

  /**
   * Deletes a policy.
   *
   * @throws DirectoryError `not_found` (tenant, policy).
   * @see https://learn.microsoft.com/graph/api/conditionalaccesspolicy-delete
   */
  async delete(tenant: string, id: string): Promise<void> {
    const policy = await this.get(tenant, id);
    const deleted = await this.store.write((trx) => this.policies.delete(trx, policy.tenantId, policy.id));
    if (!deleted) throw new DirectoryError('not_found', `Conditional access policy '${id}' not found.`);
  }
}

/**
 * `base` with `change` applied, every value checked and normalized (ids lower-cased, roles as template ids,
 * lists without repeats).
 *
 * @throws DirectoryError `invalid`.
 */
function checkedPolicy(
  base: ConditionalAccessPolicy,
  change: ConditionalAccessPolicyChange,
): ConditionalAccessPolicy {
  const displayName = change.displayName === undefined ? base.displayName : change.displayName.trim();
  if (displayName === '' || displayName.length > MAX_DISPLAY_NAME_LENGTH) {
    throw new DirectoryError(
      'invalid',
      `The displayName of a conditional access policy must be 1 to ${MAX_DISPLAY_NAME_LENGTH} characters.`,
    );
  }
  const state = change.state === undefined ? base.state : checkedState(change.state);
  const users: Mutable<ConditionalAccessUsers> = { ...base.conditions.users };
  const givenUsers = change.conditions?.users ?? {};
  if (givenUsers.includeUsers !== undefined) {
    users.includeUsers = checkedList(givenUsers.includeUsers, 'includeUsers', (v) => userValue(v, true));
  }
  if (givenUsers.excludeUsers !== undefined) {
    users.excludeUsers = checkedList(givenUsers.excludeUsers, 'excludeUsers', (v) => userValue(v, false));
  }
  if (givenUsers.includeRoles !== undefined) {
    users.includeRoles = checkedList(givenUsers.includeRoles, 'includeRoles', roleValue);
  }
  if (givenUsers.excludeRoles !== undefined) {
    users.excludeRoles = checkedList(givenUsers.excludeRoles, 'excludeRoles', roleValue);
  }
  const applications: Mutable<ConditionalAccessApplications> = { ...base.conditions.applications };
  const givenApps = change.conditions?.applications ?? {};
  if (givenApps.includeApplications !== undefined) {
    applications.includeApplications = checkedList(
      givenApps.includeApplications,
      'includeApplications',
      (v) => appValue(v, true),
    );
  }
  if (givenApps.excludeApplications !== undefined) {
    applications.excludeApplications = checkedList(
      givenApps.excludeApplications,
      'excludeApplications',
      (v) => appValue(v, false),
    );
  }
  if (givenApps.includeAuthenticationContextClassReferences !== undefined) {
    applications.includeAuthenticationContextClassReferences = checkedList(
      givenApps.includeAuthenticationContextClassReferences,
      'includeAuthenticationContextClassReferences',
      contextValue,
    );
  }
  const clientAppTypes =
    change.conditions?.clientAppTypes === undefined
      ? base.conditions.clientAppTypes
      : checkedList(change.conditions.clientAppTypes, 'clientAppTypes', clientAppTypeValue);
  const conditions: ConditionalAccessConditions = { users, applications, clientAppTypes };
  checkAlone(users.includeUsers, 'includeUsers');
  checkAlone(applications.includeApplications, 'includeApplications');
  if (users.includeUsers.length === 0 && users.includeRoles.length === 0) {
    throw new DirectoryError(
      'invalid',
      'A conditional access policy must include users: conditions.users.includeUsers or includeRoles.',
    );
  }
  const targetsApps = applications.includeApplications.length > 0;
  const targetsContexts = applications.includeAuthenticationContextClassReferences.length > 0;
  if (targetsApps === targetsContexts) {
    throw new DirectoryError(
      'invalid',
      'A conditional access policy must include either applications (conditions.applications.includeApplications) or authentication contexts (includeAuthenticationContextClassReferences), not both.',
    );
  }
  if (clientAppTypes.length === 0) {
    throw new DirectoryError('invalid', "conditions.clientAppTypes must be ['all'].");
  }
  const grantControls =
    change.grantControls === undefined ? base.grantControls : checkedGrantControls(change.grantControls);
  return { ...base, displayName, state, conditions, grantControls };
}

function checkedState(state: string): ConditionalAccessPolicyState {
  const found = CONDITIONAL_ACCESS_POLICY_STATES.find((known) => known === state);
  if (found === undefined) {
    throw new DirectoryError(
      'invalid',
      `The state '${state.slice(0, 64)}' is not one of ${CONDITIONAL_ACCESS_POLICY_STATES.join(', ')}.`,
    );
  }
  return found;
}

function checkedGrantControls(given: {
  readonly operator?: string;
  readonly builtInControls?: Values;
}): ConditionalAccessGrantControls {
  const operator = given.operator ?? 'OR';
  if (operator !== 'OR' && operator !== 'AND') {
    throw new DirectoryError('invalid', "grantControls.operator must be 'OR' or 'AND'.");
  }
  const controls = checkedList(given.builtInControls ?? [], 'builtInControls', (value) => {
    if (value !== 'mfa') {
      throw new DirectoryError(
        'invalid',
        `The built-in control '${value.slice(0, 64)}' is not supported: Tessera enforces 'mfa' only.`,
      );
    }
    return 'mfa' as const;
  });
  if (controls.length === 0) {
    throw new DirectoryError('invalid', "grantControls.builtInControls must name a control: ['mfa'].");
  }
  return { operator, builtInControls: controls };
}

/** Each value checked and normalized by `check`, without repeats. */
function checkedList<T extends string>(values: Values, name: string, check: (value: string) => T): T[] {
  if (values.length > MAX_VALUES_PER_CONDITION) {
    throw new DirectoryError('invalid', `${name} holds at most ${MAX_VALUES_PER_CONDITION} values.`);
  }
  return [...new Set(values.map(check))];
}

/** `All` and `None` mean the whole list: they stand alone. */
function checkAlone(values: readonly string[], name: string): void {
  if (values.length > 1 && values.some((value) => value === 'All' || value === 'None')) {
    throw new DirectoryError('invalid', `'All' and 'None' stand alone in ${name}.`);
  }
}

function userValue(value: string, include: boolean): string {
  if (include && (value === 'All' || value === 'None')) return value;
  const id = value.toLowerCase();
  if (!GUID_PATTERN.test(id)) {
    throw new DirectoryError(
      'invalid',
      `'${value.slice(0, 64)}' is not a user object id${include ? ", 'All' or 'None'" : ''}.`,
    );
  }
  return id;
}

function roleValue(value: string): string {
  const id = roleTemplateId(value);
  if (id === undefined) {
    throw new DirectoryError(
      'invalid',
      `'${value.slice(0, 64)}' is not a directory role template id or role name Tessera knows.`,
    );
  }
  return id;
}

function appValue(value: string, include: boolean): string {
  if (include && (value === 'All' || value === 'None')) return value;
  const id = value.toLowerCase();
  if (!GUID_PATTERN.test(id)) {
    throw new DirectoryError(
      'invalid',
      `'${value.slice(0, 64)}' is not an application id (appId)${include ? ", 'All' or 'None'" : ''}.`,
    );
  }
  return id;
}

function contextValue(value: string): string {
  if (!AUTHENTICATION_CONTEXT_PATTERN.test(value)) {
    throw new DirectoryError(
      'invalid',
      `'${value.slice(0, 64)}' is not an authentication context id: 'c1' to 'c99'.`,
    );
  }
  return value;
}

function clientAppTypeValue(value: string): string {
  if (value !== 'all') {
    throw new DirectoryError(
      'invalid',
      `The client app type '${value.slice(0, 64)}' is not supported: Tessera evaluates 'all' only.`,
    );
  }
  return value;
}
