import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { resolveTenantSegment } from '../../directory/tenant-segment.js';
import type { IdentityError } from '@tessera/protocol';
import type { NewSignIn } from '../../directory/audit-sign-ins.js';
import type { Application, User } from '../../directory/model.js';
import { asIdentityError, correlationIdOf } from '../../http/errors.js';
import { startSession } from '../../sessions/browser-sessions.js';
import { sendErrorPage } from './error-page.js';
import type { InteractionStep } from './interaction-state.js';
import type { ResumeTarget } from './resume-target.js';
import { showInteractionStep } from './show-step.js';

/**
 * The sign-in page's answer: verifies the user name and password (throttled, free of user enumeration: see
 * `PasswordSignIn`), restricted to the tenant of the `{tenant}` segment when it names one. On success a new SSO
 * session (`amr: ['pwd']`) and a new cookie, then the resume target continues; on a refusal the sign-in page again
 * with the refusal's text and status (50126, 50053, 50057), or the error page when the requester is gone or the
 * failure is the server's.
 */
export async function answerSignIn(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  step: InteractionStep,
  answer: { readonly userName: string; readonly password: string },
  target: ResumeTarget,
): Promise<FastifyReply> {
  const segment = await resolveTenantSegment(step.tenant, context.cache).catch(() => undefined);
  let user;
  try {
    user = await context.passwords.verify({
      userName: answer.userName,
      password: answer.password,
      clientIp: request.ip,
      tenantId: segment?.kind === 'tenant' ? segment.tenant.id : undefined,
      nowMs: Date.now(),
    });
  } catch (error) {
    const identityError = asIdentityError(error);
    await context.directory.signIns.recordFrom(() =>
      passwordSignIn(context, request, step, {
        tenantId: segment?.kind === 'tenant' ? segment.tenant.id : undefined,
        userName: answer.userName,
        refusal: identityError,
      }),
    );
    if (identityError.status >= 500) return sendErrorPage(request, reply, identityError);
    const requester = await target.requester(context, step.resume.state);
    if (requester === undefined) return sendErrorPage(request, reply, identityError);
    return showInteractionStep(context, request, reply, {
      tenant: step.tenant,
      resume: step.resume,
      requester,
      prompt: {
        step: 'sign-in',
        loginHint: answer.userName,
        error: { message: identityError.description, status: identityError.status },
      },
    });
  }
  const signedIn = user;
  await context.directory.signIns.recordFrom(() =>
    passwordSignIn(context, request, step, { tenantId: signedIn.tenantId, user: signedIn }),
  );
  // The session's auth_time is this sign-in's, after the password was verified.
  const { session, browserHash } = await startSession(context, request, reply, {
    userId: user.id,
    tenantId: user.tenantId,
    amr: ['pwd'],
  });
  return target.resume(context, request, reply, {
    tenant: step.tenant,
    state: step.resume.state,
    result: { kind: 'signed-in', sessionId: session.id, browserHash },
  });
}

/**
 * An interactive sign-in (Graph `signIn`, `isInteractive: true`, `clientAppUsed: Browser`): the user who
 * signed in, or on a refusal the user name typed and the AADSTS code (in the log of the `{tenant}` segment's
 * tenant, else of the tenant whose user has that name; not recorded when there is none). The password is never
 * recorded.
 */
async function passwordSignIn(
  context: ServerContext,
  request: FastifyRequest,
  step: InteractionStep,
  outcome:
    | { readonly tenantId: string; readonly user: User }
    | { readonly tenantId: string | undefined; readonly userName: string; readonly refusal: IdentityError },
): Promise<NewSignIn | undefined> {
  const appId = step.resume.state.client_id;
  const client =
    appId === undefined ? undefined : await context.cache.application(appId).catch(() => undefined);
  if ('user' in outcome) {
    return {
      ...signInBase(request, appId, client),
      tenantId: outcome.tenantId,
      userId: outcome.user.id,
      userPrincipalName: outcome.user.userPrincipalName,
      userDisplayName: outcome.user.displayName,
      errorCode: 0,
      failureReason: null,
    };
  }
  const named = outcome.userName.trim().slice(0, 256);
  const known = named.includes('@')
    ? await context.store.users.findByUpn(named).catch(() => undefined)
    : undefined;
  const tenantId = outcome.tenantId ?? known?.tenantId;
  if (tenantId === undefined) return undefined;
  const user = known?.tenantId === tenantId ? known : undefined;
  return {
    ...signInBase(request, appId, client),
    tenantId,
    userId: user?.id ?? null,
    userPrincipalName: user?.userPrincipalName ?? named,
    userDisplayName: user?.displayName ?? null,
    errorCode: outcome.refusal.code,
    failureReason: outcome.refusal.description,
  };
}

function signInBase(request: FastifyRequest, appId: string | undefined, client: Application | undefined) {
  return {
    appId: client?.appId ?? appId?.slice(0, 64) ?? null,
    appDisplayName: client?.displayName ?? null,
    ipAddress: request.ip,
    clientAppUsed: 'Browser',
    correlationId: correlationIdOf(request),
    isInteractive: true,
    resourceId: null,
    resourceDisplayName: null,
  } as const;
}
