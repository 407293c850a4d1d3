import type { ExpressionBuilder, Kysely, Selectable, Transaction } from 'kysely';
import type { SsoSession } from '../../sessions/sso-session.js';
import type { Database, SsoSessionTable } from '../schema.js';

/**
 * Browser SSO sessions (`sso_sessions`) and the apps each one signed in to (`sso_session_apps`, for front-channel
 * logout). A browser is known only by the hash of its session cookie.
 *
 * @see OpenID Connect Session Management 1.0, OpenID Connect Front-Channel Logout 1.0
 */
export class SsoSessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a new session of a browser; `createdAt` in Unix seconds. */
  async insert(
    session: SsoSession & { readonly browserHash: string; readonly createdAt: number },
  ): Promise<void> {
    await this.db
      .insertInto('sso_sessions')
      .values({
        id: session.id,
        browser_hash: session.browserHash,
        user_id: session.userId,
        tenant_id: session.tenantId,
        auth_time: session.authTime,
        amr: JSON.stringify(session.amr),
        created_at: session.createdAt,
        last_active_at: session.lastActiveAt,
        expires_at: session.expiresAt,
        ended_at: null,
      })
      .execute();
  }

  /**
   * Live sessions of a browser: not ended, before their absolute end, and used within `idleSeconds`.
   * Newest sign-in first.
   *
   * @param now Unix seconds.
   */
  async listLive(browserHash: string, now: number, idleSeconds: number): Promise<SsoSession[]> {
    const rows = await this.db
      .selectFrom('sso_sessions')
      .selectAll()
      .where('browser_hash', '=', browserHash)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .where('last_active_at', '>', now - idleSeconds)
      .orderBy('auth_time', 'desc')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * Records a further authentication of a live session (step-up: a second factor adds `mfa`): its `auth_time` and
   * `amr` change, its id and app list stay. An ended or expired session is left as it is.
   *
   * @param authTime Unix seconds of the new authentication.
   * @returns true when the session was live and is updated.
   */
  async updateAuthentication(
    sessionId: string,
    authTime: number,
    amr: readonly string[],
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('sso_sessions')
      .set({ auth_time: authTime, amr: JSON.stringify(amr), last_active_at: now })
      .where('id', '=', sessionId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Moves a browser's sessions to a new cookie (after sign-in, against session fixation). */
  async rebindBrowser(oldHash: string, newHash: string): Promise<void> {
    await this.db
      .updateTable('sso_sessions')
      .set({ browser_hash: newHash })
      .where('browser_hash', '=', oldHash)
      .execute();
  }

  /** Records use of a session by an app (idle clock, front-channel logout list); `now` in Unix seconds. */
  async touch(sessionId: string, appId: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('sso_sessions')
        .set({ last_active_at: now })
        .where('id', '=', sessionId)
        .execute();
      await trx
        .insertInto('sso_session_apps')
        .values({ session_id: sessionId, app_id: appId })
        .onConflict((oc) => oc.columns(['session_id', 'app_id']).doNothing())
        .execute();
    });
  }

  /**
   * Ends sessions of a browser (all of them, or only `sessionIds`).
   *
   * @returns the ids of the sessions ended and the `appId`s they signed in to, for front-channel logout.
   */
  async end(
    browserHash: string,
    now: number,
    sessionIds?: readonly string[],
  ): Promise<{ sessionIds: string[]; appIds: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('sso_sessions')
        .select('id')
        .where('browser_hash', '=', browserHash)
        .where('ended_at', 'is', null);
      if (sessionIds !== undefined)
        query = query.where('id', 'in', sessionIds.length > 0 ? [...sessionIds] : ['']);
      const ids = (await query.execute()).map((row) => row.id);
      if (ids.length === 0) return { sessionIds: [], appIds: [] };
      await trx.updateTable('sso_sessions').set({ ended_at: now }).where('id', 'in', ids).execute();
      const apps = await trx
        .selectFrom('sso_session_apps')
        .select('app_id')
        .distinct()
        .where('session_id', 'in', ids)
        .execute();
      return { sessionIds: ids, appIds: apps.map((row) => row.app_id) };
    });
  }

  /**
   * Deletes, inside `trx`, the sessions that ended, expired or sat idle longer than `idleSeconds`, with their app
   * lists.
   *
   * @param now Unix seconds.
   * @returns how many sessions were deleted.
   */
  async purgeExpired(trx: Transaction<Database>, now: number, idleSeconds: number): Promise<number> {
    const dead = trx.selectFrom('sso_sessions').select('id').where(isDead(now, idleSeconds));
    await trx.deleteFrom('sso_session_apps').where('session_id', 'in', dead).execute();
    const sessions = await trx.deleteFrom('sso_sessions').where(isDead(now, idleSeconds)).executeTakeFirst();
    return Number(sessions.numDeletedRows);
  }
}

/** Ended, past its absolute end, or idle for `idleSeconds` or more at `now` (Unix seconds). */
function isDead(now: number, idleSeconds: number) {
  return (eb: ExpressionBuilder<Database, 'sso_sessions'>) =>
    eb.or([
      eb('ended_at', 'is not', null),
      eb('expires_at', '<=', now),
      eb('last_active_at', '<=', now - idleSeconds),
    ]);
}

function fromRow(row: Selectable<SsoSessionTable>): SsoSession {
  return {
    id: row.id,
    userId: row.user_id,
    tenantId: row.tenant_id,
    authTime: row.auth_time,
    amr: JSON.parse(row.amr) as string[],
    lastActiveAt: row.last_active_at,
    expiresAt: row.expires_at,
  };
}
