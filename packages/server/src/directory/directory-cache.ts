import type { DirectoryStore } from '../store/directory-store.js';
import { ConditionalAccessPolicyRepository } from '../store/repositories/conditional-access-policies.js';
import type { DirectoryChange, DirectoryChanges } from '../store/repositories/directory-changes.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from './builtin-directory-app.js';
import type { ConditionalAccessPolicy } from './conditional-access-policy.js';
import { GUID_PATTERN } from './identifiers.js';
import type { Application, OAuth2PermissionGrant, ServicePrincipal, Tenant, User } from './model.js';

export type { DirectoryChange, DirectoryChanges } from '../store/repositories/directory-changes.js';

/** Entries per lookup table before it is cleared; bounds memory against lookups of random names. */
const MAX_ENTRIES = 20_000;

interface MemoEntry<T> {
  readonly loading: Promise<T>;
  /** Set once `loading` resolved. */
  loaded?: { readonly value: T };
}

class Memo<T> {
  private entries = new Map<string, MemoEntry<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit.loading;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const entry: MemoEntry<T> = { loading: load() };
    this.entries.set(key, entry);
    entry.loading.then(
      (value) => (entry.loaded = { value }),
      // A failed load (e.g. the database was briefly unreachable) must not be remembered.
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.loading;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Drops the entries whose loaded value `matches`, every entry still loading (it may have read the old row) and,
   * when `dropMisses`, every entry that found nothing (the write may have created what it looked for).
   */
  deleteWhere(matches: (value: T, key: string) => boolean, dropMisses = true): void {
    for (const [key, entry] of this.entries) {
      const loaded = entry.loaded;
      if (loaded === undefined || (dropMisses && loaded.value === undefined) || matches(loaded.value, key)) {
        this.entries.delete(key);
      }
    }
  }

  clear(): void {
    this.entries = new Map();
  }
}

/**
 * Read-through cache of the directory lookups the token endpoint makes, so issuing a token does no I/O once warm.
 * A write evicts only the entries of the entities it changed ({@link DirectoryCache.evict}): a write through
 * this node's store at once, another node's (or the CLI's) within one poll interval ({@link DirectoryWatcher}).
 */
export class DirectoryCache {
  private readonly tenants = new Memo<Tenant | undefined>();
  private readonly applications = new Memo<Application | undefined>();
  private readonly resourceAppIds = new Memo<string | undefined>();
  private readonly servicePrincipals = new Memo<ServicePrincipal | undefined>();
  private readonly assignedRoles = new Memo<readonly string[]>();
  private readonly users = new Memo<User | undefined>();
  private spaOriginSet: Promise<ReadonlySet<string>> | undefined;
  private readonly grants = new Memo<readonly OAuth2PermissionGrant[]>();
  private readonly policies = new Memo<readonly ConditionalAccessPolicy[]>();
  private readonly policyRepository: ConditionalAccessPolicyRepository;

  /** Reads through `store`, and evicts what each write through `store` changed once it committed. */
  constructor(private readonly store: DirectoryStore) {
    this.policyRepository = new ConditionalAccessPolicyRepository(store.db);
    store.onWritten((changes) => {
      this.evict(changes);
    });
  }

  /** A tenant by GUID or verified domain (case-insensitive). */
  tenant(idOrDomain: string): Promise<Tenant | undefined> {
    const key = idOrDomain.toLowerCase();
    return this.tenants.get(key, () => this.store.tenants.find(key));
  }

  /** An application by `appId`, the built-in directory API included. */
  application(appId: string): Promise<Application | undefined> {
    const key = appId.toLowerCase();
    if (key === DIRECTORY_APP_ID) return Promise.resolve(builtinDirectoryApplication);
    if (!GUID_PATTERN.test(key)) return Promise.resolve(undefined);
    return this.applications.get(key, () => this.store.applications.findByAppId(key));
  }

  /** The `appId` named by a resource identifier: an `appId` itself or an App ID URI (case-insensitive). */
  resourceAppId(identifier: string): Promise<string | undefined> {
    const key = identifier.toLowerCase();
    if (GUID_PATTERN.test(key)) return Promise.resolve(key);
    if (builtinDirectoryApplication.identifierUris.some((uri) => uri.toLowerCase() === key)) {
      return Promise.resolve(DIRECTORY_APP_ID);
    }
    return this.resourceAppIds.get(key, () => this.store.applications.findAppIdByIdentifierUri(key));
  }

  /** The service principal of `appId` in `tenantId`. */
  servicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const key = `${tenantId}|${appId.toLowerCase()}`;
    return this.servicePrincipals.get(key, () => this.store.servicePrincipals.find(tenantId, appId));
  }

  /** App role ids granted to a principal on a resource service principal. */
  assignedAppRoleIds(principalId: string, resourceId: string): Promise<readonly string[]> {
    return this.assignedRoles.get(`${principalId}|${resourceId}`, () =>
      this.store.appRoleAssignments.listAppRoleIds(principalId, resourceId),
    );
  }

