import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import type { AppBadge } from '../../ui/pages.js';

/**
 * The requests an interaction can continue once the user has answered its pages. Each name is stored with every
 * step (`interaction_steps.resume_target`), so a step can only ever resume the kind of request that started it.
 * `authorize` continues an authorization request (RFC 6749 §3.1), `adminconsent` an admin consent request
 * (`/{tenant}/adminconsent`); MFA step-up adds its name here and its {@link ResumeTarget} to the registry the
 * interaction endpoint is given.
 */
export const RESUME_TARGET_NAMES = ['authorize', 'adminconsent'] as const;

/** One of {@link RESUME_TARGET_NAMES}. */
export type ResumeTargetName = (typeof RESUME_TARGET_NAMES)[number];

/** True when `name` (a stored value) is one of {@link RESUME_TARGET_NAMES}. */
export function isResumeTargetName(name: string): name is ResumeTargetName {
  return (RESUME_TARGET_NAMES as readonly string[]).includes(name);
}

/**
 * The suspended request an interaction continues: the target's name and its state, a flat string map the
 * target alone interprets (for `authorize`, the authorization request parameters). Kept server-side with each
 * step; the browser only ever holds the step's random handle.
 */
export interface InteractionResume {
  readonly target: ResumeTargetName;
  readonly state: Readonly<Record<string, string>>;
}

/** What the user did on a step's page, as the interaction hands it to the resume target. */
export type InteractionResult =
  /** A password sign-in created a new SSO session; this response sets the browser's new cookie. */
  | { readonly kind: 'signed-in'; readonly sessionId: string; readonly browserHash: string }
  /** The account picker's choice: an existing SSO session of this browser. */
  | { readonly kind: 'account-selected'; readonly sessionId: string }
  /** "Use another account" on the account picker: the target must ask for a fresh sign-in. */
  | { readonly kind: 'another-account' }
  /** The consent page's decision, for the SSO session the page was shown for. */
  | {
      readonly kind: 'consent-decided';
      readonly sessionId: string;
      /** True when that session was signed in during this interaction (fresh authentication). */
      readonly sessionFresh: boolean;
      readonly accept: boolean;
      /** Consent on behalf of the organization (only when the page offered it to an administrator). */
      readonly forOrganization: boolean;
    };

/** Who the interaction's pages say is asking, and where its responses may go (the page's CSP `form-action`). */
export interface InteractionRequester {
  readonly app: AppBadge;
  /**
   * The CSP source (origin, or scheme of a custom-scheme URI) of the redirect the page's form answers with, once
   * it is proven registered; undefined otherwise.
   */
  readonly redirectSource: string | undefined;
}

/** A suspended request an interaction resumes, with what the user did. */
export interface Resumption {
  /** The `{tenant}` path segment the interaction runs under. */
  readonly tenant: string;
  readonly state: Readonly<Record<string, string>>;
  readonly result: InteractionResult;
}

/**
 * A kind of request that starts interactions and is continued by them: the admin consent endpoint and step-up
 * implement this and start an interaction with their own {@link InteractionResume}, reusing sign-in, the account
 * picker and the consent decision without going through `/authorize`.
 */
export interface ResumeTarget {
  /**
   * The app the pages name for this state (the sign-in page shown again after a refused password uses it);
   * undefined when it no longer exists (the error page is shown instead).
   */
  requester(
    context: ServerContext,
    state: Readonly<Record<string, string>>,
  ): Promise<InteractionRequester | undefined>;
  /** Continues the suspended request: answers the browser (a redirect to the app, or the next step's page). */
  resume(
    context: ServerContext,
    request: FastifyRequest,
    reply: FastifyReply,
    resumption: Resumption,
  ): Promise<FastifyReply>;
}

/** The registry of resume targets: one per name, so a new name without its target does not compile. */
export type ResumeTargets = { readonly [Name in ResumeTargetName]: ResumeTarget };
