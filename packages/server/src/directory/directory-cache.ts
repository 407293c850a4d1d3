import type { DirectoryStore } from '../store/directory-store.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from './builtin-directory-app.js';
import { GUID_PATTERN } from './identifiers.js';
import type { Application, OAuth2PermissionGrant, ServicePrincipal, Tenant, User } from './model.js';

/** Entries per lookup table before it is cleared; bounds memory against lookups of random names. */
const MAX_ENTRIES = 20_000;

class Memo<T> {
  private entries = new Map<string, Promise<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const loading = load();
    this.entries.set(key, loading);
    // A failed load (e.g. the database was briefly unreachable) must not be remembered.
    loading.catch(() => this.entries.delete(key));
    return loading;
  }

  clear(): void {
    this.entries = new Map();
  }
}

/**
 * Read-through cache of the directory lookups the token endpoint makes, so issuing a token does no I/O once warm.
 * Every entry is dropped when the directory version changes ({@link DirectoryWatcher}), on this node at once
 * and on others within one poll interval.
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

  constructor(private readonly store: DirectoryStore) {}

  /** A tenant by GUID or verified domain (case-insensitive). */
  tenant(idOrDomain: string): Promise<Tenant | undefined> {
    const key = idOrDomain.toLowerCase();
    return this.tenants.get(key, () => this.store.findTenant(key));
  }

  /** An application by `appId`, the built-in directory API included. */
  application(appId: string): Promise<Application | undefined> {
    const key = appId.toLowerCase();
    if (key === DIRECTORY_APP_ID) return Promise.resolve(builtinDirectoryApplication);
    if (!GUID_PATTERN.test(key)) return Promise.resolve(undefined);
    return this.applications.get(key, () => this.store.findApplicationByAppId(key));
  }

  /** The `appId` named by a resource identifier: an `appId` itself or an App ID URI (case-insensitive). */
  resourceAppId(identifier: string): Promise<string | undefined> {
    const key = identifier.toLowerCase();
    if (GUID_PATTERN.test(key)) return Promise.resolve(key);
    if (builtinDirectoryApplication.identifierUris.some((uri) => uri.toLowerCase() === key)) {
      return Promise.resolve(DIRECTORY_APP_ID);
    }
    return this.resourceAppIds.get(key, () => this.store.findAppIdByIdentifierUri(key));
  }

  /** The service principal of `appId` in `tenantId`. */
  servicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const key = `${tenantId}|${appId.toLowerCase()}`;
    return this.servicePrincipals.get(key, () => this.store.findServicePrincipal(tenantId, appId));
  }

  /** App role ids granted to a principal on a resource service principal. */
  assignedAppRoleIds(principalId: string, resourceId: string): Promise<readonly string[]> {
    return this.assignedRoles.get(`${principalId}|${resourceId}`, () =>
      this.store.listAssignedAppRoleIds(principalId, resourceId),
    );
  }

  /** A user by object id, without the password hash. */
  user(id: string): Promise<User | undefined> {
    const key = id.toLowerCase();
    if (!GUID_PATTERN.test(key)) return Promise.resolve(undefined);
    return this.users.get(key, async () => {
      const found = await this.store.findUserById(key);
      if (found === undefined) return undefined;
      const { passwordHash: _hash, ...user } = found;
      return user;
    });
  }

  /** Delegated grants of a client service principal on a resource service principal. */
  permissionGrants(clientSpId: string, resourceSpId: string): Promise<readonly OAuth2PermissionGrant[]> {
    return this.grants.get(`${clientSpId}|${resourceSpId}`, () =>
      this.store.listPermissionGrants(clientSpId, resourceSpId),
    );
  }

  /** Origins of all `spa` redirect URIs (CORS preflight allow-list). */
  spaOrigins(): Promise<ReadonlySet<string>> {
    this.spaOriginSet ??= this.store.listSpaOrigins().then((list) => new Set(list));
    this.spaOriginSet.catch(() => (this.spaOriginSet = undefined));
    return this.spaOriginSet;
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
  }
}

/**
 * Polls `directory_state.version` and calls `onChange` when another process (the CLI, another node) wrote.
 * One indexed single-row read per interval, off the request path.
 */
export class DirectoryWatcher {
  private timer: NodeJS.Timeout | undefined;
  private lastVersion: number | undefined;
  private polling = false;

  constructor(
    private readonly store: DirectoryStore,
    private readonly onChange: () => Promise<void> | void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Reads the current version, then polls every `intervalMs` milliseconds. */
  async start(intervalMs: number): Promise<void> {
    this.lastVersion = await this.store.version();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Checks the version now; resolves after `onChange` when it changed. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const version = await this.store.version();
      if (version !== this.lastVersion) {
        this.lastVersion = version;
        await this.onChange();
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
