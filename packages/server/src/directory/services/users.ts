import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DirectoryStore, UserWithPassword } from '../../store/directory-store.js';
import type { Database } from '../../store/schema.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import {
  DIRECTORY_ROLES,
  GLOBAL_ADMINISTRATOR,
  USER_PROFILE_PROPERTIES,
  type Tenant,
  type User,
  type UserProfile,
} from '../model.js';
import { hashPassword } from '../passwords.js';
import type { TenantService } from './tenants.js';
import { tenantPage, type Page, type TenantPageRequest } from './paging.js';

/** A change to a user (Graph `PATCH /users/{id}`): only the fields given change; null clears a profile property. */
export type UserChange = Partial<UserProfile> & {
  readonly displayName?: string;
  readonly accountEnabled?: boolean;
  /** A new password (Graph `passwordProfile.password`); at least 8 characters. */
  readonly password?: string;
  /** A new UPN, in one of the tenant's verified domains, unique. */
  readonly userPrincipalName?: string;
};

/** Largest display name or profile property, in characters (Graph's limit for `displayName`). */
const MAX_PROPERTY_CHARS = 256;
/** Largest `mailNickname`, in characters (Graph's limit). */
const MAX_MAIL_NICKNAME_CHARS = 64;
/** Characters Graph refuses in a `mailNickname`. */
const MAIL_NICKNAME_FORBIDDEN = /[@"\\()[\],:;<>\s]/;

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
   * @param directoryRoles further roles of {@link DIRECTORY_ROLES}, by display name (`admin` adds Global
   *   Administrator to them).
   * @param accountEnabled default true; false creates the user unable to sign in (Graph `POST /users` with
   *   `accountEnabled: false`), in the same write.
   * @throws DirectoryError `not_found` (tenant), `invalid` (UPN not in a verified domain, password shorter than 8
   *   characters, an unknown directory role, a profile property too long or malformed), `conflict` (UPN taken).
   */
  async create(
    input: {
      tenant: string;
      userPrincipalName: string;
      password: string;
      displayName?: string;
      admin?: boolean;
      directoryRoles?: readonly string[];
      accountEnabled?: boolean;
    } & Partial<UserProfile>,
  ): Promise<User> {
    const tenant = await this.tenants.require(input.tenant);
    const upn = checkUpn(tenant, input.userPrincipalName);
    checkPassword(input.password);
    const profile = checkProfile(input);
    const roles = [...(input.admin === true ? [GLOBAL_ADMINISTRATOR] : []), ...(input.directoryRoles ?? [])];
    const directoryRoles = [...new Set(roles.map(checkDirectoryRole))];
    if ((await this.store.users.findByUpn(upn)) !== undefined) {
      throw new DirectoryError('conflict', `A user '${upn}' already exists.`);
    }
    const user: User = {
      id: randomUUID(),
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: checkDisplayName(input.displayName ?? upn.split('@')[0] ?? upn),
      accountEnabled: input.accountEnabled ?? true,
      directoryRoles,
      mailNickname: null,
      givenName: null,
      surname: null,
      jobTitle: null,
      mail: null,
      ...profile,
    };
    const passwordHash = await hashPassword(input.password);
    await writeOrConflict(this.store, `A user '${upn}' already exists.`, (trx) =>
      this.store.users.insert(trx, user, passwordHash, this.nowSeconds()),
    );
    return user;
  }

  /**
   * Enables or disables a user's sign-in (Graph `accountEnabled`), as {@link update} does.
   *
   * @throws DirectoryError `not_found`, `invalid` (the last enabled Global Administrator of its tenant).
   */
  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    const user = await this.store.users.findById(userId);
    if (user === undefined) throw new DirectoryError('not_found', `User '${userId}' not found.`);
    await this.update(user.tenantId, user.id, { accountEnabled: enabled });
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
   * Changes a user (Graph `PATCH /users/{id}`) in one write: the display name, UPN, profile properties, whether
   * sign-in is enabled, the password (Graph `passwordProfile.password`, hashed with argon2id). A new password or
   * disabling the account also ends what the user's past sign-ins hold, in the same write (see
   * `UserRepository.revokeSignIns`: refresh token families and their grants revoked, SSO sessions ended), as an
   * Entra password reset or `revokeSignInSessions` does; a disabled user's tokens also stop at every node's
   * directory cache.
   *
   * @param id object id or UPN.
   * @param change only the fields given change; none is a valid no-op.
   * @returns the user as stored after the change.
   * @throws DirectoryError `not_found` (tenant, or no such user in it), `invalid` (empty or over-long display name,
   *   password shorter than 8 characters, UPN not in a verified domain, malformed profile property, disabling the
   *   last enabled Global Administrator of the tenant), `conflict` (UPN taken).
   * @see https://learn.microsoft.com/graph/api/user-update
   * @see https://learn.microsoft.com/graph/api/user-revokesigninsessions
   */
  async update(tenant: string, id: string, change: UserChange): Promise<User> {
    const current = await this.requireIn(tenant, id);
    const home = await this.tenants.require(tenant);
    const displayName = change.displayName === undefined ? undefined : checkDisplayName(change.displayName);
    const upn = change.userPrincipalName === undefined ? undefined : checkUpn(home, change.userPrincipalName);
    const profile = checkProfile(change);
    if (change.password !== undefined) checkPassword(change.password);
    if (upn !== undefined && upn.toLowerCase() !== current.userPrincipalName.toLowerCase()) {
      if ((await this.store.users.findByUpn(upn)) !== undefined) {
        throw new DirectoryError('conflict', `A user '${upn}' already exists.`);
      }
    }
    const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
    const disabling = change.accountEnabled === false && current.accountEnabled;
    const now = this.nowSeconds();
    const updated = await writeOrConflict(
      this.store,
      `A user '${upn ?? ''}' already exists.`,
      async (trx) => {
        if (disabling) await this.requireAnotherAdministrator(trx, current, 'disabled');
        const found = await this.store.users.update(trx, current.id, {
          ...(upn === undefined ? {} : { userPrincipalName: upn }),
          ...(displayName === undefined ? {} : { displayName }),
          ...(change.accountEnabled === undefined ? {} : { accountEnabled: change.accountEnabled }),
          ...(passwordHash === undefined ? {} : { passwordHash }),
          ...profile,
        });
        if (found && (disabling || passwordHash !== undefined)) {
          await this.store.users.revokeSignIns(trx, current.id, now);
        }
        return found;
      },
    );
    if (!updated) throw new DirectoryError('not_found', `User '${id}' not found.`);
    return this.get(tenant, current.id);
  }

  /**
   * Gives a user a directory role (idempotent).
   *
   * @param id object id or UPN.
   * @param role a display name of {@link DIRECTORY_ROLES}.
   * @returns the user after the change.
   * @throws DirectoryError `not_found` (tenant, or no such user in it), `invalid` (an unknown role).
   */
  async addDirectoryRole(tenant: string, id: string, role: string): Promise<User> {
    const name = checkDirectoryRole(role);
    const current = await this.requireIn(tenant, id);
    if (!current.directoryRoles.includes(name)) {
      await this.changeDirectoryRoles(current, (held) => (held.includes(name) ? held : [...held, name]));
    }
    return this.get(tenant, current.id);
  }

  /**
   * Takes a directory role from a user (idempotent).
   *
   * @param id object id or UPN.
   * @param role a display name of {@link DIRECTORY_ROLES}.
   * @returns the user after the change.
   * @throws DirectoryError `not_found` (tenant, or no such user in it), `invalid` (an unknown role; Global
   *   Administrator of the tenant's last enabled Global Administrator).
   */
  async removeDirectoryRole(tenant: string, id: string, role: string): Promise<User> {
    const name = checkDirectoryRole(role);
    const current = await this.requireIn(tenant, id);
    if (current.directoryRoles.includes(name)) {
      await this.changeDirectoryRoles(current, (held) => held.filter((other) => other !== name), name);
    }
    return this.get(tenant, current.id);
  }

  /**
   * Writes a user's directory roles as `change` makes them from the roles read inside the write (so two
   * concurrent changes both take effect), refusing to take `removing` from the last Global Administrator.
   *
   * @throws DirectoryError `not_found` (the user is gone), `invalid` (the last Global Administrator).
   */
  private async changeDirectoryRoles(
    user: User,
    change: (held: readonly string[]) => readonly string[],
    removing?: string,
  ): Promise<void> {
    await this.store.write(async (trx) => {
      const held = await this.store.users.directoryRolesIn(trx, user.id);
      if (held === undefined) throw new DirectoryError('not_found', `User '${user.id}' not found.`);
      if (removing === GLOBAL_ADMINISTRATOR) {
        await this.requireAnotherAdministrator(trx, { ...user, directoryRoles: held }, 'demoted');
      }
      await this.store.users.update(trx, user.id, { directoryRoles: change(held) });
    });
  }

  /**
   * Deletes a user with what hangs off it, in one write: its app role assignments, the delegated grants it gave
   * (`Principal`), its refresh token families (revoked, with their grants) and SSO sessions (ended), as
   * `UserRepository.revokeSignIns` does; its application ownerships go with the row (`application_owners` has
   * `ON DELETE CASCADE`, migration 009). Its codes and browser sessions stop working on every node (the user is
   * gone from the directory cache); access tokens already issued stay valid until they expire, as in Entra ID,
   * except at the endpoints that consult the revocation list (the management API, introspection, userinfo).
   *
   * @param id object id or UPN.
   * @throws DirectoryError `not_found` (tenant, or no such user in it), `invalid` (the tenant's last enabled
   *   Global Administrator).
   * @see https://learn.microsoft.com/graph/api/user-delete
   */
  async delete(tenant: string, id: string): Promise<void> {
    const user = await this.requireIn(tenant, id);
    const now = this.nowSeconds();
    const deleted = await this.store.write(async (trx) => {
      await this.requireAnotherAdministrator(trx, user, 'deleted');
      await this.store.appRoleAssignments.deleteInvolving(trx, user.id);
      await this.store.permissionGrants.deleteInvolving(trx, user.id);
      await this.store.users.revokeSignIns(trx, user.id, now);
      return this.store.users.delete(trx, user.id);
    });
    if (!deleted) throw new DirectoryError('not_found', `User '${id}' not found.`);
  }

  /**
   * Refuses, inside `trx`, to leave a tenant without an enabled Global Administrator: when `user` is one (enabled
   * and holding the role) and no other enabled user of its tenant holds it, nobody could manage the tenant or
   * consent for it any more.
   *
   * @throws DirectoryError `invalid`.
   */
  private async requireAnotherAdministrator(
    trx: Transaction<Database>,
    user: User,
    change: 'deleted' | 'disabled' | 'demoted',
  ): Promise<void> {
    if (!user.accountEnabled || !user.directoryRoles.includes(GLOBAL_ADMINISTRATOR)) return;
    if ((await this.store.users.countEnabledHolders(trx, user.tenantId, GLOBAL_ADMINISTRATOR, user.id)) > 0)
      return;
    throw new DirectoryError(
      'invalid',
      `The last enabled Global Administrator of a tenant can't be ${change}; give another user the role first.`,
    );
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

/** Largest local part (before `@`) of a UPN, in characters (Graph's limit). */
const MAX_UPN_PREFIX_CHARS = 64;

/**
 * A UPN in one of the tenant's verified domains, trimmed: `prefix@domain` with a prefix of at most 64 characters
 * and no white space or control character.
 *
 * @throws DirectoryError `invalid` otherwise.
 */
function checkUpn(tenant: Tenant, userPrincipalName: string): string {
  const upn = userPrincipalName.trim();
  const [local, domain, ...rest] = upn.split('@');
  // Echoed in the refusal: control characters shown as '?', never sent back as they came.
  const shown = Array.from(upn.slice(0, 256), (char) => (hasControlCharacter(char) ? '?' : char)).join('');
  if (
    local === undefined ||
    local === '' ||
    rest.length > 0 ||
    !tenant.domains.includes(domain?.toLowerCase() ?? '')
  ) {
    throw new DirectoryError(
      'invalid',
      `The UPN '${shown}' must end in one of the tenant's verified domains.`,
    );
  }
  if (local.length > MAX_UPN_PREFIX_CHARS || /\s/.test(local) || hasControlCharacter(local)) {
    throw new DirectoryError(
      'invalid',
      `The UPN '${shown}' needs a prefix of at most ${MAX_UPN_PREFIX_CHARS} characters without spaces or control characters.`,
    );
  }
  return upn;
}

/** Whether `text` holds a C0 control character or DEL: never part of an id or UPN (PostgreSQL refuses NUL). */
export function hasControlCharacter(text: string): boolean {
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * A display name, trimmed: not empty, at most 256 characters.
 *
 * @throws DirectoryError `invalid` otherwise.
 */
function checkDisplayName(displayName: string): string {
  const trimmed = displayName.trim();
  if (trimmed === '') throw new DirectoryError('invalid', 'A user needs a display name.');
  if (trimmed.length > MAX_PROPERTY_CHARS) {
    throw new DirectoryError('invalid', `A display name has at most ${MAX_PROPERTY_CHARS} characters.`);
  }
  return trimmed;
}

/**
 * The {@link UserProfile} properties of `input` that are given, trimmed (an empty text clears, as null does):
 * each at most 256 characters; `mailNickname` at most 64, without `@`, spaces or `"\\()[],:;<>`; `mail` an
 * address `local@domain`.
 *
 * @throws DirectoryError `invalid` otherwise.
 */
function checkProfile(input: Partial<UserProfile>): Partial<UserProfile> {
  const profile: Partial<Record<keyof UserProfile, string | null>> = {};
  for (const property of USER_PROFILE_PROPERTIES) {
    const value = input[property];
    if (value === undefined) continue;
    const trimmed = value?.trim() ?? '';
    if (trimmed === '') {
      profile[property] = null;
      continue;
    }
    const limit = property === 'mailNickname' ? MAX_MAIL_NICKNAME_CHARS : MAX_PROPERTY_CHARS;
    if (trimmed.length > limit) {
      throw new DirectoryError('invalid', `Property '${property}' has at most ${limit} characters.`);
    }
    if (property === 'mailNickname' && MAIL_NICKNAME_FORBIDDEN.test(trimmed)) {
      throw new DirectoryError('invalid', `Property 'mailNickname' contains a character it can't hold.`);
    }
    if (property === 'mail' && !/^[^@\s]+@[^@\s]+$/.test(trimmed)) {
      throw new DirectoryError('invalid', `Property 'mail' must be an address 'name@domain'.`);
    }
    profile[property] = trimmed;
  }
  return profile;
}

/**
 * A directory role's display name of {@link DIRECTORY_ROLES} (case-insensitive), as the list spells it.
 *
 * @throws DirectoryError `invalid` for any other name.
 */
export function checkDirectoryRole(role: string): string {
  const known = DIRECTORY_ROLES.find((name) => name.toLowerCase() === role.trim().toLowerCase());
  if (known === undefined) {
    throw new DirectoryError(
      'invalid',
      `Unknown directory role '${role.slice(0, 100)}'; known roles: ${DIRECTORY_ROLES.join(', ')}.`,
    );
  }
  return known;
}
