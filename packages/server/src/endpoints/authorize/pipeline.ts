import { IdentityError } from '@tessera/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { resolveScopes } from '../../directory/consent.js';
import { GLOBAL_ADMINISTRATOR, type Application } from '../../directory/model.js';
import { resolveTenantSegment } from '../../directory/tenant-segment.js';
import { asIdentityError } from '../../http/errors.js';
import { listBrowserSessions } from '../../sessions/browser-sessions.js';
import { withAccountLoginHint } from '../../sessions/login-hint.js';
import { issuerV2 } from '../../tokens/issuer.js';
import { recordConsentDecision } from '../interaction/consent-step.js';
import { sendErrorPage } from '../interaction/error-page.js';
import { showInteractionStep, type InteractionPrompt } from '../interaction/show-step.js';
import { checkClaims } from './check-claims.js';
import { checkClient } from './check-client.js';
import { checkConditionalAccess } from './check-conditional-access.js';
import { checkConsent } from './check-consent.js';
import { checkPkce } from './check-pkce.js';
import { checkPrompt } from './check-prompt.js';
import { checkRedirectUri } from './check-redirect-uri.js';
import { checkResponseType } from './check-response-type.js';
import type { AuthorizationContext, AuthorizationOutcome } from './request.js';
import { requesterOf } from './requester.js';
import { respond } from './respond.js';
import { selectAccount } from './select-account.js';
import { sendAuthorizationError, sendAuthorizationResponse } from './send-response.js';

/** What an interaction brings back to the authorization request it resumes. */
export interface Continuation {
  /** The session signed in (`fresh`) or picked on the account picker during this interaction. */
  readonly session?: { readonly id: string; readonly fresh: boolean };
  /** The browser's session key when this very response sets a new cookie (just signed in). */
  readonly browserHash?: string;
  /** The consent page's decision. */
  readonly consent?: { readonly accept: boolean; readonly forOrganization: boolean };
}

/**
 * Runs an authorization request (RFC 6749 §3.1, OIDC Core §3.1.2) through its named steps — check client, check
 * redirect URI, check response type and mode, check PKCE, check prompt, check claims, resolve scopes, select
 * account, check conditional access (the second factor), apply the consent decision, check consent, respond —
 * each in its own module. When a step needs the user, the request is
 * suspended in an interaction (resume target `authorize`, state: the request's parameters) and the step's page is
 * shown; the interaction runs this again with what the user did ({@link Continuation}).
 *
 * Until client and redirect URI are proven, refusals render the error page; after, they go back to the redirect
 * URI (`error`, `error_description`, `state`, `iss`). `prompt=none` never renders a page.
 *
 * @param tenant the `{tenant}` path segment.
 */
export async function authorize(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tenant: string,
  readParams: () => Record<string, string>,
  continuation: Continuation,
): Promise<FastifyReply> {
  let ctx: AuthorizationContext | undefined;
  try {
    const params = await withAccountLoginHint(context.keys.pairwise, context.cache, readParams());
    const tenantSegment = await resolveTenantSegment(tenant, context.cache);
    ctx = { params, tenantSegment, prompts: new Set() };
    if (continuation.session !== undefined) {
      ctx.interactionSessionId = continuation.session.id;
      ctx.interactionSessionFresh = continuation.session.fresh;
    }
    await checkClient(context, ctx);
    // RFC 9207 `iss` only where the issuer is one tenant's: no client can match the `{tenantid}` template.
    const issuer =
      tenantSegment.kind === 'tenant' ? issuerV2(context.baseUrl(), tenantSegment.tenant.id) : undefined;
    checkRedirectUri(ctx, issuer);
    checkResponseType(ctx);
    checkPkce(ctx);
    checkPrompt(ctx);
    checkClaims(ctx);
    // Scope syntax and resources are checked before any page, so a bad request never asks for a password.
    await resolveScopes(context.cache, ctx.client as Application, params.scope, tenantSegment.segment);
    const sessions = await listBrowserSessions(context, request, { browserHash: continuation.browserHash });
    const selected = await selectAccount(context, ctx, sessions);
    if (selected !== undefined) return await show(context, request, reply, ctx, selected, tenant);
    const secondFactor = await checkConditionalAccess(context, ctx);
    if (secondFactor !== undefined) return await show(context, request, reply, ctx, secondFactor, tenant);
    const consent = await applyConsentDecision(context, ctx, continuation.consent);
    if (consent !== undefined) return await show(context, request, reply, ctx, consent, tenant);
    return await show(context, request, reply, ctx, await respond(context, ctx), tenant);
  } catch (error) {
    const identityError = asIdentityError(error);
    if (ctx?.target === undefined || identityError.status >= 500)
      return sendErrorPage(request, reply, identityError);
    return sendAuthorizationError(request, reply, ctx.target, identityError);
  }
}

