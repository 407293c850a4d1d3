import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../../context.js';
import { consentedScopes, resolveScopes } from '../../directory/consent.js';
import { GLOBAL_ADMINISTRATOR, type Application } from '../../directory/model.js';
import type { AuthorizationContext, AuthorizationOutcome, ConsentNeed } from './request.js';

/**
 * Step: resolves the scopes and checks consent in the user's tenant. The client must be present there (its
 * service principal) or multi-tenant (consent will add it). Needed consent: the OIDC scopes and directory scopes
 * on the directory API, the resource's scopes, and — when the resource lists the client in
 * `api.knownClientApplications` — the resource's own `requiredResourceAccess` (combined consent). Scopes the
 * resource pre-authorizes for the client are never asked. `prompt=consent` asks again.
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

  const directory = await context.cache.application('00000003-0000-0000-c000-000000000000');
  const wanted: { client: Application; resource: Application; scopes: string[] }[] = [];
  const add = (c: Application, r: Application, scopes: readonly string[]) => {
    if (scopes.length === 0) return;
    const existing = wanted.find((w) => w.client === c && w.resource.appId === r.appId);
    if (existing === undefined) wanted.push({ client: c, resource: r, scopes: [...new Set(scopes)] });
    else existing.scopes = [...new Set([...existing.scopes, ...scopes])];
  };
  if (directory !== undefined) add(client, directory, grant.oidcScopes);
  add(client, resource, grant.scopes);
  if (resource.api.knownClientApplications.includes(client.appId)) {
    for (const required of resource.requiredResourceAccess) {
      const downstream = await context.cache.application(required.resourceAppId);
      if (downstream === undefined) continue;
      const ids = new Set(required.resourceAccess.filter((a) => a.type === 'Scope').map((a) => a.id));
      add(
        resource,
        downstream,
        downstream.api.oauth2PermissionScopes.filter((s) => ids.has(s.id)).map((s) => s.value),
      );
    }
  }

  const needs: ConsentNeed[] = [];
  for (const item of wanted) {
    const granted =
      ctx.prompts.has('consent') && ctx.consentGiven !== true
        ? new Set<string>()
        : await consentedScopes(context.cache, {
            tenantId,
            userId: user.id,
            client: item.client,
            resource: item.resource,
          });
    const missing = item.scopes.filter((s) => !granted.has(s));
    if (missing.length === 0) continue;
    const adminScopes = missing.filter(
      (value) => item.resource.api.oauth2PermissionScopes.find((s) => s.value === value)?.type === 'Admin',
    );
    needs.push({ client: item.client, resource: item.resource, scopes: missing, adminScopes });
  }
  ctx.consentNeeds = needs;
  if (needs.length === 0) return undefined;
  if (ctx.prompts.has('none'))
    throw new IdentityError(65001, { clientId: client.appId }, { suberror: 'consent_required' });
  const admin = user.directoryRoles.includes(GLOBAL_ADMINISTRATOR);
  const adminOnly = needs.flatMap((n) => n.adminScopes);
  if (adminOnly.length > 0 && !admin) throw new IdentityError(90094, { scopes: adminOnly.join(', ') });
  return { kind: 'consent' };
}
