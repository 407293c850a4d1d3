import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { runAsAuditActor } from '../../directory/audit-context.js';
import {
  GLOBAL_ADMINISTRATOR,
  type Application,
  type PermissionScope,
  type User,
} from '../../directory/model.js';
import { matchRedirectUri } from '../../directory/redirect-uris.js';
import { resolveTenantSegment } from '../../directory/tenant-segment.js';
import { asIdentityError } from '../../http/errors.js';
import { listBrowserSessions } from '../../sessions/browser-sessions.js';
import { requesterOf } from '../authorize/requester.js';
import { consentActor } from '../interaction/consent-step.js';
import { sendErrorPage } from '../interaction/error-page.js';
import { singleValuedParameters } from '../interaction/request-parameters.js';
import type { ResumeTarget } from '../interaction/resume-target.js';
import { showInteractionStep, type ConsentPromptItem } from '../interaction/show-step.js';

/** What the app asks an administrator for on one resource: app roles (`Role`) and delegated scopes (`Scope`). */
interface AdminConsentNeed {
  readonly resource: Application;
  /** Values of enabled app roles that may be granted to applications. */
  readonly roles: readonly string[];
  /** Values of the resource's delegated scopes. */
  readonly scopes: readonly string[];
}

/**
 * `GET /{tenant}/adminconsent?client_id&redirect_uri&state` and
 * `GET /{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state`: a tenant administrator grants an app,
 * for the whole organization, every permission its `requiredResourceAccess` declares — application permissions
 * (`Role`) as app role assignments to its service principal, delegated scopes (`Scope`) as one `AllPrincipals`
 * `oauth2PermissionGrant` per resource — creating the service principals a multi-tenant app and its resources
 * need in the administrator's tenant. The client and the exact registered `redirect_uri` are checked before any
 * page (an error page otherwise: 900144, 700016, 7000112, 900971, 50011); then the administrator always signs in
 * (a fresh password sign-in, resume target `adminconsent`), sees the permissions grouped by resource and accepts
 * or cancels. `common` and `organizations` resolve to the administrator's tenant; `consumers` is refused (9100041).
 * A signed-in user who is not a Global Administrator gets an error page (9100040) and nothing is granted.
 *
 * Accepting redirects (302) to `redirect_uri?tenant={tenantId}&state={state}&admin_consent=True`; cancelling to
 * `redirect_uri?error=permission_denied&error_description=The+admin+canceled+the+request&state={state}`.
 *
 * @see https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
 */
export function registerAdminConsentEndpoint(app: FastifyInstance, context: ServerContext): void {
  const handler = (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) =>
    startAdminConsent(context, request, reply, request.params.tenant, request.routeOptions.url ?? '');
  app.get<{ Params: { tenant: string } }>('/:tenant/adminconsent', handler);
  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/adminconsent', handler);
}

async function startAdminConsent(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tenant: string,
  route: string,
): Promise<FastifyReply> {
  try {
    const params = singleValuedParameters(request.query);
    if (route.includes('/v2.0/') && (params.scope ?? '') === '')
      throw new IdentityError(900144, { name: 'scope' });
    const client = await checkRequest(context, tenant, params);
    const state: Record<string, string> = {
      client_id: client.appId,
      redirect_uri: params.redirect_uri ?? '',
      ...(params.state === undefined ? {} : { state: params.state }),
    };
    return await showInteractionStep(context, request, reply, {
      tenant,
      resume: { target: 'adminconsent', state },
      requester: await requesterOf(context, client, state),
      prompt: { step: 'sign-in' },
    });
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error));
  }
}

/**
 * The request's tenant segment, client and exact registered redirect URI.
 *
 * @throws IdentityError 900023, 90002 (tenant), 9100041 (`consumers`), 900144 (`client_id`), 700016 (unknown),
 *   7000112 (disabled), 900971 (no `redirect_uri`), 50011 (not registered for the client).
 */