  /** A user by object id, without the password hash. */
  user(id: string): Promise<User | undefined> {
    const key = id.toLowerCase();
    if (!GUID_PATTERN.test(key)) return Promise.resolve(undefined);
    return this.users.get(key, async () => {
      const found = await this.store.users.findById(key);
      if (found === undefined) return undefined;
      const { passwordHash: _hash, ...user } = found;
      return user;
    });
  }

  /** Delegated grants of a client service principal on a resource service principal. */
  permissionGrants(clientSpId: string, resourceSpId: string): Promise<readonly OAuth2PermissionGrant[]> {
    return this.grants.get(`${clientSpId}|${resourceSpId}`, () =>
      this.store.permissionGrants.listBetween(clientSpId, resourceSpId),
    );
  }

  /** Every conditional access policy of a tenant (by tenant id), whatever its state. */
  conditionalAccessPolicies(tenantId: string): Promise<readonly ConditionalAccessPolicy[]> {
    const key = tenantId.toLowerCase();
    return this.policies.get(key, () => this.policyRepository.listByTenant(key));
  }

  /** Origins of all `spa` redirect URIs (CORS preflight allow-list). */
  spaOrigins(): Promise<ReadonlySet<string>> {
    this.spaOriginSet ??= this.store.applications.listSpaOrigins().then((list) => new Set(list));
    this.spaOriginSet.catch(() => (this.spaOriginSet = undefined));
    return this.spaOriginSet;
  }

  /** Drops the entries of the entities in `changes`; `'all'` drops every entry. */
  evict(changes: DirectoryChanges): void {
    if (changes === 'all') {
      this.invalidate();
      return;
    }
    for (const change of changes) this.evictOne(change);
  }

  /** Drops every entry. */
  invalidate(): void {
    this.spaOriginSet = undefined;
    this.users.clear();
    this.grants.clear();
    this.tenants.clear();
    this.applications.clear();
    this.resourceAppIds.clear();
    this.servicePrincipals.clear();
    this.assignedRoles.clear();
    this.policies.clear();
  }

  private evictOne({ entityType, entityId }: DirectoryChange): void {
    const id = entityId.toLowerCase();
    switch (entityType) {
      case 'tenant':
        // Keyed by id and by each domain: drop every key that found this tenant (or nothing).
        this.tenants.deleteWhere((tenant) => tenant?.id === id);
        return;
      case 'application':
        this.applications.delete(id);
        this.resourceAppIds.deleteWhere((appId) => appId === id);
        this.spaOriginSet = undefined;
        return;
      case 'servicePrincipal':
        this.servicePrincipals.deleteWhere((sp) => sp?.id === id);
        return;
      case 'user':
        this.users.delete(id);
        return;
      case 'appRoleAssignment':
        this.assignedRoles.deleteWhere((_roles, key) => key.startsWith(`${entityId}|`), false);
        return;
      case 'oauth2PermissionGrant':
        this.grants.deleteWhere((_grants, key) => key.startsWith(`${entityId}|`), false);
        return;
      case 'conditionalAccessPolicy':
        this.policies.delete(id);
        return;
      case 'signingKey':
        // Not cached here: the key ring reloads (see `createTesseraServer`).
        return;
    }
  }
}

/**
 * Polls `directory_state.version` and, when another process (the CLI, another node) wrote, tells `onChange` what
 * changed since the version it last handled (`directory_changes`), or `'all'` when it fell too far behind. One
 * indexed single-row read per interval, off the request path.
 *
 * The baseline version is read before the caller's first load, so a write that lands during that load is seen by
 * the first poll; a version counts as handled only once `onChange` succeeded,
 * so a failed reload is retried at the next poll.
 */
export class DirectoryWatcher {
  private timer: NodeJS.Timeout | undefined;
  private lastVersion: number | undefined;
  private polling = false;

  /**
   * @param baselineVersion the directory version the caller's state reflects, read before loading that state;
   *   absent: read by {@link start}.
   */
  constructor(
    private readonly store: DirectoryStore,
    private readonly onChange: (changes: DirectoryChanges) => Promise<void> | void,
    private readonly onError: (error: unknown) => void,
    baselineVersion?: number,
  ) {
    this.lastVersion = baselineVersion;
  }

  /** Polls every `intervalMs` milliseconds, from the baseline version (read now when none was given). */
  async start(intervalMs: number): Promise<void> {
    this.lastVersion ??= await this.store.version();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Checks the version now; resolves after `onChange` when it changed. Never overlaps itself. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const version = await this.store.version();
      if (version !== this.lastVersion) {
        const changes =
          this.lastVersion === undefined ? 'all' : await this.store.changes.since(this.lastVersion, version);
        await this.onChange(changes);
        this.lastVersion = version;
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.polling = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
