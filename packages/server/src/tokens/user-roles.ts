import type { DirectoryCache } from '../directory/directory-cache.js';
import type { Application, User } from '../directory/model.js';

/**
 * The `roles` of a delegated token: values of the resource's enabled app roles that allow member type `User` and
 * are assigned to the user (app role assignments with the user as principal on the resource's service principal
 * in the user's tenant), as Entra puts them in user tokens. Read through the directory cache (no I/O once warm).
 *
 * @returns the values in the resource's role order; empty when none (the token then has no `roles` claim).
 */
export async function userAppRoles(
  cache: DirectoryCache,
  user: User,
  resource: Application,
): Promise<string[]> {
  const userRoles = resource.appRoles.filter((r) => r.isEnabled && r.allowedMemberTypes.includes('User'));
  if (userRoles.length === 0) return [];
  const servicePrincipal = await cache.servicePrincipal(user.tenantId, resource.appId);
  if (servicePrincipal === undefined) return [];
  const assigned = new Set(await cache.assignedAppRoleIds(user.id, servicePrincipal.id));
  return userRoles.filter((r) => assigned.has(r.id)).map((r) => r.value);
}
