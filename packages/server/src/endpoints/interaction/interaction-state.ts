import type {
  InteractionStepRepository,
  StoredInteractionStep,
} from '../../store/repositories/interaction-steps.js';
import { randomToken, tokenHash } from '../../tokens/opaque-tokens.js';
import { isResumeTargetName, type InteractionResume } from './resume-target.js';

/** The pages of an interaction. */
export type InteractionStepKind = 'sign-in' | 'select-account' | 'consent' | 'mfa';

/** The form actions of the pages (`action` field). */
export type InteractionAction = 'signin' | 'select' | 'use_another' | 'consent' | 'decline' | 'verify_code';

/**
 * The actions each page offers. The sign-in page — whatever the reason it is shown (no session, `prompt=login`,
 * an elapsed `max_age`, another account) — accepts only a password sign-in; `select` and `use_another` only the
 * account picker; consent decisions only the consent page; a verification code only the second-factor page.
 */
export const STEP_ACTIONS: Readonly<Record<InteractionStepKind, readonly InteractionAction[]>> = {
  'sign-in': ['signin'],
  'select-account': ['select', 'use_another'],
  consent: ['consent', 'decline'],
  mfa: ['verify_code'],
};

/**
 * The `choices` key under which the second-factor page of an enrolment keeps the new authenticator's secret,
 * sealed for the user (`sealTotpSecret`), until a correct code stores it as a method.
 */
export const TOTP_ENROLMENT_CHOICE = 'totp_enrolment';

/** Fields every interaction form carries. */
const COMMON_FIELDS: ReadonlySet<string> = new Set(['interaction', 'csrf_token', 'action']);

/** The other fields each action's form has. */
const ACTION_FIELDS: Readonly<Record<InteractionAction, ReadonlySet<string>>> = {
  signin: new Set(['username', 'password']),
  select: new Set(['session']),
  use_another: new Set(),
  consent: new Set(['consent_organization']),
  decline: new Set(['consent_organization']),
  verify_code: new Set(['otc']),
};

/**
 * One page of an interaction as the server showed it, kept server-side for {@link INTERACTION_LIFETIME_SECONDS}:
 * the suspended request it resumes, the step, the actions the page offered and what they may refer to. The page's
 * form carries only a random handle.
 */
export interface InteractionStep extends Pick<
  StoredInteractionStep,
  'tenant' | 'choices' | 'sessionId' | 'sessionFresh' | 'organizationConsent'
> {
  /** The suspended request the interaction continues once the page is answered. */
  readonly resume: InteractionResume;
  readonly step: InteractionStepKind;
  /** The actions the page offered ({@link STEP_ACTIONS} of its step). */
  readonly actions: readonly InteractionAction[];
}

/** Seconds an interaction page stays usable. */
export const INTERACTION_LIFETIME_SECONDS = 15 * 60;

/** What a posted form asks for, once {@link acceptAnswer} found it offered by its page. */
export type InteractionAnswer =
  | { readonly action: 'signin'; readonly userName: string; readonly password: string }
  | { readonly action: 'select'; readonly sessionId: string }
  | { readonly action: 'use_another' }
  | { readonly action: 'consent' | 'decline'; readonly forOrganization: boolean }
  | { readonly action: 'verify_code'; readonly code: string };

/**
 * Stores a page's step and returns the handle its form carries (256 random bits; stored as SHA-256), bound to
 * the browser's anti-CSRF token.
 *
 * @param now Unix seconds.
 */
export async function saveInteractionStep(
  steps: InteractionStepRepository,
  step: InteractionStep,
  csrfToken: string,
  now: number,
): Promise<string> {
  const handle = randomToken();
  await steps.insert({
    handleHash: tokenHash(handle),
    tenant: step.tenant,
    step: step.step,
    actions: step.actions,
    choices: step.choices,
    sessionId: step.sessionId,
    sessionFresh: step.sessionFresh,
    organizationConsent: step.organizationConsent,
    resumeTarget: step.resume.target,
    params: step.resume.state,
    csrfHash: tokenHash(csrfToken),
    createdAt: now,
    expiresAt: now + INTERACTION_LIFETIME_SECONDS,
  });
  return handle;
}

/**
 * The step of a posted handle: `undefined` when the handle is malformed, unknown, expired, or was shown to
 * another browser (another anti-CSRF token).
 *
 * @param now Unix seconds.
 */
export async function loadInteractionStep(
  steps: InteractionStepRepository,
  handle: string | undefined,
  csrfToken: string | undefined,
  now: number,
): Promise<InteractionStep | undefined> {
  if (handle === undefined || csrfToken === undefined || !/^[A-Za-z0-9_-]{43}$/.test(handle))
    return undefined;
  const stored = await steps.find(tokenHash(handle), now);
  if (stored === undefined || stored.csrfHash !== tokenHash(csrfToken)) return undefined;
  if (!Object.hasOwn(STEP_ACTIONS, stored.step) || !isResumeTargetName(stored.resumeTarget)) return undefined;
  const step = stored.step as InteractionStepKind;
  return {
    tenant: stored.tenant,
    resume: { target: stored.resumeTarget, state: stored.params },
    step,
    // Only what the step can offer, whatever the row says.
    actions: STEP_ACTIONS[step].filter((a) => stored.actions.includes(a)),
    choices: stored.choices,
    sessionId: stored.sessionId,
    sessionFresh: stored.sessionFresh,
    organizationConsent: stored.organizationConsent,
  };
}

/**
 * Checks a posted form against the page it claims to answer: its `action` must be one the page offered, it may
 * carry only that action's fields, a `session` only a reference the account picker offered, and
 * `consent_organization` only when the consent page offered it.
 *
 * @returns the answer, or undefined when the page did not offer it (refuse with 9100022).
 */
export function acceptAnswer(
  step: InteractionStep,
  form: Readonly<Record<string, string>>,
): InteractionAnswer | undefined {
  const action = form.action as InteractionAction | undefined;
  if (action === undefined || !step.actions.includes(action)) return undefined;
  const fields = ACTION_FIELDS[action];
  for (const name of Object.keys(form)) {
    if (!COMMON_FIELDS.has(name) && !fields.has(name)) return undefined;
  }
  switch (action) {
    case 'signin':
      return { action, userName: form.username ?? '', password: form.password ?? '' };
    case 'select': {
      const ref = form.session;
      if (ref === undefined || !Object.hasOwn(step.choices, ref)) return undefined;
      const sessionId = step.choices[ref];
      return sessionId === undefined ? undefined : { action, sessionId };
    }
    case 'use_another':
      return { action };
    case 'consent':
    case 'decline': {
      const organization = form.consent_organization;
      if (organization !== undefined && (!step.organizationConsent || organization !== 'true'))
        return undefined;
      return { action, forOrganization: organization === 'true' };
    }
    case 'verify_code':
      // The page's step names the session and, for an enrolment, the sealed secret: the form only the code.
      if (step.sessionId === undefined) return undefined;
      return { action, code: (form.otc ?? '').slice(0, 32) };
  }
}
