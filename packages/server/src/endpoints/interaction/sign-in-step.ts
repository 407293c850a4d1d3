import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { resolveTenantSegment } from '../../directory/tenant-segment.js';
import { asIdentityError } from '../../http/errors.js';
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
