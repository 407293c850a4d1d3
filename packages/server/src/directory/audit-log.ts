import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../store/database.js';
import type { DirectoryStore } from '../store/directory-store.js';
import type { AuditLogRepository } from '../store/repositories/audit-logs.js';
import type { AuditActivity, AuditLookup, AuditSubject, ServiceActivities } from './audit-activities.js';
import { currentAuditScope, markAudited, SYSTEM_ACTOR, type AuditActor } from './audit-context.js';
import type { AuditCategory, AuditOperationType, AuditTarget, DirectoryAudit } from './audit-records.js';
import { DirectoryError } from './errors.js';
import { GUID_PATTERN } from './identifiers.js';

/** An activity as a door that refused a request before any service ran names it. */
export interface RefusedActivity {
  readonly activityDisplayName: string;
  readonly category: AuditCategory;
  readonly operationType: AuditOperationType;
}

/** One day, in milliseconds. */
const DAY_MS = 24 * 3600 * 1000;
/** How often at most a process purges old log rows, in milliseconds. */
const PURGE_INTERVAL_MS = 3600 * 1000;

/**
 * The directory audit log (Graph `directoryAudit`): records every audited directory write with the actor and
 * correlation id of the running door's {@link AuditScope} (writes outside any door are the system's), inline after
 * the write. Failing to record never fails the write: the error goes to `onError`. Rows older than
 * `retentionDays` are purged at most hourly, on a later write.
 */
export class DirectoryAuditLog {
  private lastPurgeMs = 0;

  /**
   * @param retentionDays how long audits and sign-ins are kept, in days.
   * @param nowMs the clock, Unix milliseconds.
   */
  constructor(
    private readonly store: DirectoryStore,
    readonly repository: AuditLogRepository,
    private readonly retentionDays: number,
    private readonly nowMs: () => number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** What activities look their targets up in. */
  get lookup(): AuditLookup {
    return { store: this.store };
  }

  /**
   * Records an audit of the running scope: `activity` on `subject` with `result`. A subject without a known
   * tenant is not recorded (no tenant's log could show it).
   */
  async record(
    activity: RefusedActivity,
    subject: AuditSubject,
    result: { readonly ok: true } | { readonly ok: false; readonly reason: string },
  ): Promise<void> {
    const scope = currentAuditScope();
    if (scope !== undefined) markAudited(scope);
    try {
      const tenantId = await this.tenantIdOf(subject.tenant);
      if (tenantId === undefined) return;
      const actor = await this.completed(scope?.actor ?? SYSTEM_ACTOR);
      const audit: DirectoryAudit = {
        id: randomUUID(),
        tenantId,
        activityMs: this.nowMs(),
        activityDisplayName: activity.activityDisplayName,
        category: activity.category,
        operationType: activity.operationType,
        result: result.ok ? 'success' : 'failure',
        resultReason: result.ok ? '' : result.reason,
        correlationId: scope?.correlationId ?? randomUUID(),
        initiatedBy: 'user' in actor ? { user: actor.user, app: null } : { user: null, app: actor.app },
        targetResources: subject.targets,
      };
      await this.repository.insertAudit(audit);
      await this.purgeIfDue();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Deletes audits and sign-ins older than the retention, at most once per {@link PURGE_INTERVAL_MS}. */
  async purgeIfDue(): Promise<void> {
    const now = this.nowMs();
    if (now - this.lastPurgeMs < PURGE_INTERVAL_MS) return;
    this.lastPurgeMs = now;
    await this.repository.purgeBefore(now - this.retentionDays * DAY_MS);
  }

  private async tenantIdOf(tenant: string | undefined): Promise<string | undefined> {
    if (tenant === undefined) return undefined;
    if (GUID_PATTERN.test(tenant.toLowerCase())) return tenant.toLowerCase();
    return (await this.store.tenants.find(tenant))?.id;
  }

  /** An app actor named only by `appId` (an app-only management caller) gets its display name. */
  private async completed(actor: AuditActor): Promise<AuditActor> {
    if (!('app' in actor) || actor.app.appId === null || actor.app.displayName !== null) return actor;
    const app = await this.store.applications.findByAppId(actor.app.appId);
    return { app: { ...actor.app, displayName: app?.displayName ?? null } };
  }
}

/** Set while an audited method runs: a listed write it calls itself is part of it, not a second event. */
const inAuditedCall = new AsyncLocalStorage<true>();

/**
 * Replaces each method of `service` listed in `activities` by one that runs it and then records it in `log`:
 * success after it returned (its write committed), failure when it threw a {@link DirectoryError} (its code is
 * the `resultReason`) or another error (`internal`; a unique-key race its caller retries is not recorded). The
 * error is rethrown unchanged.
 */
export function auditService<S extends object>(
  service: S,
  activities: ServiceActivities<S>,
  log: DirectoryAuditLog,
): void {
  for (const [name, listed] of Object.entries(activities)) {
    const activity = listed as AuditActivity<readonly unknown[], unknown>;
    const original = Reflect.get(service, name) as (...args: unknown[]) => Promise<unknown>;
    const audited = async (...args: unknown[]): Promise<unknown> => {
      if (inAuditedCall.getStore() === true) return original.apply(service, args);
      const before = await activity.before?.(args, log.lookup).catch(() => undefined);
      let result: unknown;
      try {
        result = await inAuditedCall.run(true, () => original.apply(service, args));
      } catch (error) {
        if (!isUniqueViolation(error)) {
          const reason = error instanceof DirectoryError ? error.code : 'internal';
          await recordCall(log, activity, { args, result: undefined, before }, { ok: false, reason });
        }
        throw error;
      }
      await recordCall(log, activity, { args, result, before }, { ok: true });
      return result;
    };
    Object.defineProperty(service, name, { value: audited, configurable: true, writable: true });
  }
}

async function recordCall(
  log: DirectoryAuditLog,
  activity: AuditActivity<readonly unknown[], unknown>,
  call: {
    readonly args: readonly unknown[];
    readonly result: unknown;
    readonly before: AuditTarget | undefined;
  },
  result: { readonly ok: true } | { readonly ok: false; readonly reason: string },
): Promise<void> {
  let subject: AuditSubject;
  try {
    subject = await activity.subject(call, log.lookup);
  } catch {
    subject = { tenant: undefined, targets: [] };
  }
  const name =
    typeof activity.activityDisplayName === 'string'
      ? activity.activityDisplayName
      : activity.activityDisplayName(call);
  await log.record(
    { activityDisplayName: name, category: activity.category, operationType: activity.operationType },
    subject,
    result,
  );
}
