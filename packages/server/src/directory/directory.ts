import type { DirectoryStore } from '../store/directory-store.js';
import { AuditLogRepository } from '../store/repositories/audit-logs.js';
import { AUDIT_ACTIVITIES, DIRECTORY_SERVICE_NAMES, type DirectoryServices } from './audit-activities.js';
import { auditService, DirectoryAuditLog } from './audit-log.js';
import { SignInLog, type SignInLogOptions } from './audit-sign-ins.js';
import { ApplicationService } from './services/applications.js';
import { ConditionalAccessPolicyService } from './services/conditional-access-policies.js';
import { CredentialService } from './services/credentials.js';
import { GrantService } from './services/grants.js';
import { ServicePrincipalService } from './services/service-principals.js';
import { TenantService } from './services/tenants.js';
import { UserService } from './services/users.js';

export { DIRECTORY_ERRORS, DirectoryError, type DirectoryErrorCode } from './errors.js';
export { ApplicationService, type CreateApplicationInput } from './services/applications.js';
export {
  CredentialService,
  DEFAULT_SECRET_LIFETIME_SECONDS,
  type NewPassword,
} from './services/credentials.js';
export { GrantService, type ConsentItem } from './services/grants.js';
export {
  ConditionalAccessPolicyService,
  MAX_POLICIES_PER_TENANT,
  type ConditionalAccessPolicyChange,
} from './services/conditional-access-policies.js';
export { ServicePrincipalService } from './services/service-principals.js';
export type { Page, PageRequest, TenantPageRequest } from './services/paging.js';
export { TenantService } from './services/tenants.js';
export { UserService } from './services/users.js';
export { servicePrincipalFor } from './service-principals.js';

/** How {@link Directory} keeps its audit and sign-in logs. */
export interface DirectoryLogOptions {
  /** How long audits and sign-ins are kept, in days; default 30. */
  readonly auditRetentionDays?: number;
  readonly signIns?: SignInLogOptions;
  /** Told when an audit or sign-in could not be recorded (the write itself stands); default: ignored. */
  readonly onLogError?: (error: unknown) => void;
  /** The logs' clock, Unix milliseconds; default `Date.now`. */
  readonly nowMs?: () => number;
}

/**
 * The directory's write side and uncached reads, one service per aggregate, validated and stored through
 * {@link DirectoryStore}: `tenants`, `applications` (registrations), `credentials` (secrets and certificates),
 * `servicePrincipals` (applications' instances in tenants), `users`, and `grants` (app role assignments and
 * delegated consent), and `conditionalAccessPolicies` (the tenant's conditional access policies). The CLI, the demo seed, sign-in (consent) and the management API call these; the token
 * endpoint reads through `DirectoryCache`.
 */
export class Directory {
  readonly tenants: TenantService;
  readonly applications: ApplicationService;
  readonly credentials: CredentialService;
  readonly users: UserService;
  readonly servicePrincipals: ServicePrincipalService;
  readonly grants: GrantService;
  readonly conditionalAccessPolicies: ConditionalAccessPolicyService;
  /** The directory audit log: every write of the services above is recorded here (`audit-activities.ts`). */
  readonly audits: DirectoryAuditLog;
  /** The sign-in log, buffered (sign-in and the token endpoint never wait for it). */
  readonly signIns: SignInLog;

  /** @param nowSeconds the clock, Unix seconds (tests freeze it). */
  constructor(
    readonly store: DirectoryStore,
    nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    logs: DirectoryLogOptions = {},
  ) {
    this.tenants = new TenantService(store, nowSeconds);
    this.applications = new ApplicationService(store, nowSeconds, this.tenants);
    this.credentials = new CredentialService(store, nowSeconds, this.applications);
    this.servicePrincipals = new ServicePrincipalService(store, nowSeconds, this.tenants, this.applications);
    this.users = new UserService(store, nowSeconds, this.tenants);
    this.grants = new GrantService(store, nowSeconds, this.tenants, this.applications);
    this.conditionalAccessPolicies = new ConditionalAccessPolicyService(store, nowSeconds, this.tenants);
    const repository = new AuditLogRepository(store.db);
    const nowMs = logs.nowMs ?? Date.now;
    const onLogError = logs.onLogError ?? (() => undefined);
    this.audits = new DirectoryAuditLog(store, repository, logs.auditRetentionDays ?? 30, nowMs, onLogError);
    this.signIns = new SignInLog(repository, nowMs, onLogError, logs.signIns, () => this.audits.purgeIfDue());
    for (const name of DIRECTORY_SERVICE_NAMES) {
      auditService<DirectoryServices[typeof name]>(this[name], AUDIT_ACTIVITIES[name], this.audits);
    }
  }
}
