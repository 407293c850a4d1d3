import { CompiledQuery, SqliteAdapter, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { AuthorizedGrant } from '../../directory/model.js';
import type { AuthenticationEvent } from '../../sessions/authentication-event.js';
import type { Database, RefreshTokenTable } from '../schema.js';
import { acrsColumn, authenticationFromRow } from './authentication-columns.js';
import type { Redemption } from './authorization-codes.js';
import { grantRevocationId, type TokenRevocationRepository } from './token-revocations.js';

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
  /**
   * RFC 9449 §5: the RFC 7638 thumbprint of the DPoP key every token of the family is bound to (public and spa
   * clients that redeemed with a proof); undefined when not bound.
   */
  readonly dpopJkt?: string | undefined;
}

/**
 * Refresh token families (`refresh_tokens`): one row per family holding the hash of its current token only.
 * Rotation is one conditional statement, so of two nodes racing with the same refresh token exactly one wins.
 *
 * @see RFC 6749 §6, §10.4; RFC 9700 §4.14 (refresh token protection)
 */
export class RefreshTokenFamilyRepository {
  /** SQLite only: rotations waiting for the next group commit (see {@link rotate}). */
  private pending: PendingRotation[] = [];
  private readonly groupCommit: boolean;
  /** The compiled rotation statement of each shape (see {@link rotationStatement}); at most eight. */
  private readonly rotationStatements = new Map<string, CompiledRotation>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly revocations: TokenRevocationRepository,
  ) {
    this.groupCommit = db.getExecutor().adapter instanceof SqliteAdapter;
  }

  /** Stores a new family with its first token; inside `trx` when given (a code's redemption). */
  async insert(family: RefreshTokenFamily, trx?: Transaction<Database>): Promise<void> {
    await (trx ?? this.db)
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
        acrs: acrsColumn(family.authentication),
        client_info: family.clientInfo ? 1 : 0,
        created_at: family.createdAt,
        last_used_at: family.createdAt,
        expires_at: family.expiresAt,
        revoked_at: null,
        dpop_jkt: family.dpopJkt ?? null,
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
   * @param dpopJkt the thumbprint of the request's DPoP proof key, if any: a family bound to a key rotates only with
   *   a proof by that key (RFC 9449 §5), in the same statement, so a request without it consumes nothing.
   *
   * On SQLite (synchronous = FULL) every commit waits for the disk, blocking the process while it does: the
   * rotations asked for in one turn of the event loop are committed together, each its own conditional UPDATE in
   * one transaction (group commit, one disk sync for all). Each caller's promise settles only after that commit, so
   * every returned rotation is durable; a rotation that matches nothing does not affect the others, and the same
   * family twice in one batch rotates once (the second UPDATE sees the first). On PostgreSQL each rotation is its
   * own statement (commits do not block the process there).
   */
  rotate(
    familyId: string,
    clientId: string,
    presentedHash: string,
    next: { readonly tokenHash: string; readonly generation: number; readonly expiresAt: number },
    now: number,
    unauthenticatedClient = false,
    crossOrigin?: boolean,
    dpopJkt?: string,
  ): Promise<Redemption<RefreshTokenFamily>> {
    const rotation: Rotation = {
      familyId,
      clientId,
      presentedHash,
      next,
      now,
      unauthenticatedClient,
      crossOrigin,
      dpopJkt,
    };
    if (!this.groupCommit) return this.rotateIn(this.db, rotation);
    return new Promise((resolve, reject) => {
      this.pending.push({ rotation, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.commitPending());
    });
  }

  /** Commits every pending rotation: alone as one statement, several in one transaction. */
  private async commitPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      const rotations = batch.map((pending) => pending.rotation);
      const [only] = rotations;
      const results =
        rotations.length === 1 && only !== undefined
          ? [await this.rotateIn(this.db, only)]
          : await this.db.transaction().execute(async (trx) => {
              const rotated: Redemption<RefreshTokenFamily>[] = [];
              for (const rotation of rotations) rotated.push(await this.rotateIn(trx, rotation));
              return rotated;
            });
      batch.forEach((pending, index) => {
        pending.resolve(results[index] ?? { kind: 'unknown' });
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }

  /**
   * One rotation: one conditional UPDATE … RETURNING, compiled once per shape ({@link rotationStatement}) and run
   * with this rotation's values, so the hot path does not build and compile the same Kysely query every time.
   */
  private async rotateIn(db: Kysely<Database>, rotation: Rotation): Promise<Redemption<RefreshTokenFamily>> {
    const statement = this.rotationStatement(rotation);
    const values: Record<RotationValue, unknown> = {
      familyId: rotation.familyId,
      clientId: rotation.clientId,
      presentedHash: rotation.presentedHash,
      tokenHash: rotation.next.tokenHash,
      generation: rotation.next.generation,
      previousGeneration: rotation.next.generation - 1,
      expiresAt: rotation.next.expiresAt,
      now: rotation.now,
      dpopJkt: rotation.dpopJkt,
    };
    const parameters = statement.slots.map((slot) => (typeof slot === 'string' ? values[slot] : slot.value));
    const { rows } = await db.executeQuery<Selectable<RefreshTokenTable>>(
      CompiledQuery.raw(statement.sql, parameters),
    );
    const [row] = rows;
    if (row === undefined) return { kind: 'unknown' };
    return { kind: 'ok', value: fromRow(row) };
  }

  /**
   * The rotation statement for the shape of `rotation` (client authenticated or not, cross-origin or not, with a
   * DPoP key or not): built with Kysely once, with a marker for each value, then kept as its SQL text and the
   * value each parameter takes (a marker's name, or a constant of the query such as `'spa'`).
   */
  private rotationStatement(rotation: Rotation): CompiledRotation {
    const shape = `${String(rotation.unauthenticatedClient)}|${String(rotation.crossOrigin)}|${String(rotation.dpopJkt !== undefined)}`;
    let statement = this.rotationStatements.get(shape);
    if (statement !== undefined) return statement;
    const marker = (name: RotationValue) => `\u0000rotation:${name}` as unknown as number & string;
    const { unauthenticatedClient, crossOrigin, dpopJkt } = rotation;
    const compiled = this.db
      .updateTable('refresh_tokens')
      .set((eb) => ({
        token_hash: marker('tokenHash'),
        generation: marker('generation'),
        last_used_at: marker('now'),
        // spa families keep the fixed expiry of their sign-in; others slide.
        expires_at: eb
          .case()
          .when('platform', '=', 'spa')
          .then(eb.ref('expires_at'))
          .else(marker('expiresAt'))
          .end(),
      }))
      .where('family_id', '=', marker('familyId'))
      .where('client_id', '=', marker('clientId'))
      .where('token_hash', '=', marker('presentedHash'))
      .where('generation', '=', marker('previousGeneration'))
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', marker('now'))
      .$if(unauthenticatedClient, (qb) => qb.where('platform', '!=', 'web'))
      .$if(crossOrigin !== undefined, (qb) => qb.where('platform', crossOrigin === true ? '=' : '!=', 'spa'))
      .where((eb) =>
        dpopJkt === undefined
          ? eb('dpop_jkt', 'is', null)
          : eb.or([eb('dpop_jkt', 'is', null), eb('dpop_jkt', '=', marker('dpopJkt'))]),
      )
      .returningAll()
      .compile();
    const prefix = '\u0000rotation:';
    statement = {
      sql: compiled.sql,
      slots: compiled.parameters.map((value) =>
        typeof value === 'string' && value.startsWith(prefix)
          ? (value.slice(prefix.length) as RotationValue)
          : { value },
      ),
    };
    this.rotationStatements.set(shape, statement);
    return statement;
  }

  /** A family by id (slow path: explaining a failed rotation, introspection). */
  async find(
    familyId: string,
  ): Promise<(RefreshTokenFamily & { readonly revokedAt: number | null }) | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('family_id', '=', familyId)
      .executeTakeFirst();
    return row === undefined ? undefined : { ...fromRow(row), revokedAt: row.revoked_at };
  }

  /**
   * Revokes a refresh token family (reuse detected, code replayed, RFC 7009 revocation) and, in the same
   * transaction, records the revocation of its grant (`g:{familyId}`), so the access tokens it issued — which carry
   * the family id as `grant_id` — stop being active at introspection and userinfo on every node (RFC 6749 §4.1.2,
   * RFC 7009 §2.1). Recorded even when the family has no refresh token row (a code redeemed without
   * `offline_access`).
   *
   * @param now Unix seconds.
   */
  async revoke(familyId: string, now: number): Promise<void> {
    await this.revocations.record([grantRevocationId(familyId)], now, async (trx) => {
      await trx
        .updateTable('refresh_tokens')
        .set({ revoked_at: now })
        .where('family_id', '=', familyId)
        .where('revoked_at', 'is', null)
        .execute();
    });
  }

  /**
   * Deletes, inside `trx`, families past their expiry (revoked or not). Families that are revoked but unexpired
   * stay, so reuse of their tokens is still recognised.
   *
   * @param now Unix seconds.
   * @returns how many families were deleted.
   */
  async purgeExpired(trx: Transaction<Database>, now: number): Promise<number> {
    const result = await trx.deleteFrom('refresh_tokens').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The arguments of one {@link RefreshTokenFamilyRepository.rotate} call. */
interface Rotation {
  readonly familyId: string;
  readonly clientId: string;
  readonly presentedHash: string;
  readonly next: { readonly tokenHash: string; readonly generation: number; readonly expiresAt: number };
  readonly now: number;
  readonly unauthenticatedClient: boolean;
  readonly crossOrigin: boolean | undefined;
  readonly dpopJkt: string | undefined;
}

/** The values a rotation statement takes. */
type RotationValue =
  | 'familyId'
  | 'clientId'
  | 'presentedHash'
  | 'tokenHash'
  | 'generation'
  | 'previousGeneration'
  | 'expiresAt'
  | 'now'
  | 'dpopJkt';

/** A compiled rotation statement: its SQL and, per parameter, the rotation value or the constant it takes. */
interface CompiledRotation {
  readonly sql: string;
  readonly slots: readonly (RotationValue | { readonly value: unknown })[];
}

/** A rotation waiting for its group commit, and its caller's promise. */
interface PendingRotation {
  readonly rotation: Rotation;
  readonly resolve: (result: Redemption<RefreshTokenFamily>) => void;
  readonly reject: (error: unknown) => void;
}

function fromRow(row: Selectable<RefreshTokenTable>): RefreshTokenFamily {
  return {
    familyId: row.family_id,
    tokenHash: row.token_hash,
    generation: row.generation,
    authentication: authenticationFromRow(row),
    grant: JSON.parse(row.grant) as AuthorizedGrant,
    clientInfo: row.client_info === 1,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    ...(row.dpop_jkt === null ? {} : { dpopJkt: row.dpop_jkt }),
  };
}
