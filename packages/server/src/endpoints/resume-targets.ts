import type { ResumeTargets } from './interaction/resume-target.js';
import { adminConsentResumeTarget } from './admin-consent/index.js';
import { authorizeResumeTarget } from './authorize/resume.js';

/**
 * Every request an interaction can resume, by resume target name (`interaction/resume-target.ts`): what
 * `POST /{tenant}/login` continues once a page is answered. The admin consent endpoint and MFA step-up add
 * their names to `RESUME_TARGET_NAMES` and their targets here.
 */
export const resumeTargets: ResumeTargets = {
  authorize: authorizeResumeTarget,
  adminconsent: adminConsentResumeTarget,
};
