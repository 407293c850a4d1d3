import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../../context.js';
import { missingConsent, resolveScopes } from '../../directory/consent.js';
import { GLOBAL_ADMINISTRATOR } from '../../directory/model.js';
import type { AuthorizationContext, AuthorizationOutcome } from './request.js';

/**
 * Step: resolves the scopes and asks the consent engine ({@link missingConsent}) what is missing in the user's
 * tenant, with combined consent. The client must be present there (its service principal) or multi-tenant
 * (consent will add it). `prompt=consent` asks again, until the user's decision arrives.
 *
 * @returns the consent page outcome, or undefined when everything is consented (`ctx.grant` set).
 * @throws IdentityError 700016 (single-tenant app of another tenant), 65001 consent_required (prompt=none),
 *   90094 (admin-only scopes for a non-admin), and scope errors of {@link resolveScopes}.
 */
export async function checkConsent(
  context: ServerContext,
  ctx: AuthorizationContext,
): Promise<AuthorizationOutcome | undefined> {
  const client = ctx.client;
  const user = ctx.user;
  if (client === undefined || user === undefined) throw new Error('earlier steps must run first');
  const tenantId = user.tenantId;
  const clientSp = await context.cache.servicePrincipal(tenantId, client.appId);
  if (clientSp === undefined && client.signInAudience === 'AzureADMyOrg') {
    throw new IdentityError(700016, { clientId: client.appId, tenant: tenantId });
  }
  if (clientSp !== undefined && !clientSp.accountEnabled)
    throw new IdentityError(7000112, { clientId: client.appId });
  const { resource, grant } = await resolveScopes(context.cache, client, ctx.params.scope, tenantId);
  ctx.grant = grant;

  const needs = await missingConsent(context.cache, {
    tenantId,
    userId: user.id,
    client,
    resource,
    grant,
    combinedConsent: true,
    ignoreGranted: ctx.prompts.has('consent') && ctx.consentGiven !== true,
  });
  ctx.consentNeeds = needs;
  if (needs.length === 0) return undefined;
  if (ctx.prompts.has('none'))
    throw new IdentityError(65001, { clientId: client.appId }, { suberror: 'consent_required' });
  const admin = user.directoryRoles.includes(GLOBAL_ADMINISTRATOR);
  const adminOnly = needs.flatMap((n) => n.adminScopes);
  if (adminOnly.length > 0 && !admin) throw new IdentityError(90094, { scopes: adminOnly.join(', ') });
  return { kind: 'consent' };
}
