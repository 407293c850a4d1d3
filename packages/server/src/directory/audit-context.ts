import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Graph `userIdentity` of an audit initiator. */
export interface AuditUserIdentity {
  readonly id: string;
  readonly displayName: string | null;
  readonly userPrincipalName: string | null;
  readonly ipAddress: string | null;
}

/** Graph `appIdentity` of an audit initiator; `appId` and `servicePrincipalId` null for Tessera's own tools. */
export interface AuditAppIdentity {
  readonly appId: string | null;
  readonly displayName: string | null;
  readonly servicePrincipalId: string | null;
  readonly servicePrincipalName: string | null;
}

/** Who makes a directory write: a user (delegated) or an application (app-only, or a Tessera tool). */
export type AuditActor = { readonly user: AuditUserIdentity } | { readonly app: AuditAppIdentity };

/**
 * What a door (the management API, the CLI, the sign-in pages, a seed) knows about the work it runs: the actor
 * (filled in once known: the management API learns it when it authenticates the caller) and the correlation id
 * every audit of that work carries. `audited` tells the door that a directory write recorded its own audit, so a
 * refusal is not recorded twice.
 */
export interface AuditScope {
  actor: AuditActor | undefined;
  readonly correlationId: string;
  /** The caller's IP address, for a user actor filled in later. */
  readonly ipAddress: string | null;
  audited: boolean;
  /** The scope this one was opened in ({@link runAsAuditActor}); told of audits too. */
  readonly parent: AuditScope | undefined;
}

const scopes = new AsyncLocalStorage<AuditScope>();

/** The actor of directory writes made by the command line (`tessera …`). */
export const CLI_ACTOR: AuditActor = {
  app: { appId: null, displayName: 'Tessera CLI', servicePrincipalId: null, servicePrincipalName: null },
};

/** The actor of directory writes made outside any door (the demo and test seeds, the server itself). */
export const SYSTEM_ACTOR: AuditActor = {
  app: { appId: null, displayName: 'Tessera', servicePrincipalId: null, servicePrincipalName: null },
};

/**
 * Runs `work` in a new audit scope: every directory write it makes is audited with `scope`'s actor and correlation
 * id (a new GUID when none is given).
 */
export function runInAuditScope<T>(
  scope: { readonly actor?: AuditActor; readonly correlationId?: string; readonly ipAddress?: string | null },
  work: () => T,
): T {
  return scopes.run(newScope(scope, undefined), work);
}

function newScope(
  scope: { readonly actor?: AuditActor; readonly correlationId?: string; readonly ipAddress?: string | null },
  parent: AuditScope | undefined,
): AuditScope {
  return {
    actor: scope.actor,
    correlationId: scope.correlationId ?? randomUUID(),
    ipAddress: scope.ipAddress ?? null,
    audited: false,
    parent,
  };
}

/**
 * Runs `work` with `actor` as the actor of its directory writes, keeping the surrounding scope's correlation id
 * and IP address (a new scope when there is none). A user actor without an IP address gets the scope's.
 */
export function runAsAuditActor<T>(actor: AuditActor, work: () => T): T {
  const outer = scopes.getStore();
  const withIp: AuditActor =
    'user' in actor && actor.user.ipAddress === null && outer?.ipAddress != null
      ? { user: { ...actor.user, ipAddress: outer.ipAddress } }
      : actor;
  const scope = newScope(
    {
      actor: withIp,
      ...(outer === undefined ? {} : { correlationId: outer.correlationId }),
      ipAddress: outer?.ipAddress ?? null,
    },
    outer,
  );
  return scopes.run(scope, work);
}

/** Marks `scope` and the scopes it was opened in as audited. */
export function markAudited(scope: AuditScope): void {
  for (let at: AuditScope | undefined = scope; at !== undefined; at = at.parent) at.audited = true;
}

/** The audit scope of the running work, if a door opened one. */
export function currentAuditScope(): AuditScope | undefined {
  return scopes.getStore();
}
