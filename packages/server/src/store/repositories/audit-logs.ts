import type { CompiledQuery, Insertable, Kysely, Selectable } from 'kysely';
import type { DirectoryAudit, LogPageRequest, SignInRecord } from '../../directory/audit-records.js';
import type { Database, DirectoryAuditTable, SignInTable } from '../schema.js';
import type { Page } from './paging.js';

/** A page of a log; `next` is the time and id of its last item when another page follows. */
export type LogPage<T> = Omit<Page<T>, 'next'> & {
  readonly next: { readonly ms: number; readonly id: string } | undefined;
};

/**
 * The directory audit log (`directory_audits`) and the sign-in log (`sign_ins`): appended to, read newest first
 * per tenant with keyset paging on (time, id), purged by age.
 */
export class AuditLogRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends one directory audit event. */
  async insertAudit(audit: DirectoryAudit): Promise<void> {
    await this.db
      .insertInto('directory_audits')
      .values({
        id: audit.id,
        tenant_id: audit.tenantId,
        activity_ms: audit.activityMs,
        activity_display_name: audit.activityDisplayName,
        category: audit.category,
        operation_type: audit.operationType,
        result: audit.result,
        result_reason: audit.resultReason,
        correlation_id: audit.correlationId,
        initiated_by: JSON.stringify(audit.initiatedBy),
        target_resources: JSON.stringify(audit.targetResources),
        initiator_user_id: audit.initiatedBy.user?.id ?? null,
        initiator_app_id: audit.initiatedBy.app?.appId ?? null,
      })
      .execute();
  }

  /**
   * Appends sign-ins in one transaction (none: nothing; one statement needs none), `rowsPerStatement` rows per
   * multi-row `INSERT`: all of them or, on any error, none. The statements are compiled once per row count and
   * reused (the row counts are `rowsPerStatement` and powers of two below it, so a handful of SQL texts, each
   * prepared once by the SQLite statement cache), so a flush never builds a query of thousands of values.
   *
   * @param rowsPerStatement at most 2000 (16 parameters a row: SQLite's limit is 32766, PostgreSQL's 65535).
   */
  async insertSignIns(records: readonly SignInRecord[], rowsPerStatement = 500): Promise<void> {
    if (records.length === 0) return;
    const sizes = statementSizes(records.length, Math.min(Math.max(1, rowsPerStatement), 2000));
    const run = async (db: Kysely<Database>): Promise<void> => {
      let at = 0;
      for (const size of sizes) {
        const statement = this.signInInsert(size);
        await db.executeQuery({ ...statement, parameters: signInParameters(records, at, size) });
        at += size;
      }
    };
    if (sizes.length === 1) await run(this.db);
    else await this.db.transaction().execute(run);
  }

  private readonly signInInserts = new Map<number, CompiledQuery>();

  /** The compiled `INSERT` of `rows` sign-ins; its parameters are row after row in {@link SIGN_IN_COLUMNS} order. */
  private signInInsert(rows: number): CompiledQuery {
    let statement = this.signInInserts.get(rows);
    if (statement === undefined) {
      const row = Object.fromEntries(
        SIGN_IN_COLUMNS.map((column) => [column, null]),
      ) as unknown as Insertable<SignInTable>;
      statement = this.db
        .insertInto('sign_ins')
        .values(Array.from({ length: rows }, () => row))
        .compile();
      this.signInInserts.set(rows, statement);
    }
    return statement;
  }

  /** One page of a tenant's directory audits, newest first. */
  async listAudits(request: LogPageRequest): Promise<LogPage<DirectoryAudit>> {
    const { filter, after } = request;
    let query = this.db.selectFrom('directory_audits').selectAll().where('tenant_id', '=', request.tenantId);
    if (filter.fromMs !== undefined) query = query.where('activity_ms', '>=', filter.fromMs);
    if (filter.toMs !== undefined) query = query.where('activity_ms', '<=', filter.toMs);
    if (filter.correlationId !== undefined) query = query.where('correlation_id', '=', filter.correlationId);
    if (filter.userId !== undefined) query = query.where('initiator_user_id', '=', filter.userId);
    if (filter.appId !== undefined) query = query.where('initiator_app_id', '=', filter.appId);
    if (filter.result !== undefined) query = query.where('result', '=', filter.result);
    if (filter.activityDisplayName !== undefined) {
      query = query.where('activity_display_name', '=', filter.activityDisplayName);
    }
    if (filter.category !== undefined) query = query.where('category', '=', filter.category);
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('activity_ms', '<', after.ms),
          eb.and([eb('activity_ms', '=', after.ms), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('activity_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(request.top + 1)
      .execute();
    return logPage(rows.map(auditOfRow), request.top, (audit) => audit.activityMs);
  }

  /** A directory audit of a tenant by id. */
  async findAudit(tenantId: string, id: string): Promise<DirectoryAudit | undefined> {
    const row = await this.db
      .selectFrom('directory_audits')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : auditOfRow(row);
  }

  /** One page of a tenant's sign-ins, newest first. */
  async listSignIns(request: LogPageRequest): Promise<LogPage<SignInRecord>> {
    const { filter, after } = request;
    let query = this.db.selectFrom('sign_ins').selectAll().where('tenant_id', '=', request.tenantId);
    if (filter.fromMs !== undefined) query = query.where('created_ms', '>=', filter.fromMs);
    if (filter.toMs !== undefined) query = query.where('created_ms', '<=', filter.toMs);
    if (filter.correlationId !== undefined) query = query.where('correlation_id', '=', filter.correlationId);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.appId !== undefined) query = query.where('app_id', '=', filter.appId);
    if (filter.errorCode !== undefined) query = query.where('error_code', '=', filter.errorCode);
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('created_ms', '<', after.ms),
          eb.and([eb('created_ms', '=', after.ms), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(request.top + 1)
      .execute();
    return logPage(rows.map(signInOfRow), request.top, (record) => record.createdMs);
  }

  /** A sign-in of a tenant by id. */
  async findSignIn(tenantId: string, id: string): Promise<SignInRecord | undefined> {
    const row = await this.db
      .selectFrom('sign_ins')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : signInOfRow(row);
  }

  /**
   * Deletes audits and sign-ins older than `beforeMs` (Unix milliseconds).
   *
   * @returns how many rows were deleted.
   */
  async purgeBefore(beforeMs: number): Promise<number> {
    const audits = await this.db
      .deleteFrom('directory_audits')
      .where('activity_ms', '<', beforeMs)
      .executeTakeFirst();
    const signIns = await this.db
      .deleteFrom('sign_ins')
      .where('created_ms', '<', beforeMs)
      .executeTakeFirst();
    return Number(audits.numDeletedRows) + Number(signIns.numDeletedRows);
  }
}

/** Columns of `sign_ins` in the order {@link signInParameters} gives their values. */
const SIGN_IN_COLUMNS = [
  'id',
  'tenant_id',
  'created_ms',
  'user_id',
  'user_principal_name',
  'user_display_name',
  'app_id',
  'app_display_name',
  'ip_address',
  'client_app_used',
  'correlation_id',
  'is_interactive',
  'resource_id',
  'resource_display_name',
  'error_code',
  'failure_reason',
] as const satisfies readonly (keyof SignInTable)[];

/** The parameters of `size` rows from `records[at]` on, row after row, in {@link SIGN_IN_COLUMNS} order. */
function signInParameters(records: readonly SignInRecord[], at: number, size: number): unknown[] {
  const parameters: unknown[] = [];
  for (let index = at; index < at + size; index++) {
    const record = records[index] as SignInRecord;
    parameters.push(
      record.id,
      record.tenantId,
      record.createdMs,
      record.userId,
      record.userPrincipalName,
      record.userDisplayName,
      record.appId,
      record.appDisplayName,
      record.ipAddress,
      record.clientAppUsed,
      record.correlationId,
      record.isInteractive ? 1 : 0,
      record.resourceId,
      record.resourceDisplayName,
      record.errorCode,
      record.failureReason,
    );
  }
  return parameters;
}

/**
 * Rows per statement for `count` rows: as many of `most` as fit, then the rest as distinct powers of two (37 with
 * `most` 500: 32, 4, 1), so every statement's SQL text is one of few.
 */
export function statementSizes(count: number, most: number): number[] {
  const sizes: number[] = [];
  let left = count;
  while (left >= most) {
    sizes.push(most);
    left -= most;
  }
  for (let power = 2 ** Math.floor(Math.log2(most)); left > 0; power /= 2) {
    if (left >= power) {
      sizes.push(power);
      left -= power;
    }
  }
  return sizes;
}

function logPage<T extends { readonly id: string }>(
  items: readonly T[],
  top: number,
  ms: (item: T) => number,
): LogPage<T> {
  const page = items.slice(0, top);
  const last = page.at(-1);
  return {
    items: page,
    next: items.length > top && last !== undefined ? { ms: ms(last), id: last.id } : undefined,
  };
}

function auditOfRow(row: Selectable<DirectoryAuditTable>): DirectoryAudit {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    activityMs: row.activity_ms,
    activityDisplayName: row.activity_display_name,
    category: row.category as DirectoryAudit['category'],
    operationType: row.operation_type as DirectoryAudit['operationType'],
    result: row.result === 'success' ? 'success' : 'failure',
    resultReason: row.result_reason,
    correlationId: row.correlation_id,
    initiatedBy: JSON.parse(row.initiated_by) as DirectoryAudit['initiatedBy'],
    targetResources: JSON.parse(row.target_resources) as DirectoryAudit['targetResources'],
  };
}

function signInOfRow(row: Selectable<SignInTable>): SignInRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    createdMs: row.created_ms,
    userId: row.user_id,
    userPrincipalName: row.user_principal_name,
    userDisplayName: row.user_display_name,
    appId: row.app_id,
    appDisplayName: row.app_display_name,
    ipAddress: row.ip_address,
    clientAppUsed: row.client_app_used,
    correlationId: row.correlation_id,
    isInteractive: row.is_interactive === 1,
    resourceId: row.resource_id,
    resourceDisplayName: row.resource_display_name,
    errorCode: row.error_code,
    failureReason: row.failure_reason,
  };
}
