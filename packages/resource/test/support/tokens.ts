import type { ClientCredentialsScenario, TestServer } from '@tessera/testkit';

/** A client credentials token straight from the real server's token endpoint (`client_secret_post`). */
export async function appToken(
  server: TestServer,
  scenario: ClientCredentialsScenario,
  options: { scope?: string; tenant?: string; clientId?: string; secret?: string } = {},
): Promise<string> {
  const response = await fetch(`${server.url}/${options.tenant ?? scenario.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: options.clientId ?? scenario.daemon.appId,
      client_secret: options.secret ?? scenario.daemon.secret,
      scope: options.scope ?? `${scenario.api.identifierUri}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (body.access_token === undefined) throw new Error(`no token: ${body.error_description ?? ''}`);
  return body.access_token;
}

/** The three parts of a compact JWS, header and payload decoded. */
export function partsOf(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
} {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature,
  };
}

/** Re-encodes a compact JWS from (possibly altered) parts, keeping whatever signature it is given. */
export function compact(header: object, payload: object, signature: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode(header)}.${encode(payload)}.${signature}`;
}

/** Counts the requests a real test server answers whose path matches `pattern`. */
export function countRequests(server: TestServer, pattern: RegExp): { readonly count: number } {
  let count = 0;
  server.server.app.server.on('request', (request: { method?: string; url?: string }) => {
    if (pattern.test(`${request.method ?? ''} ${request.url?.split('?')[0] ?? ''}`)) count += 1;
  });
  return {
    get count() {
      return count;
    },
  };
}

/** Base64 of the claims request Microsoft's step-up example uses, for an `acrs` value. */
export function expectedClaimsChallenge(acrs: string): string {
  return Buffer.from(`{"access_token":{"acrs":{"essential":true,"value":"${acrs}"}}}`).toString('base64');
}
