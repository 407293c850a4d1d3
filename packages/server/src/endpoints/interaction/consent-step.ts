import type { ServerContext } from '../../context.js';
import { runAsAuditActor, type AuditActor } from '../../directory/audit-context.js';
import { GLOBAL_ADMINISTRATOR, type User } from '../../directory/model.js';
import { isUniqueViolation } from '../../store/database.js';

/** Scopes of one resource granted to one client by a consent decision. */
export interface ConsentGrantItem {
  readonly client: { readonly appId: string };
  readonly resource: { readonly appId: string };
  readonly scopes: readonly string[];
}

/**
 * Records an accepted consent decision as delegated permission grants (Graph `oauth2PermissionGrant`): for the
 * user (`Principal`), or for every user of the tenant (`AllPrincipals`) when a Global Administrator consented on
 * behalf of the organization — `forOrganization` from anyone else records the user's own consent only.
 *
 * Recording looks for the grant (and service principal) before writing it: two decisions at once (a double
 * click, two tabs) both find none and one insert loses on the unique key. The loser tries again, now merging into
 * what the winner wrote, instead of answering 500 (up to three attempts). The write evicts the grants and service
 * principals it changed from this node's directory cache at once, and from other nodes' within one poll interval.
 *
 * @throws DirectoryError `not_found` for an application deleted meanwhile (a 5xx).
 */
export async function recordConsentDecision(
  context: ServerContext,
  user: User,
  items: readonly ConsentGrantItem[],
  forOrganization: boolean,
): Promise<void> {
  const consent = {
    tenantId: user.tenantId,
    userId: user.id,
    forOrganization: user.directoryRoles.includes(GLOBAL_ADMINISTRATOR) && forOrganization,
    items: items.map((item) => ({
      clientAppId: item.client.appId,
      resourceAppId: item.resource.appId,
      scopes: item.scopes,
    })),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      // Audited as the consenting user's ("Consent to application"), with the request's correlation id.
      await runAsAuditActor(consentActor(user), () => context.directory.grants.recordConsent(consent));
      break;
    } catch (error) {
      if (attempt >= 3 || !isUniqueViolation(error)) throw error;
    }
  }
}

/** The audit actor of a consent: the user (the IP address is the request's, from the audit scope). */
export function consentActor(user: User): AuditActor {
  return {
    user: {
      id: user.id,
      displayName: user.displayName,
      userPrincipalName: user.userPrincipalName,
      ipAddress: null,
    },
  };
}
