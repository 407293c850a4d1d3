import type { Kysely, Transaction } from 'kysely';
import type { AuthorizedGrant } from '../directory/model.js';
import type { AuthenticationEvent, RedirectPlatform } from '../sessions/authentication-event.js';
import type { SsoSession } from '../sessions/sso-session.js';
import type { Database } from './schema.js';

/** An authorization code as stored (the code itself only as a hash). */
export interface StoredAuthorizationCode {
  readonly codeHash: string;
  /** Who signed in to which client, when and how; the platform of the redirect URI the code went to. */
  readonly authentication: AuthenticationEvent;
  readonly sessionId: string;
  readonly redirectUri: string;
  readonly grant: AuthorizedGrant;
  readonly codeChallenge: string | null;
  readonly nonce: string | null;
  readonly clientInfo: boolean;
  readonly familyId: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/** A refresh token family as stored. */
export interface RefreshTokenFamily {
  readonly familyId: string;
  readonly tokenHash: string;
  readonly generation: number;
  /** The authentication the family was issued from (its code's): every token of the family reports it. */
  readonly authentication: AuthenticationEvent;
  readonly grant: AuthorizedGrant;
  readonly clientInfo: boolean;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/**
 * One page of an interaction as shown to a browser: which step it is, which form actions it offered, what
 * those actions may refer to, and the suspended request it resumes. The page's form carries only a random
 * handle (stored as a hash).
 */
export interface StoredInteractionStep {
  readonly handleHash: string;
  /** The `{tenant}` path segment of the request. */
  readonly tenant: string;
  /** `sign-in`, `select-account` or `consent`. */
  readonly step: string;
  /** The form actions the page offered. */
  readonly actions: readonly string[];
  /** Account picker: the reference of each offered account → its SSO session id (never sent to the browser). */
  readonly choices: Readonly<Record<string, string>>;
  /** Consent page: the SSO session it was shown for. */
  readonly sessionId?: string | undefined;
  /** True when `sessionId` was signed in during this interaction (fresh authentication). */
  readonly sessionFresh: boolean;
  /** Consent page: whether it offered consent on behalf of the organization. */
  readonly organizationConsent: boolean;
  /** The name of the resume target the interaction continues (e.g. `authorize`). */
  readonly resumeTarget: string;
  /** The resume target's state (for `authorize`, the authorization request parameters). */
  readonly params: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the anti-CSRF token of the browser the page was shown to. */
  readonly csrfHash: string;
  /** Unix seconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Outcome of redeeming a code or rotating a refresh token. */
export type Redemption<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'replayed'; readonly familyId: string }
  | { readonly kind: 'unknown' };

/**
 * Persistence of the high-volume sign-in state: SSO sessions, authorization codes and refresh token families.
 * These writes never bump the directory version (that would flush every node's caches); each redemption is one
 * conditional statement, so of two nodes racing for the same code or refresh token exactly one wins.
 */
export class SignInStore {
  constructor(private readonly db: Kysely<Database>) {}

  // --- SSO sessions ---------------------------------------------------------------------------------------

  async insertSession(
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
   */
  async listSessions(browserHash: string, now: number, idleSeconds: number): Promise<SsoSession[]> {
    const rows = await this.db
      .selectFrom('sso_sessions')
      .selectAll()
      .where('browser_hash', '=', browserHash)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .where('last_active_at', '>', now - idleSeconds)
      .orderBy('auth_time', 'desc')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      tenantId: row.tenant_id,
      authTime: row.auth_time,
      amr: JSON.parse(row.amr) as string[],
      lastActiveAt: row.last_active_at,
      expiresAt: row.expires_at,
    }));
  }