/**
 * Step: checks consent, first applying the consent page's decision when this request carries one. Declining ends
 * the request whatever else happened meanwhile (consent given in another tab); accepting records the consent
 * still missing now — not what the page showed — for the session's user, then checks again.
 *
 * @returns the consent page outcome when consent is (still) needed, else undefined.
 * @throws IdentityError 65004 (declined), and those of {@link checkConsent}.
 */
async function applyConsentDecision(
  context: ServerContext,
  ctx: AuthorizationContext,
  decision: Continuation['consent'],
): Promise<AuthorizationOutcome | undefined> {
  if (decision?.accept === false) throw new IdentityError(65004);
  const needed = await checkConsent(context, ctx);
  if (needed === undefined || decision === undefined || ctx.user === undefined) return needed;
  await recordConsentDecision(context, ctx.user, ctx.consentNeeds ?? [], decision.forOrganization);
  ctx.consentGiven = true;
  return checkConsent(context, ctx);
}

/** Sends the pipeline's outcome: the response to the client, or the interaction page the user must answer. */
async function show(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: AuthorizationContext,
  outcome: AuthorizationOutcome,
  tenant: string,
): Promise<FastifyReply> {
  if (outcome.kind === 'respond') return sendAuthorizationResponse(reply, outcome.target, outcome.fields);
  const client = ctx.client;
  if (client === undefined) throw new Error('checkClient must run first');
  return showInteractionStep(context, request, reply, {
    tenant,
    resume: { target: 'authorize', state: ctx.params },
    requester: await requesterOf(context, client, ctx.params),
    prompt:
      outcome.kind === 'mfa' ? await mfaPromptOf(context, ctx, outcome.registered) : promptOf(ctx, outcome),
  });
}

/**
 * The second-factor page of the selected session: a code, or — not enrolled — a new authenticator to set up, whose
 * secret only the page's step keeps until a correct code.
 */
async function mfaPromptOf(
  context: ServerContext,
  ctx: AuthorizationContext,
  registered: boolean,
): Promise<InteractionPrompt> {
  const { session, user } = ctx;
  if (session === undefined || user === undefined) throw new Error('selectAccount must run first');
  return {
    step: 'mfa',
    sessionId: session.id,
    sessionFresh: ctx.interactionSessionFresh === true && ctx.interactionSessionId === session.id,
    userPrincipalName: user.userPrincipalName,
    enrolment: registered ? undefined : await context.authenticationMethods.startEnrolment(user),
  };
}

/** The interaction page of an outcome that needs the user. */
function promptOf(
  ctx: AuthorizationContext,
  outcome: Exclude<AuthorizationOutcome, { kind: 'respond' } | { kind: 'mfa' }>,
): InteractionPrompt {
  switch (outcome.kind) {
    case 'sign-in':
      return { step: 'sign-in', loginHint: ctx.params.login_hint };
    case 'select-account':
      return { step: 'select-account', sessions: outcome.sessions };
    case 'consent': {
      const session = ctx.session;
      if (session === undefined) throw new Error('selectAccount must run first');
      return {
        step: 'consent',
        sessionId: session.id,
        // Fresh only when the session shown is the one signed in during this interaction.
        sessionFresh: ctx.interactionSessionFresh === true && ctx.interactionSessionId === session.id,
        userPrincipalName: ctx.user?.userPrincipalName ?? '',
        items: ctx.consentNeeds ?? [],
        canConsentForOrganization: ctx.user?.directoryRoles.includes(GLOBAL_ADMINISTRATOR) === true,
      };
    }
  }
}
