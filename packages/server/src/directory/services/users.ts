import { randomUUID } from 'node:crypto';
import type { DirectoryStore, UserWithPassword } from '../../store/directory-store.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import { GLOBAL_ADMINISTRATOR, type User } from '../model.js';
import { hashPassword } from '../passwords.js';
import type { TenantService } from './tenants.js';
import { tenantPage, type Page, type TenantPageRequest } from './paging.js';

/** Users (Graph `user`) with argon2id password hashes; sign-in itself is `users/password-sign-in.ts`. */
export class UserService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly tenants: TenantService,
  ) {}

  /**
   * Creates a user with an argon2id password hash.
   *
   * @param admin true: the user holds {@link GLOBAL_ADMINISTRATOR} (may consent for the tenant).
   * @param accountEnabled default true; false creates the user unable to sign in (Graph `POST /users` with
   *   `accountEnabled: false`), in the same write.
   * @throws DirectoryError `not_found` (tenant), `invalid` (UPN not in a verified domain, password shorter than 8
   *   characters), `conflict` (UPN taken).
   */
  async create(input: {
    tenant: string;
    userPrincipalName: string;
    password: string;
    displayName?: string;
    admin?: boolean;
    accountEnabled?: boolean;
  }): Promise<User> {
    const tenant = await this.tenants.require(input.tenant);
    const upn = input.userPrincipalName.trim();
    const domain = upn.split('@')[1]?.toLowerCase();
    if (domain === undefined || !tenant.domains.includes(domain)) {
      throw new DirectoryError(
        'invalid',
        `The UPN '${upn}' must end in one of the tenant's verified domains.`,
      );
    }
    checkPassword(input.password);
    if ((await this.store.users.findByUpn(upn)) !== undefined) {
      throw new DirectoryError('conflict', `A user '${upn}' already exists.`);
    }
    const user: User = {
      id: randomUUID(),
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: input.displayName ?? upn.split('@')[0] ?? upn,
      accountEnabled: input.accountEnabled ?? true,
      directoryRoles: input.admin === true ? [GLOBAL_ADMINISTRATOR] : [],
    };
    const passwordHash = await hashPassword(input.password);
    await writeOrConflict(this.store, `A user '${upn}' already exists.`, (trx) =>
      this.store.users.insert(trx, user, passwordHash, this.nowSeconds()),
    );
    return user;
  }

  /**
   * Enables or disables a user's sign-in (Graph `accountEnabled`).
   *
   * @throws DirectoryError `not_found`.
   */
  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    const updated = await this.store.write((trx) => this.store.users.setAccountEnabled(trx, userId, enabled));
    if (!updated) throw new DirectoryError('not_found', `User '${userId}' not found.`);
  }

  /**
   * A user of a tenant by object id or UPN, as Graph's `/users/{id | userPrincipalName}` (no password hash).
   *
   * @throws DirectoryError `not_found` (tenant, or no such user in it).
   */
  async get(tenant: string, id: string): Promise<User> {
    const { passwordHash: _hash, ...user } = await this.requireIn(tenant, id);
    return user;
  }

  /**
   * Changes a user (Graph `PATCH /users/{id}`): the display name, whether sign-in is enabled, the password
   * (Graph `passwordProfile.password`, hashed with argon2id). Disabling a user stops its refresh tokens, codes
   * and browser sessions from working on every node (they check the user through the directory cache).
   *
   * @param id object id or UPN.
   * @param change only the fields given change; none is a valid no-op.
   * @returns the user as stored after the change.
   * @throws DirectoryError `not_found` (tenant, or no such user in it), `invalid` (empty display name, password
   *   shorter than 8 characters).
   * @see https://learn.microsoft.com/graph/api/user-update
   */
  async update(
    tenant: string,
    id: string,
    change: { readonly displayName?: string; readonly accountEnabled?: boolean; readonly password?: string },
  ): Promise<User> {
    const current = await this.requireIn(tenant, id);
    const displayName = change.displayName?.trim();
    if (displayName === '') throw new DirectoryError('invalid', 'A user needs a display name.');
    if (change.password !== undefined) checkPassword(change.password);
    const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
    const updated = await this.store.write((trx) =>
      this.store.users.update(trx, current.id, {
        ...(displayName === undefined ? {} : { displayName }),
        ...(change.accountEnabled === undefined ? {} : { accountEnabled: change.accountEnabled }),
        ...(passwordHash === undefined ? {} : { passwordHash }),
      }),
    );
    if (!updated) throw new DirectoryError('not_found', `User '${id}' not found.`);
    return this.get(tenant, current.id);
  }

  /**
   * Deletes a user with what hangs off it, in one write: its app role assignments and the delegated grants it
   * gave (`Principal`). Its refresh tokens, codes and browser sessions stop working on every node (the user is
   * gone from the directory cache); access tokens already issued stay valid until they expire, as in Entra ID.
   *
   * @param id object id or UPN.
   * @throws DirectoryError `not_found` (tenant, or no such user in it).
   * @see https://learn.microsoft.com/graph/api/user-delete
   */
  async delete(tenant: string, id: string): Promise<void> {
    const user = await this.requireIn(tenant, id);
    const deleted = await this.store.write(async (trx) => {
      await this.store.appRoleAssignments.deleteInvolving(trx, user.id);
      await this.store.permissionGrants.deleteInvolving(trx, user.id);
      return this.store.users.delete(trx, user.id);
    });
    if (!deleted) throw new DirectoryError('not_found', `User '${id}' not found.`);
  }

  /**
   * A user of a tenant, by object id or UPN, with its password hash.
   *
   * @throws DirectoryError `not_found` (tenant, or no such user in it).
   */
  private async requireIn(tenant: string, idOrUpn: string): Promise<UserWithPassword> {
    const home = await this.tenants.require(tenant);
    const user = idOrUpn.includes('@')
      ? await this.store.users.findByUpn(idOrUpn)
      : await this.store.users.findById(idOrUpn);
    if (user?.tenantId !== home.id) {
      throw new DirectoryError('not_found', `User '${idOrUpn}' not found in tenant '${tenant}'.`);
    }
    return user;
  }

  /**
   * One page of the users of a tenant, by object id (no password hashes).
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  list(request: TenantPageRequest): Promise<Page<User>> {
    return tenantPage(this.tenants, request, (page) => this.store.users.list(page));
  }
}

/**
 * Checks a new password against the directory's rule.
 *
 * @throws DirectoryError `invalid` for a password shorter than 8 characters.
 */
function checkPassword(password: string): void {
  if (password.length < 8) throw new DirectoryError('invalid', 'A password needs at least 8 characters.');
}