  /**
   * Records a further authentication of a live session (step-up: a second factor adds `mfa`): its `auth_time` and
   * `amr` change, its id and app list stay. An ended or expired session is left as it is.
   *
   * @param authTime Unix seconds of the new authentication.
   * @returns true when the session was live and is updated.
   */
  async updateSessionAuthentication(
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

  /** Records use of a session by an app (idle clock, front-channel logout list). */
  async touchSession(sessionId: string, appId: string, now: number): Promise<void> {
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
   * @returns the `appId`s the ended sessions signed in to, for front-channel logout.
   */
  async endSessions(
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

  // --- interaction steps --------------------------------------------------------------------------------

  /** Stores one page of an interactive sign-in as it is shown (see {@link StoredInteractionStep}). */
  async insertInteractionStep(step: StoredInteractionStep): Promise<void> {
    await this.db
      .insertInto('interaction_steps')
      .values({
        handle_hash: step.handleHash,
        tenant: step.tenant,
        step: step.step,
        actions: JSON.stringify(step.actions),
        choices: JSON.stringify(step.choices),
        session_id: step.sessionId ?? null,
        session_fresh: step.sessionFresh ? 1 : 0,
        organization_consent: step.organizationConsent ? 1 : 0,
        resume_target: step.resumeTarget,
        params: JSON.stringify(step.params),
        csrf_hash: step.csrfHash,
        created_at: step.createdAt,
        expires_at: step.expiresAt,
      })
      .execute();
  }

  /** The interaction step of a handle hash, unless it expired at `now` (Unix seconds). */
  async findInteractionStep(handleHash: string, now: number): Promise<StoredInteractionStep | undefined> {
    const row = await this.db
      .selectFrom('interaction_steps')
      .selectAll()
      .where('handle_hash', '=', handleHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      handleHash: row.handle_hash,
      tenant: row.tenant,
      step: row.step,
      actions: JSON.parse(row.actions) as string[],
      choices: JSON.parse(row.choices) as Record<string, string>,
      sessionId: row.session_id ?? undefined,
      sessionFresh: row.session_fresh === 1,
      organizationConsent: row.organization_consent === 1,
      resumeTarget: row.resume_target,
      params: JSON.parse(row.params) as Record<string, string>,
      csrfHash: row.csrf_hash,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  /** Deletes interaction steps that expired at or before `now` (Unix seconds); returns how many. */
  async purgeInteractionSteps(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom('interaction_steps')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- sign-in throttle -----------------------------------------------------------------------------------

  /**
   * Reserves one password attempt of a throttle key in one conditional upsert: the attempt is counted before the
   * password is verified, so of many parallel attempts exactly `limit` per window get through. A key whose window
   * (`windowMs`) has passed starts a new window with this attempt.
   *
   * @param keyHash hex SHA-256 of the throttle key.
   * @param nowMs Unix milliseconds.
   * @returns the start (Unix ms) of the window the attempt was counted in, or undefined when the key already
   *   holds `limit` attempts in its current window (locked: nothing was counted).
   */
  async reserveSignInAttempt(
    keyHash: string,
    limit: number,
    windowMs: number,
    nowMs: number,
  ): Promise<number | undefined> {
    const expired = nowMs - windowMs;
    const row = await this.db
      .insertInto('sign_in_attempts')
      .values({ key_hash: keyHash, attempts: 1, window_started_ms: nowMs })
      .onConflict((oc) =>
        oc
          .column('key_hash')
          .doUpdateSet((eb) => ({
            attempts: eb
              .case()
              .when('sign_in_attempts.window_started_ms', '<=', expired)
              .then(1)
              .else(eb('sign_in_attempts.attempts', '+', 1))
              .end(),
            window_started_ms: eb
              .case()
              .when('sign_in_attempts.window_started_ms', '<=', expired)
              .then(nowMs)
              .else(eb.ref('sign_in_attempts.window_started_ms'))
              .end(),
          }))
          .where((eb) =>
            eb.or([
              eb('sign_in_attempts.attempts', '<', limit),
              eb('sign_in_attempts.window_started_ms', '<=', expired),
            ]),
          ),
      )
      .returning('window_started_ms')
      .executeTakeFirst();
    return row?.window_started_ms;
  }

  /**
   * Takes back one attempt reserved by {@link reserveSignInAttempt} (it succeeded): only in the window it was
   * counted in, never below zero, so a success cannot erase failures counted by anyone else.
   */
  async releaseSignInAttempt(keyHash: string, windowStartedMs: number): Promise<void> {
    await this.db
      .updateTable('sign_in_attempts')
      .set((eb) => ({ attempts: eb('attempts', '-', 1) }))
      .where('key_hash', '=', keyHash)
      .where('window_started_ms', '=', windowStartedMs)
      .where('attempts', '>', 0)
      .execute();
  }

  /** Deletes throttle counters whose window started at or before `beforeMs` (Unix ms); returns how many. */
  async purgeSignInAttempts(beforeMs: number): Promise<number> {
    const result = await this.db
      .deleteFrom('sign_in_attempts')
      .where('window_started_ms', '<=', beforeMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- authorization codes --------------------------------------------------------------------------------

  async insertCode(code: StoredAuthorizationCode, createdAt: number): Promise<void> {
    await this.db
      .insertInto('authorization_codes')
      .values({
        code_hash: code.codeHash,
        client_id: code.authentication.clientId,
        tenant_id: code.authentication.tenantId,
        user_id: code.authentication.userId,
        session_id: code.sessionId,
        redirect_uri: code.redirectUri,
        platform: code.authentication.platform,
        grant: JSON.stringify(code.grant),
        code_challenge: code.codeChallenge,
        nonce: code.nonce,
        auth_time: code.authentication.authTime,
        amr: JSON.stringify(code.authentication.amr),
        client_info: code.clientInfo ? 1 : 0,
        family_id: code.familyId,
        expires_at: code.expiresAt,
        redeemed_at: null,
        created_at: createdAt,
      })
      .execute();
  }

  /**
   * Redeems a code: one conditional UPDATE … RETURNING marks it used. A code already used is reported as
   * `replayed` with the refresh token family its first redemption created; expiry is the caller's check.
   */
  async redeemCode(codeHash: string, now: number): Promise<Redemption<StoredAuthorizationCode>> {
    const row = await this.db
      .updateTable('authorization_codes')
      .set({ redeemed_at: now })
      .where('code_hash', '=', codeHash)
      .where('redeemed_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) {
      const used = await this.db
        .selectFrom('authorization_codes')
        .select('family_id')
        .where('code_hash', '=', codeHash)
        .executeTakeFirst();
      return used === undefined ? { kind: 'unknown' } : { kind: 'replayed', familyId: used.family_id };
    }
    return {
      kind: 'ok',
      value: {
        codeHash: row.code_hash,
        authentication: authenticationFromRow(row),
        sessionId: row.session_id,
        redirectUri: row.redirect_uri,
        grant: JSON.parse(row.grant) as AuthorizedGrant,
        codeChallenge: row.code_challenge,
        nonce: row.nonce,
        clientInfo: row.client_info === 1,
        familyId: row.family_id,
        expiresAt: row.expires_at,
      },
    };
  }

  /** Deletes codes that expired before `before` (Unix seconds). */
  async purgeCodes(before: number): Promise<void> {
    await this.db.deleteFrom('authorization_codes').where('expires_at', '<', before).execute();
  }

  /**
   * Deletes sign-in state nothing can use any more: authorization codes past their expiry (a replay of one is
   * `unknown` from then on, which the token endpoint refuses anyway), SSO sessions that ended, expired or sat idle
   * longer than `idleSeconds` (with their app lists), and refresh token families past their expiry (revoked or
   * not). Families that are revoked but unexpired stay, so reuse of their tokens is still recognised.
   *
   * @param now Unix seconds.
   * @param idleSeconds the SSO session idle timeout, seconds.
   * @returns how many rows of each kind were deleted.
   */
  async purgeExpired(
    now: number,
    idleSeconds: number,
  ): Promise<{ codes: number; sessions: number; refreshFamilies: number }> {
    return this.db.transaction().execute(async (trx) => {
      const codes = await trx
        .deleteFrom('authorization_codes')
        .where('expires_at', '<', now)
        .executeTakeFirst();
      const dead = trx
        .selectFrom('sso_sessions')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('ended_at', 'is not', null),
            eb('expires_at', '<=', now),
            eb('last_active_at', '<=', now - idleSeconds),
          ]),
        );
      await trx.deleteFrom('sso_session_apps').where('session_id', 'in', dead).execute();
      const sessions = await trx
        .deleteFrom('sso_sessions')
        .where((eb) =>
          eb.or([
            eb('ended_at', 'is not', null),
            eb('expires_at', '<=', now),
            eb('last_active_at', '<=', now - idleSeconds),
          ]),
        )
        .executeTakeFirst();
      const families = await trx
        .deleteFrom('refresh_tokens')
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      return {
        codes: Number(codes.numDeletedRows),
        sessions: Number(sessions.numDeletedRows),
        refreshFamilies: Number(families.numDeletedRows),
      };
    });
  }

  // --- refresh token families -----------------------------------------------------------------------------

  async insertRefreshFamily(family: RefreshTokenFamily): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        family_id: family.familyId,
        token_hash: family.tokenHash,
        generation: family.generation,
        client_id: family.authentication.clientId,
        tenant_id: family.authentication.tenantId,
        user_id: family.authentication.userId,
        platform: family.authentication.platform,
        grant: JSON.stringify(family.grant),
        auth_time: family.authentication.authTime,
        amr: JSON.stringify(family.authentication.amr),
        client_info: family.clientInfo ? 1 : 0,
        created_at: family.createdAt,
        last_used_at: family.createdAt,
        expires_at: family.expiresAt,
        revoked_at: null,
      })
      .execute();
  }

  /**
   * Rotates a refresh token in one conditional UPDATE … RETURNING: only the family's current token, presented by its own client,
   * unrevoked and unexpired, moves to `next`. Anything else is `unknown` (the caller decides whether it was a reuse).
   *
   * @param next.expiresAt the family's new sliding expiry (ignored for spa families, whose expiry is fixed).
   * @param unauthenticatedClient true when the client did not authenticate: `web` (confidential) families then
   *   never rotate (RFC 6749 §6).
   * @param crossOrigin when given, whether the request came cross-origin (an `Origin` header): then only `spa`
   *   families rotate cross-origin and only they do (Entra 9002327 / 9002326), checked in the same statement so a
   *   refused request never consumes the token.
   */
  async rotateRefreshToken(
    familyId: string,
    clientId: string,
    presentedHash: string,
    next: { readonly tokenHash: string; readonly generation: number; readonly expiresAt: number },
    now: number,
    unauthenticatedClient = false,
    crossOrigin?: boolean,
  ): Promise<Redemption<RefreshTokenFamily>> {
    const row = await this.db
      .updateTable('refresh_tokens')
      .set((eb) => ({
        token_hash: next.tokenHash,
        generation: next.generation,
        last_used_at: now,
        // spa families keep the fixed expiry of their sign-in; others slide.
        expires_at: eb
          .case()
          .when('platform', '=', 'spa')
          .then(eb.ref('expires_at'))
          .else(next.expiresAt)
          .end(),
      }))
      .where('family_id', '=', familyId)
      .where('client_id', '=', clientId)
      .where('token_hash', '=', presentedHash)
      .where('generation', '=', next.generation - 1)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .$if(unauthenticatedClient, (qb) => qb.where('platform', '!=', 'web'))
      .$if(crossOrigin !== undefined, (qb) => qb.where('platform', crossOrigin === true ? '=' : '!=', 'spa'))
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) return { kind: 'unknown' };
    return { kind: 'ok', value: familyFromRow(row) };
  }

  /** A family by id (slow path: explaining a failed rotation, introspection). */
  async findRefreshFamily(
    familyId: string,
  ): Promise<(RefreshTokenFamily & { readonly revokedAt: number | null }) | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('family_id', '=', familyId)
      .executeTakeFirst();
    return row === undefined ? undefined : { ...familyFromRow(row), revokedAt: row.revoked_at };
  }