async function checkRequest(
  context: ServerContext,
  tenant: string,
  params: Readonly<Record<string, string>>,
): Promise<Application> {
  const segment = await resolveTenantSegment(tenant, context.cache);
  if (segment.kind === 'alias' && segment.alias === 'consumers') throw new IdentityError(9100041);
  const clientId = params.client_id;
  if (clientId === undefined || clientId === '') throw new IdentityError(900144, { name: 'client_id' });
  const client = await context.cache.application(clientId);
  if (client === undefined)
    throw new IdentityError(700016, { clientId: clientId.slice(0, 64), tenant: segment.segment });
  if (!client.accountEnabled) throw new IdentityError(7000112, { clientId: client.appId });
  const redirectUri = params.redirect_uri;
  if (redirectUri === undefined || redirectUri === '') throw new IdentityError(900971);
  if (matchRedirectUri(client, redirectUri) === undefined || !URL.canParse(redirectUri))
    throw new IdentityError(50011, { redirectUri: redirectUri.slice(0, 512), clientId: client.appId });
  return client;
}

/**
 * The administrator of this browser's session `sessionId`, in a tenant the `{tenant}` segment admits and the app
 * may be consented in.
 *
 * @throws IdentityError 9100014 (session gone), 9100040 (not a Global Administrator), 700016 (a single-tenant app
 *   of another tenant).
 */
async function administratorOf(
  context: ServerContext,
  request: FastifyRequest,
  sessionId: string,
  browserHash: string | undefined,
  client: Application,
): Promise<User> {
  const sessions = await listBrowserSessions(context, request, { browserHash });
  const session = sessions.find((s) => s.id === sessionId);
  const user = session === undefined ? undefined : await context.cache.user(session.userId);
  if (user === undefined || !user.accountEnabled) throw new IdentityError(9100014);
  if (!user.directoryRoles.includes(GLOBAL_ADMINISTRATOR)) throw new IdentityError(9100040);
  if (client.signInAudience === 'AzureADMyOrg' && client.tenantId !== user.tenantId)
    throw new IdentityError(700016, { clientId: client.appId, tenant: user.tenantId });
  return user;
}

/** The permissions the app declares, by resource (resources that no longer exist are left out). */
async function needsOf(context: ServerContext, client: Application): Promise<AdminConsentNeed[]> {
  const needs: AdminConsentNeed[] = [];
  for (const required of client.requiredResourceAccess) {
    const resource = await context.cache.application(required.resourceAppId);
    if (resource === undefined) continue;
    const ids = (type: 'Role' | 'Scope') =>
      new Set(required.resourceAccess.filter((a) => a.type === type).map((a) => a.id));
    const roleIds = ids('Role');
    const scopeIds = ids('Scope');
    const roles = resource.appRoles
      .filter((r) => roleIds.has(r.id) && r.isEnabled && r.allowedMemberTypes.includes('Application'))
      .map((r) => r.value);
    const scopes = resource.api.oauth2PermissionScopes.filter((s) => scopeIds.has(s.id)).map((s) => s.value);
    if (roles.length > 0 || scopes.length > 0) needs.push({ resource, roles, scopes });
  }
  return needs;
}

/**
 * The consent page's items: per resource its app roles (worded by their display name and description, shown as
 * the page shows a scope: the page's copy of the resource lists them beside its scopes) and its delegated scopes
 * (worded for administrators), all marked as needing an administrator.
 */
function promptItemsOf(needs: readonly AdminConsentNeed[]): ConsentPromptItem[] {
  return needs.map(({ resource, roles, scopes }) => {
    const roleScopes = resource.appRoles
      .filter((r) => roles.includes(r.value))
      .map((r): PermissionScope => ({
        id: r.id,
        value: r.value,
        type: 'Admin',
        adminConsentDisplayName: r.displayName,
        adminConsentDescription: r.description,
        userConsentDisplayName: r.displayName,
        userConsentDescription: r.description,
        isEnabled: true,
      }));
    const shown = {
      ...resource,
      api: {
        ...resource.api,
        oauth2PermissionScopes: [...roleScopes, ...resource.api.oauth2PermissionScopes],
      },
    };
    return { resource: shown, scopes: [...roles, ...scopes], adminScopes: [...roles, ...scopes] };
  });
}

