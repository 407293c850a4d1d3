import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../../context.js';
import type { AuthorizationContext } from './request.js';

/**
 * Step: `client_id` names an enabled application. Refusals here render the error page (no redirect URI is
 * trusted yet).
 *
 * @throws IdentityError 900144 (no `client_id`), 700016 (unknown), 7000112 (disabled).
 */
export async function checkClient(context: ServerContext, ctx: AuthorizationContext): Promise<void> {
  const clientId = ctx.params.client_id;
  if (clientId === undefined || clientId === '') throw new IdentityError(900144, { name: 'client_id' });
  const application = await context.cache.application(clientId);
  const tenantName =
    ctx.tenantSegment.kind === 'tenant' ? ctx.tenantSegment.tenant.id : ctx.tenantSegment.segment;
  if (application === undefined) {
    throw new IdentityError(700016, { clientId: clientId.slice(0, 64), tenant: tenantName });
  }
  if (!application.accountEnabled) throw new IdentityError(7000112, { clientId: application.appId });
  ctx.client = application;
}