  /**
   * Revokes a refresh token family (reuse detected, code replayed, RFC 7009 revocation) and, in the same
   * transaction, records the revocation of its grant (`g:{familyId}`), so the access tokens it issued — which carry
   * the family id as `grant_id` — stop being active at introspection and userinfo on every node (RFC 6749 §4.1.2,
   * RFC 7009 §2.1). Recorded even when the family has no refresh token row (a code redeemed without
   * `offline_access`).
   */
  async revokeRefreshFamily(familyId: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await recordRevocations(trx, [grantRevocationId(familyId)], now);
      await trx
        .updateTable('refresh_tokens')
        .set({ revoked_at: now })
        .where('family_id', '=', familyId)
        .where('revoked_at', 'is', null)
        .execute();
    });
    this.notifyRevoked([grantRevocationId(familyId)]);
  }

  // --- revocations ------------------------------------------------------------------------------------------

  private readonly revocationListeners: ((ids: readonly string[]) => void)[] = [];

  /** Calls `listener` with the ids of every revocation this store records, right after it commits. */
  onRevoked(listener: (ids: readonly string[]) => void): void {
    this.revocationListeners.push(listener);
  }

  private notifyRevoked(ids: readonly string[]): void {
    for (const listener of this.revocationListeners) listener(ids);
  }

  /**
   * Records revocations (`g:{grant id}`, `u:{uti}`; see {@link grantRevocationId}, {@link tokenRevocationId}) in
   * one transaction that also bumps `revocation_state.version`. Recording one twice is harmless.
   */
  async recordRevocations(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction().execute((trx) => recordRevocations(trx, ids, now));
    this.notifyRevoked(ids);
  }

  /**
   * Revocations recorded after `version` and at or after `revokedSince` (Unix seconds), in version order: one
   * indexed read, what each node polls.
   */
  async revocationsAfter(
    version: number,
    revokedSince: number,
  ): Promise<{ readonly id: string; readonly version: number; readonly revokedAt: number }[]> {
    return this.db
      .selectFrom('token_revocations')
      .select(['id', 'version', 'revoked_at as revokedAt'])
      .where('version', '>', version)
      .where('revoked_at', '>=', revokedSince)
      .orderBy('version')
      .execute();
  }

  /** Whether a revocation is recorded (a fresh read, for the rare paths that must not wait for a poll). */
  async isRevocationRecorded(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('token_revocations')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes revocations recorded before `before` (Unix seconds): every token they covered has expired. */
  async purgeRevocations(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('token_revocations')
      .where('revoked_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The revocation id of a grant (a refresh token family and every token issued from it). */
export function grantRevocationId(grantId: string): string {
  return `g:${grantId}`;
}

/** The revocation id of one access token, by its `uti`. */
export function tokenRevocationId(uti: string): string {
  return `u:${uti}`;
}

async function recordRevocations(
  trx: Transaction<Database>,
  ids: readonly string[],
  now: number,
): Promise<void> {
  // The row lock on revocation_state orders concurrent writers, so versions become visible in increasing order.
  const { version } = await trx
    .updateTable('revocation_state')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .returning('version')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('token_revocations')
    .values(ids.map((id) => ({ id, version, revoked_at: now })))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

function familyFromRow(row: Database['refresh_tokens']): RefreshTokenFamily {
  return {
    familyId: row.family_id,
    tokenHash: row.token_hash,
    generation: row.generation,
    authentication: authenticationFromRow(row),
    grant: JSON.parse(row.grant) as AuthorizedGrant,
    clientInfo: row.client_info === 1,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** The authentication event of a code or family row (the columns both tables share). */
function authenticationFromRow(
  row: Pick<
    Database['refresh_tokens'],
    'client_id' | 'tenant_id' | 'user_id' | 'platform' | 'auth_time' | 'amr'
  >,
): AuthenticationEvent {
  return {
    userId: row.user_id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    platform: row.platform as RedirectPlatform,
    authTime: row.auth_time,
    amr: JSON.parse(row.amr) as string[],
  };
}
