import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../store/directory-store.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from './builtin-directory-app.js';
import { isGuid } from './identifiers.js';
import type { Application, ServicePrincipal } from './model.js';
import { sameUri } from './validation.js';

/** A new service principal for `application` in `tenantId` (Graph creates one per tenant the app is used in). */
export function servicePrincipalFor(application: Application, tenantId: string): ServicePrincipal {
  return {
    id: randomUUID(),
    appId: application.appId,
    tenantId,
    displayName: application.displayName,
    appOwnerOrganizationId: application.tenantId,
    accountEnabled: true,
  };
}

/**
 * The `appId` a resource is named by: an `appId` itself (lower-cased), the built-in directory API's App ID URI,
 * or a registered App ID URI (case-insensitive); undefined when no application registered that URI.
 */
export async function resolveResourceAppId(
  store: DirectoryStore,
  named: string,
): Promise<string | undefined> {
  if (isGuid(named)) return named.toLowerCase();
  if (sameUri(named, builtinDirectoryApplication.identifierUris)) return DIRECTORY_APP_ID;
  return store.applications.findAppIdByIdentifierUri(named);
}
