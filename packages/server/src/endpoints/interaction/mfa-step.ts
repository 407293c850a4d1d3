import { IdentityError } from '@tessera/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import type { NewSignIn } from '../../directory/audit-sign-ins.js';
import type { User } from '../../directory/model.js';
import { asIdentityError, correlationIdOf } from '../../http/errors.js';
import { listBrowserSessions, upgradeSession } from '../../sessions/browser-sessions.js';
import { sendErrorPage } from './error-page.js';
import { TOTP_ENROLMENT_CHOICE, type InteractionStep } from './interaction-state.js';
import type { ResumeTarget } from './resume-target.js';
import { showInteractionStep } from './show-step.js';

/** RFC 8176 `amr` values a verified TOTP code adds to the session: multiple factors, one-time password. */
export const TOTP_AMR: readonly string[] = ['mfa', 'otp'];

/**
 * The second-factor page's answer: the code from the user's authenticator app, for the SSO session the page was
 * shown for (its step names it; the browser only posts the code). An enrolment page's step also holds the new
 * authenticator's secret, sealed for the user: a correct code stores it as the user's method; nothing is stored
 * before. On success the session is upgraded (`amr` gains `mfa` and `otp`, `auth_time` becomes now, the cookie
 * rotates) and the resume target continues as after a sign-in; a wrong or reused code shows the page again with
 * the refusal (500121, 9100090; the same secret on an enrolment page), a lockout the error page (50053). Every
 * attempt is recorded in the sign-in log with its result.
 */
export async function answerMfa(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  step: InteractionStep,
  code: string,
  target: ResumeTarget,
): Promise<FastifyReply> {
  const sessions = await listBrowserSessions(context, request);
  const session = sessions.find((s) => s.id === step.sessionId);
  const user = session === undefined ? undefined : await context.cache.user(session.userId);
  if (session === undefined || user?.accountEnabled !== true)
    return sendErrorPage(request, reply, new IdentityError(9100014));
  const sealed = step.choices[TOTP_ENROLMENT_CHOICE];
  const now = context.now();
  try {
    if (sealed === undefined) await context.authenticationMethods.verifyCode(user.id, code, now);
    else await context.authenticationMethods.completeEnrolment(user, sealed, code, now);
  } catch (error) {
    const refusal = asIdentityError(error);
    await context.directory.signIns.recordFrom(() =>
      Promise.resolve(mfaSignIn(context, request, step, user, refusal)),
    );
    if (refusal.status >= 500 || refusal.code === 50053) return sendErrorPage(request, reply, refusal);
    const requester = await target.requester(context, step.resume.state);
    if (requester === undefined) return sendErrorPage(request, reply, refusal);
    const enrolment =
      sealed === undefined ? undefined : await context.authenticationMethods.resumeEnrolment(user, sealed);
    return showInteractionStep(context, request, reply, {
      tenant: step.tenant,
      resume: step.resume,
      requester,
      prompt: {
        step: 'mfa',
        sessionId: session.id,
        sessionFresh: step.sessionFresh,
        userPrincipalName: user.userPrincipalName,
        enrolment,
        error: { message: refusal.description, status: refusal.status },
      },
    });
  }
  await context.directory.signIns.recordFrom(() =>
    Promise.resolve(mfaSignIn(context, request, step, user, undefined)),
  );
  const upgraded = await upgradeSession(context, request, reply, session, TOTP_AMR);
  if (upgraded === undefined) return sendErrorPage(request, reply, new IdentityError(9100014));
  // The session's authentication is new (auth_time now), and this response sets the browser's new cookie.
  return target.resume(context, request, reply, {
    tenant: step.tenant,
    state: step.resume.state,
    result: { kind: 'signed-in', sessionId: upgraded.session.id, browserHash: upgraded.browserHash },
  });
}

/**
 * The second factor as a sign-in (Graph `signIn`, `isInteractive: true`, `clientAppUsed: Browser`) of the user
 * the session names: error code 0 on success, else the refusal's code (500121 wrong code, 9100090 reused, 50053
 * locked) and text. The code itself is never recorded.
 */
function mfaSignIn(
  _context: ServerContext,
  request: FastifyRequest,
  step: InteractionStep,
  user: User,
  refusal: IdentityError | undefined,
): NewSignIn {
  const appId = step.resume.state.client_id;
  return {
    tenantId: user.tenantId,
    userId: user.id,
    userPrincipalName: user.userPrincipalName,
    userDisplayName: user.displayName,
    appId: appId?.slice(0, 64) ?? null,
    appDisplayName: null,
    ipAddress: request.ip,
    clientAppUsed: 'Browser',
    correlationId: correlationIdOf(request),
    isInteractive: true,
    resourceId: null,
    resourceDisplayName: null,
    errorCode: refusal?.code ?? 0,
    failureReason:
      refusal === undefined ? null : `Second factor (OATH verification code): ${refusal.description}`,
  };
}
