import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import type { Application } from '../../directory/model.js';
import { csrfTokenFor } from '../../sessions/cookies.js';
import type { SsoSession } from '../../sessions/sso-session.js';
import { randomToken } from '../../tokens/opaque-tokens.js';
import type { TotpEnrolment } from '../../users/authentication-methods.js';
import { accountPickerPage, consentPage, mfaPage, signInPage, type FormContext } from '../../ui/pages.js';
import { sendPage } from '../../ui/security-headers.js';
import {
  STEP_ACTIONS,
  TOTP_ENROLMENT_CHOICE,
  saveInteractionStep,
  type InteractionStep,
} from './interaction-state.js';
import type { InteractionRequester, InteractionResume } from './resume-target.js';

/** Scopes of one resource the consent page asks for (what the consent engine found missing). */
export interface ConsentPromptItem {
  readonly resource: Application;
  readonly scopes: readonly string[];
  /** The subset only an administrator can grant (`type: 'Admin'`). */
  readonly adminScopes: readonly string[];
}

/** The page a step shows, with what its answers may refer to. */
export type InteractionPrompt =
  | {
      readonly step: 'sign-in';
      /** Prefill of the user name (`login_hint`, or the name just refused). */
      readonly loginHint?: string | undefined;
      /** A refused sign-in: its safe description and HTTP status (the page is sent with that status). */
      readonly error?: { readonly message: string; readonly status: number } | undefined;
    }
  | { readonly step: 'select-account'; readonly sessions: readonly SsoSession[] }
  | {
      readonly step: 'consent';
      /** The SSO session the decision is for. */
      readonly sessionId: string;
      /** True when that session was signed in during this interaction (fresh authentication). */
      readonly sessionFresh: boolean;
      readonly userPrincipalName: string;
      readonly items: readonly ConsentPromptItem[];
      /** An administrator may consent on behalf of the organization (`AllPrincipals`). */
      readonly canConsentForOrganization: boolean;
    }
  | {
      readonly step: 'mfa';
      /** The SSO session the second factor upgrades. */
      readonly sessionId: string;
      /** True when that session was signed in during this interaction (fresh authentication). */
      readonly sessionFresh: boolean;
      readonly userPrincipalName: string;
      /** Not enrolled yet: the authenticator to set up (its sealed secret stays with the step). */
      readonly enrolment?: TotpEnrolment | undefined;
      /** A refused code: its safe description and HTTP status (the page is sent with that status). */
      readonly error?: { readonly message: string; readonly status: number } | undefined;
    };

/** One page of an interaction to show. */
export interface InteractionPage {
  /** The `{tenant}` path segment the interaction runs under (its form posts to `/{tenant}/login`). */
  readonly tenant: string;
  readonly resume: InteractionResume;
  readonly requester: InteractionRequester;
  readonly prompt: InteractionPrompt;
}

/**
 * Shows one page of an interaction: stores its step server-side (the suspended request, the actions the page
 * offers, the accounts the picker offers by random reference — a session id never reaches the browser), bound to
 * this browser's anti-CSRF token, and renders the page whose form posts the step's handle to `/{tenant}/login`.
 * The page's `form-action` allows the requester's redirect source: the form's POST may answer with a redirect to
 * the app, which Chromium checks against `form-action` too.
 */
export async function showInteractionStep(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  page: InteractionPage,
): Promise<FastifyReply> {
  const { prompt } = page;
  const accounts = prompt.step === 'select-account' ? await accountsOf(context, prompt.sessions) : [];
  const step: InteractionStep = {
    tenant: page.tenant,
    resume: page.resume,
    step: prompt.step,
    actions: STEP_ACTIONS[prompt.step],
    choices:
      prompt.step === 'mfa'
        ? prompt.enrolment === undefined
          ? {}
          : { [TOTP_ENROLMENT_CHOICE]: prompt.enrolment.sealedSecret }
        : Object.fromEntries(accounts.map((a) => [a.sessionRef, a.sessionId])),
    sessionId: prompt.step === 'consent' || prompt.step === 'mfa' ? prompt.sessionId : undefined,
    sessionFresh: (prompt.step === 'consent' || prompt.step === 'mfa') && prompt.sessionFresh,
    organizationConsent: prompt.step === 'consent' && prompt.canConsentForOrganization,
  };
  const csrfToken = csrfTokenFor(request, reply, context.keys.interaction);
  const form: FormContext = {
    action: `/${encodeURIComponent(page.tenant)}/login`,
    interaction: await saveInteractionStep(context.signIn.interactionSteps, step, csrfToken, context.now()),
    csrfToken,
  };
  const app = page.requester.app;
  const options = { redirectSource: page.requester.redirectSource };
  switch (prompt.step) {
    case 'sign-in':
      return sendPage(
        reply,
        prompt.error?.status ?? 200,
        signInPage({ form, app, loginHint: prompt.loginHint, error: prompt.error?.message }),
        options,
      );
    case 'select-account':
      return sendPage(reply, 200, accountPickerPage({ form, app, accounts }), options);
    case 'consent':
      return sendPage(
        reply,
        200,
        consentPage({
          form,
          app,
          userPrincipalName: prompt.userPrincipalName,
          items: consentItemsOf(prompt.items),
          canConsentForOrganization: prompt.canConsentForOrganization,
        }),
        options,
      );
    case 'mfa':
      return sendPage(
        reply,
        prompt.error?.status ?? 200,
        mfaPage({
          form,
          app,
          userPrincipalName: prompt.userPrincipalName,
          setup: prompt.enrolment,
          error: prompt.error?.message,
        }),
        options,
      );
  }
}

/** The picker's accounts; each gets a random reference (the session id never reaches the browser). */
async function accountsOf(context: ServerContext, sessions: readonly SsoSession[]) {
  const accounts = [];
  for (const session of sessions) {
    const user = await context.cache.user(session.userId);
    if (user !== undefined)
      accounts.push({
        sessionRef: randomToken(),
        sessionId: session.id,
        displayName: user.displayName,
        userPrincipalName: user.userPrincipalName,
      });
  }
  return accounts;
}

/** The consent page's lines: each scope's user or admin consent wording, as the resource publishes it. */
function consentItemsOf(items: readonly ConsentPromptItem[]) {
  return items.flatMap((item) =>
    item.scopes.map((value) => {
      const scope = item.resource.api.oauth2PermissionScopes.find((s) => s.value === value);
      const adminOnly = item.adminScopes.includes(value);
      return {
        displayName: (adminOnly ? scope?.adminConsentDisplayName : scope?.userConsentDisplayName) ?? value,
        description: (adminOnly ? scope?.adminConsentDescription : scope?.userConsentDescription) ?? value,
        resourceName: item.resource.displayName,
        adminOnly,
      };
    }),
  );
}
