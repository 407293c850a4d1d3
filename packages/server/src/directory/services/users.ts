import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
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
   * @throws DirectoryError `not_found` (tenant), `invalid` (UPN not in a verified domain, password shorter than 8
   *   characters), `conflict` (UPN taken).
   */
  async create(input: {
    tenant: string;
    userPrincipalName: string;
    password: string;
    displayName?: string;
    admin?: boolean;
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
    if (input.password.length < 8)
      throw new DirectoryError('invalid', 'A password needs at least 8 characters.');
    if ((await this.store.users.findByUpn(upn)) !== undefined) {
      throw new DirectoryError('conflict', `A user '${upn}' already exists.`);
    }
    const user: User = {
      id: randomUUID(),
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: input.displayName ?? upn.split('@')[0] ?? upn,
      accountEnabled: true,
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
   * One page of the users of a tenant, by object id (no password hashes).
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  list(request: TenantPageRequest): Promise<Page<User>> {
    return tenantPage(this.tenants, request, (page) => this.store.users.list(page));
  }
}
