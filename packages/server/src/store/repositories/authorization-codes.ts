import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AuthorizedGrant } from '../../directory/model.js';
import type { AuthenticationEvent } from '../../sessions/authentication-event.js';
import type { AuthorizationCodeTable, Database } from '../schema.js';
import { acrsColumn, authenticationFromRow } from './authentication-columns.js';

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
  /**
   * RFC 9449 §10: the `dpop_jkt` of the authorization request (RFC 7638 thumbprint): the code is redeemed only
   * with a DPoP proof by that key. Undefined when not bound.
   */
  readonly dpopJkt?: string | undefined;
}

/** Outcome of redeeming a code or rotating a refresh token. */
export type Redemption<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'replayed'; readonly familyId: string }
  | { readonly kind: 'unknown' };

/**
 * Authorization codes (`authorization_codes`), single use: each redemption is one conditional statement in a
 * transaction with the family it creates, so of two nodes racing for the same code exactly one wins.
 *
 * @see RFC 6749 §4.1.2, §10.5
 */
export class AuthorizationCodeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a code as issued; `createdAt` in Unix seconds. */
  async insert(code: StoredAuthorizationCode, createdAt: number): Promise<void> {
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
        acrs: acrsColumn(code.authentication),
        client_info: code.clientInfo ? 1 : 0,
        family_id: code.familyId,
        expires_at: code.expiresAt,
        redeemed_at: null,
        created_at: createdAt,
        dpop_jkt: code.dpopJkt ?? null,
      })
      .execute();
  }

  /**
   * Reads a code without redeeming it, for the checks that come before redemption: `unknown`, `replayed` (already
   * used, with the refresh token family its redemption created) or the code as stored.
   */
  async find(codeHash: string): Promise<Redemption<StoredAuthorizationCode>> {
    const row = await this.db
      .selectFrom('authorization_codes')
      .selectAll()
      .where('code_hash', '=', codeHash)
      .executeTakeFirst();
    if (row === undefined) return { kind: 'unknown' };
    if (row.redeemed_at !== null) return { kind: 'replayed', familyId: row.family_id };
    return { kind: 'ok', value: codeFromRow(row) };
  }

  /**
   * Redeems a code in one transaction: a conditional UPDATE … RETURNING marks it used, then `alongside` (the
   * insert of the refresh token family) runs in the same transaction, so the code is used with its family or not
   * at all — a process killed between them leaves neither. Of several nodes racing for the code exactly one gets
   * `ok`; the others (on PostgreSQL they wait for the winner's row lock) get `replayed` only once the winner has
   * committed, so revoking the family they are given always finds it. Expiry is the caller's check.
   *
   * @param now Unix seconds.
   */
  async redeem(
    codeHash: string,
    now: number,
    alongside?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<Redemption<StoredAuthorizationCode>> {
    const row = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('authorization_codes')
        .set({ redeemed_at: now })
        .where('code_hash', '=', codeHash)
        .where('redeemed_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (updated !== undefined) await alongside?.(trx);
      return updated;
    });
    if (row === undefined) {
      const used = await this.db
        .selectFrom('authorization_codes')
        .select('family_id')
        .where('code_hash', '=', codeHash)
        .executeTakeFirst();
      return used === undefined ? { kind: 'unknown' } : { kind: 'replayed', familyId: used.family_id };
    }
    return { kind: 'ok', value: codeFromRow(row) };
  }

  /**
   * Deletes, inside `trx`, codes that expired before `before` (Unix seconds): a replay of one is `unknown` from
   * then on, which the token endpoint refuses anyway.
   *
   * @returns how many codes were deleted.
   */
  async purgeExpired(trx: Transaction<Database>, before: number): Promise<number> {
    const result = await trx
      .deleteFrom('authorization_codes')
      .where('expires_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function codeFromRow(row: Selectable<AuthorizationCodeTable>): StoredAuthorizationCode {
  return {
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
    ...(row.dpop_jkt === null ? {} : { dpopJkt: row.dpop_jkt }),
  };
}
