import type { ServerContext } from '../../context.js';
import type { Application } from '../../directory/model.js';
import type { InteractionRequester } from '../interaction/resume-target.js';
import { matchRedirectUri } from '../../directory/redirect-uris.js';

/**
 * The client as the interaction pages show it (display name, and its home tenant's first domain as the
 * publisher, or "unverified publisher"), and the CSP source of the request's redirect URI once it is proven
 * registered for the client.
 */
export async function requesterOf(
  context: ServerContext,
  client: Application,
  params: Readonly<Record<string, string>>,
): Promise<InteractionRequester> {
  const home = await context.cache.tenant(client.tenantId);
  return {
    app: { displayName: client.displayName, publisherDomain: home?.domains[0] ?? 'unverified publisher' },
    redirectSource: redirectSourceOf(client, params.redirect_uri),
  };
}

/** The origin (or scheme, for a custom-scheme URI) of a redirect URI registered for the client; else undefined. */
function redirectSourceOf(client: Application, uri: string | undefined): string | undefined {
  if (uri === undefined || matchRedirectUri(client, uri) === undefined || !URL.canParse(uri))
    return undefined;
  const url = new URL(uri);
  return url.origin === 'null' ? url.protocol : url.origin;
}
