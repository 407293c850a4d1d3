import type { Kysely, Transaction } from 'kysely';
import { AppRoleAssignmentRepository } from './repositories/app-role-assignments.js';
import { ApplicationOwnerRepository } from './repositories/application-owners.js';
import { ApplicationRepository } from './repositories/applications.js';
import { AssertionJtiRepository } from './repositories/assertion-jtis.js';
import { DirectoryChangeLog, type DirectoryChanges } from './repositories/directory-changes.js';
import { PermissionGrantRepository } from './repositories/permission-grants.js';
import { ServicePrincipalRepository } from './repositories/service-principals.js';
import { SigningKeyRepository } from './repositories/signing-keys.js';
import { TenantRepository } from './repositories/tenants.js';
import { UserRepository } from './repositories/users.js';
import type { Database } from './schema.js';

export type { StoredSigningKey } from './repositories/signing-keys.js';
export type { UserWithPassword } from './repositories/users.js';

/** Told, after a directory write committed, what it changed. */
export type DirectoryWriteListener = (changes: DirectoryChanges) => void;

/**
 * The directory's persistence, one repository per aggregate (`store/repositories/`), on SQLite and PostgreSQL
 * alike: tenants, applications (with App ID URIs and credentials), service principals, users, app role
 * assignments, delegated permission grants, client assertion `jti`s, token signing keys, and the change log.
 *
 * Every write runs through {@link DirectoryStore.write}: one transaction that takes the next directory version
 * and records which entities it changed (`directory_changes`), so a reader that sees the new version also sees
 * the whole write, and caches on every node evict exactly what changed (`directory/directory-cache.ts`).
 */
export class DirectoryStore {
  readonly tenants: TenantRepository;
  readonly applications: ApplicationRepository;
  /** Owners of applications (users of their home tenants). */
  readonly applicationOwners: ApplicationOwnerRepository;
  readonly servicePrincipals: ServicePrincipalRepository;
  readonly users: UserRepository;
  readonly appRoleAssignments: AppRoleAssignmentRepository;
  readonly permissionGrants: PermissionGrantRepository;
  readonly assertionJtis: AssertionJtiRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly changes: DirectoryChangeLog;
  private readonly listeners = new Set<DirectoryWriteListener>();

  constructor(readonly db: Kysely<Database>) {
    this.tenants = new TenantRepository(db);
    this.applications = new ApplicationRepository(db);
    this.applicationOwners = new ApplicationOwnerRepository(db);
    this.servicePrincipals = new ServicePrincipalRepository(db);
    this.users = new UserRepository(db);
    this.appRoleAssignments = new AppRoleAssignmentRepository(db);
    this.permissionGrants = new PermissionGrantRepository(db);
    this.assertionJtis = new AssertionJtiRepository(db);
    this.signingKeys = new SigningKeyRepository(db);
    this.changes = new DirectoryChangeLog(db);
  }

  /** The directory version; changes after every write. */
  version(): Promise<number> {
    return this.changes.version();
  }

  /**
   * Runs `work` in a transaction under the next directory version; after it commits, tells every
   * {@link onWritten} listener what it changed (`'all'` when `work` recorded no entity).
   */
  async write<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const { result, changes } = await this.db.transaction().execute(async (trx) => {
      const version = await this.changes.begin(trx);
      const done = await work(trx);
      return { result: done, changes: await this.changes.end(trx, version) };
    });
    for (const listener of this.listeners) listener(changes);
    return result;
  }

  /**
   * Calls `listener` after each write through this store commits (this process's writes only; other processes'
   * are found by polling the change log).
   *
   * @returns a function that removes the listener.
   */
  onWritten(listener: DirectoryWriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
