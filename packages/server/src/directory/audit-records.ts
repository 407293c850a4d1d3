import type { AuditAppIdentity, AuditUserIdentity } from './audit-context.js';

/** Graph `modifiedProperty`: one changed attribute of a target, its values as JSON text (never a secret). */
export interface ModifiedProperty {
  readonly displayName: string;
  readonly oldValue: string | null;
  readonly newValue: string | null;
}

/**
 * Graph `targetResource`: what an audited write changed.
 *
 * @see https://learn.microsoft.com/graph/api/resources/targetresource
 */
export interface AuditTarget {
  readonly id: string | null;
  readonly displayName: string | null;
  /** `User`, `Application`, `ServicePrincipal`, `Tenant`, `Role`, `AppRoleAssignment`, `OAuth2PermissionGrant`. */
  readonly type: string;
  /** The user's UPN when `type` is `User`, else null. */
  readonly userPrincipalName: string | null;
  readonly modifiedProperties: readonly ModifiedProperty[];
}

/** Graph `directoryAudit` `category` values Tessera records. */
export type AuditCategory =
  'ApplicationManagement' | 'UserManagement' | 'RoleManagement' | 'DirectoryManagement' | 'Policy';

/** Graph `directoryAudit` `operationType` values. */
export type AuditOperationType = 'Add' | 'Update' | 'Delete' | 'Assign' | 'Unassign';

/**
 * One directory audit event (Graph `directoryAudit`), as stored. `loggedByService` is always `Core Directory`.
 *
 * @see https://learn.microsoft.com/graph/api/resources/directoryaudit
 */
export interface DirectoryAudit {
  readonly id: string;
  readonly tenantId: string;
  /** Unix milliseconds (Graph `activityDateTime`). */
  readonly activityMs: number;
  readonly activityDisplayName: string;
  readonly category: AuditCategory;
  readonly operationType: AuditOperationType;
  readonly result: 'success' | 'failure';
  /** The refusal's code (`not_found`, `invalid`, `Request_BadRequest`, …) on failure; empty on success. */
  readonly resultReason: string;
  readonly correlationId: string;
  /** Graph `auditActivityInitiator`: exactly one of `user` and `app` is set. */
  readonly initiatedBy: {
    readonly user: AuditUserIdentity | null;
    readonly app: AuditAppIdentity | null;
  };
  readonly targetResources: readonly AuditTarget[];
}

/**
 * One sign-in (Graph `signIn`), as stored: a password sign-in at the sign-in page (interactive) or a token
 * request (non-interactive), successful (`errorCode` 0) or not.
 *
 * @see https://learn.microsoft.com/graph/api/resources/signin
 */
export interface SignInRecord {
  readonly id: string;
  readonly tenantId: string;
  /** Unix milliseconds (Graph `createdDateTime`). */
  readonly createdMs: number;
  readonly userId: string | null;
  readonly userPrincipalName: string | null;
  readonly userDisplayName: string | null;
  readonly appId: string | null;
  readonly appDisplayName: string | null;
  readonly ipAddress: string | null;
  /** Graph `clientAppUsed`: `Browser` for the sign-in page, `Mobile Apps and Desktop clients` for tokens. */
  readonly clientAppUsed: string;
  readonly correlationId: string;
  readonly isInteractive: boolean;
  /** The resource's `appId`, when known. */
  readonly resourceId: string | null;
  readonly resourceDisplayName: string | null;
  /** Graph `status.errorCode`: 0 on success, else the AADSTS number. */
  readonly errorCode: number;
  /** Graph `status.failureReason`: the refusal's safe description; null on success. */
  readonly failureReason: string | null;
}

/** Which audit events or sign-ins to read (Graph `$filter` clauses, all of which must hold). */
export interface AuditLogFilter {
  /** Inclusive bounds of the event time, Unix milliseconds. */
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly correlationId?: string;
  /** `initiatedBy/user/id` of an audit; `userId` of a sign-in. */
  readonly userId?: string;
  /** `initiatedBy/app/appId` of an audit; `appId` of a sign-in. */
  readonly appId?: string;
  /** Audits only: `result`. */
  readonly result?: 'success' | 'failure';
  /** Audits only: `activityDisplayName`. */
  readonly activityDisplayName?: string;
  /** Audits only: `category`. */
  readonly category?: string;
  /** Sign-ins only: `status/errorCode`. */
  readonly errorCode?: number;
}

/** One page of a log, newest first: `next` continues after the last item (time, then id, descending). */
export interface LogPageRequest {
  readonly tenantId: string;
  /** 1 to 999. */
  readonly top: number;
  readonly after?: { readonly ms: number; readonly id: string };
  readonly filter: AuditLogFilter;
}
