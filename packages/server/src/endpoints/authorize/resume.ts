import type { ResumeTarget } from '../interaction/resume-target.js';
import { authorize, type Continuation } from './pipeline.js';
import { requesterOf } from './requester.js';

/**
 * The `authorize` resume target: an interaction started by an authorization request continues that request —
 * its parameters are the interaction's state — with what the user did: the session signed in (fresh) or picked,
 * or the consent decision. "Use another account" runs the request again as `prompt=login` without its
 * `login_hint`.
 */
export const authorizeResumeTarget: ResumeTarget = {
  async requester(context, state) {
    const client = await context.cache.application(state.client_id ?? '');
    return client === undefined ? undefined : requesterOf(context, client, state);
  },
  resume(context, request, reply, { tenant, state, result }) {
    let params: Record<string, string> = { ...state };
    let continuation: Continuation = {};
    switch (result.kind) {
      case 'signed-in':
        continuation = { session: { id: result.sessionId, fresh: true }, browserHash: result.browserHash };
        break;
      case 'account-selected':
        continuation = { session: { id: result.sessionId, fresh: false } };
        break;
      case 'another-account': {
        const { prompt: _prompt, login_hint: _hint, ...rest } = state;
        params = { ...rest, prompt: 'login' };
        break;
      }
      case 'consent-decided':
        continuation = {
          session: { id: result.sessionId, fresh: result.sessionFresh },
          consent: { accept: result.accept, forOrganization: result.forOrganization },
        };
        break;
    }
    return authorize(context, request, reply, tenant, () => params, continuation);
  },
};
