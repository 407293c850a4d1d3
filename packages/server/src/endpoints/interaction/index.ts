import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { runInAuditScope } from '../../directory/audit-context.js';
import { asIdentityError, correlationIdOf } from '../../http/errors.js';
import { csrfTokenValid } from '../../sessions/cookies.js';
import { tokenHash } from '../../tokens/opaque-tokens.js';
import { sendErrorPage } from './error-page.js';
import { acceptAnswer, loadInteractionStep, type InteractionStep } from './interaction-state.js';
import type { ResumeTargets } from './resume-target.js';
import { singleValuedParameters } from './request-parameters.js';
import { answerMfa } from './mfa-step.js';
import { answerSignIn } from './sign-in-step.js';

/**
 * `POST /{tenant}/login`: the form target of every interaction page. Checks the anti-CSRF token (9100013),
 * loads the page's step — kept server-side, bound to this browser, under this `{tenant}` (9100014 otherwise) —
 * and accepts only an answer that page offered (9100022 otherwise), each refusal on the error page. Then runs the
 * step the page offered: a password sign-in on the sign-in page (a new session and a new cookie, against
 * fixation), an account the picker offered or "use another account" on the picker, a consent decision on the
 * consent page; and hands the result to the step's resume target, which continues the suspended request. An
 * admin consent decision also needs this server's own `Origin` (9100013 otherwise) and is taken once: its step
 * is consumed, so a replayed or concurrent second answer gets 9100014. A second-factor code (the `mfa` page) also
 * needs this server's own `Origin`, and upgrades the page's session (`answerMfa`).
 *
 * @param targets the registry of resume targets, one per name in `RESUME_TARGET_NAMES`.
 */
export function registerInteractionEndpoint(
  app: FastifyInstance,
  context: ServerContext,
  targets: ResumeTargets,
): void {
  // Directory writes an answer makes (consent) are audited with this request's correlation id and IP address.
  app.post<{ Params: { tenant: string } }>('/:tenant/login', (request, reply) =>
    runInAuditScope({ correlationId: correlationIdOf(request), ipAddress: request.ip }, () =>
      interact(context, targets, request, reply),
    ),
  );
}

async function interact(
  context: ServerContext,
  targets: ResumeTargets,
  request: FastifyRequest<{ Params: { tenant: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  let form: Record<string, string>;
  try {
    form = singleValuedParameters(request.body);
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error));
  }
  if (!csrfTokenValid(request, context.keys.interaction, form.csrf_token)) {
    return sendErrorPage(request, reply, new IdentityError(9100013));
  }
  let step: InteractionStep | undefined;
  try {
    step = await loadInteractionStep(
      context.signIn.interactionSteps,
      form.interaction,
      form.csrf_token,
      context.now(),
    );
  } catch (error) {
    return sendErrorPage(request, reply, asIdentityError(error));
  }
  if (step?.tenant !== request.params.tenant)
    return sendErrorPage(request, reply, new IdentityError(9100014));
  const answer = acceptAnswer(step, form);
  if (answer === undefined) {
    request.log.info(
      { step: step.step, action: (form.action ?? '').slice(0, 32), traceId: request.id },
      'interaction answer not offered by its page',
    );
    return sendErrorPage(request, reply, new IdentityError(9100022));
  }
  const target = targets[step.resume.target];
  const resume = { tenant: step.tenant, state: step.resume.state };
  switch (answer.action) {
    case 'signin':
      return answerSignIn(context, request, reply, step, answer, target);
    case 'select':
      return target.resume(context, request, reply, {
        ...resume,
        result: { kind: 'account-selected', sessionId: answer.sessionId },
      });
    case 'use_another':
      return target.resume(context, request, reply, { ...resume, result: { kind: 'another-account' } });
    case 'consent':
    case 'decline':
      if (step.sessionId === undefined) return sendErrorPage(request, reply, new IdentityError(9100014));
      if (step.resume.target === 'adminconsent') {
        // An organization-wide grant: only from a form of this site, and only once per page shown.
        if (!sameOrigin(context, request)) return sendErrorPage(request, reply, new IdentityError(9100013));
        if (!(await context.signIn.interactionSteps.consume(tokenHash(form.interaction ?? ''))))
          return sendErrorPage(request, reply, new IdentityError(9100014));
      }
      return target.resume(context, request, reply, {
        ...resume,
        result: {
          kind: 'consent-decided',
          sessionId: step.sessionId,
          sessionFresh: step.sessionFresh,
          accept: answer.action === 'consent',
          forOrganization: answer.forOrganization,
        },
      });
    case 'verify_code':
      // A second factor upgrades a session: only from a form of this site.
      if (!sameOrigin(context, request)) return sendErrorPage(request, reply, new IdentityError(9100013));
      return answerMfa(context, request, reply, step, answer.code, target);
  }
}

/**
 * Whether a form POST comes from a page of this server: its `Origin` header (Fetch Standard §3.1; browsers send it
 * with every form POST) is this server's own origin — or, as Chromium sends it from these pages, whose
 * `Referrer-Policy` is `no-referrer`, `Origin: null` together with `Sec-Fetch-Site: same-origin` (Fetch Metadata,
 * a header no page can set). A missing origin, another origin, or `null` from anywhere else is not.
 */
function sameOrigin(context: ServerContext, request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === new URL(context.baseUrl()).origin) return true;
  return origin === 'null' && request.headers['sec-fetch-site'] === 'same-origin';
}
