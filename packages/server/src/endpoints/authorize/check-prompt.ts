import { IdentityError } from '@tessera/protocol';
import type { AuthorizationContext, Prompt } from './request.js';

const PROMPTS: ReadonlySet<string> = new Set(['none', 'login', 'consent', 'select_account']);

/**
 * Step: `prompt`, `max_age` and `claims`. `none` cannot be combined with another prompt; `max_age` is a
 * non-negative integer of seconds; `claims` must be a JSON object (its requests are accepted and otherwise
 * ignored: the ID token carries its standard claims).
 *
 * @throws IdentityError 9002313 for a malformed value.
 * @see OIDC Core §3.1.2.1, §5.5
 */
export function checkPrompt(ctx: AuthorizationContext): void {
  const prompts = (ctx.params.prompt ?? '').split(' ').filter(Boolean);
  for (const prompt of prompts) {
    if (!PROMPTS.has(prompt))
      throw new IdentityError(9002313, { reason: `unsupported prompt value '${prompt.slice(0, 32)}'.` });
  }
  if (prompts.includes('none') && prompts.length > 1) {
    throw new IdentityError(9002313, { reason: "prompt 'none' cannot be combined with other values." });
  }
  ctx.prompts = new Set(prompts as Prompt[]);
  const maxAge = ctx.params.max_age;
  if (maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(maxAge))
      throw new IdentityError(9002313, { reason: "'max_age' must be a number of seconds." });
    ctx.maxAgeSeconds = Number(maxAge);
  }
  const claims = ctx.params.claims;
  if (claims !== undefined && claims !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(claims);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new IdentityError(9002313, { reason: "'claims' must be a JSON object." });
    }
  }
}