/**
 * Grants what the page showed, as the administrator (audited as theirs, "Consent to application"), in one write
 * (`grants.grantAdminConsent`): the service principals of the app and of each resource (when missing), each app
 * role to the app's service principal, and the delegated scopes as `AllPrincipals` grants. A refusal leaves
 * nothing written; granting again is idempotent.
 *
 * @throws DirectoryError `not_found` for a role, scope or application removed while the page was shown (a 5xx).
 */
async function grantAdminConsent(
  context: ServerContext,
  admin: User,
  client: Application,
  needs: readonly AdminConsentNeed[],
): Promise<void> {
  await runAsAuditActor(consentActor(admin), () =>
    context.directory.grants.grantAdminConsent(admin.tenantId, client.appId, {
      appRoles: needs
        .filter((n) => n.roles.length > 0)
        .map((n) => ({ resourceAppId: n.resource.appId, roles: n.roles })),
      scopes: needs
        .filter((n) => n.scopes.length > 0)
        .map((n) => ({ resourceAppId: n.resource.appId, scopes: n.scopes })),
    }),
  );
}

/** A 302 to the registered redirect URI with `fields` in its query. */
function redirectTo(reply: FastifyReply, redirectUri: string, fields: Record<string, string>): FastifyReply {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value);
  return reply.header('cache-control', 'no-store').redirect(url.toString(), 302);
}

/**
 * The `adminconsent` resume target: after the sign-in, the consent page for the administrator (or the error page
 * for anyone else); after the decision, the redirect to the app. The client and redirect URI are checked again
 * (the registration may have changed while the pages were shown).
 */
export const adminConsentResumeTarget: ResumeTarget = {
  async requester(context, state) {
    const client = await context.cache.application(state.client_id ?? '');
    return client === undefined ? undefined : requesterOf(context, client, state);
  },
  async resume(context, request, reply, { tenant, state, result }) {
    const stateField: Record<string, string> = state.state === undefined ? {} : { state: state.state };
    let fields: Record<string, string>;
    try {
      const client = await checkRequest(context, tenant, state);
      switch (result.kind) {
        case 'signed-in': {
          const admin = await administratorOf(context, request, result.sessionId, result.browserHash, client);
          return await showInteractionStep(context, request, reply, {
            tenant,
            resume: { target: 'adminconsent', state },
            requester: await requesterOf(context, client, state),
            prompt: {
              step: 'consent',
              sessionId: result.sessionId,
              sessionFresh: true,
              userPrincipalName: admin.userPrincipalName,
              items: promptItemsOf(await needsOf(context, client)),
              canConsentForOrganization: false,
            },
          });
        }
        case 'consent-decided': {
          const admin = await administratorOf(context, request, result.sessionId, undefined, client);
          if (result.accept) {
            await grantAdminConsent(context, admin, client, await needsOf(context, client));
            fields = { tenant: admin.tenantId, ...stateField, admin_consent: 'True' };
          } else {
            fields = {
              error: 'permission_denied',
              error_description: 'The admin canceled the request',
              ...stateField,
            };
          }
          break;
        }
        case 'account-selected':
        case 'another-account':
          // Admin consent never shows the account picker.
          throw new IdentityError(9100014);
      }
    } catch (error) {
      return sendErrorPage(request, reply, asIdentityError(error));
    }
    // checkRequest proved redirect_uri registered for the client.
    return redirectTo(reply, state.redirect_uri ?? '', fields);
  },
};
