import type { Kysely, Selectable } from 'kysely';
import type { Database, InteractionStepTable } from '../schema.js';

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

/** The pages of interactive sign-ins as shown (`interaction_steps`), by the hash of their form's handle. */
export class InteractionStepRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores one page of an interactive sign-in as it is shown (see {@link StoredInteractionStep}). */
  async insert(step: StoredInteractionStep): Promise<void> {
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
  async find(handleHash: string, now: number): Promise<StoredInteractionStep | undefined> {
    const row = await this.db
      .selectFrom('interaction_steps')
      .selectAll()
      .where('handle_hash', '=', handleHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * Deletes the step of a handle hash and says whether this call deleted it: of two requests answering the same
   * page, only one gets true (a decision that must be taken once, such as admin consent).
   */
  async consume(handleHash: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('interaction_steps')
      .where('handle_hash', '=', handleHash)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** Deletes interaction steps that expired at or before `now` (Unix seconds); returns how many. */
  async purge(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom('interaction_steps')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function fromRow(row: Selectable<InteractionStepTable>): StoredInteractionStep {
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
