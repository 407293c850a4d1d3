import { startInteractiveServer } from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `errorCodePrefix`: every error description the server sends — JSON bodies, authorization error redirects, error
// pages — starts with the configured prefix (default `TSS`; `AADSTS` for code written against Entra ID).

/** What one surface answered: the error code and the text that precedes and follows it. */
interface Seen {
  readonly status: number;
  /** The description's first line (JSON, redirect) or the page's "Error code:" value. */
  readonly shown: string;
}

const json = async (response: Response): Promise<Seen> => {
  const body = (await response.json()) as { error_description: string };
  return { status: response.status, shown: body.error_description.split('\r\n')[0] ?? '' };
};
const page = async (response: Response): Promise<Seen> => {
  const html = await response.text();
  return { status: response.status, shown: /Error code: ([A-Z]+\d+)/.exec(html)?.[1] ?? html.slice(0, 200) };
};

describe.each([
  { prefix: 'TSS', config: {} },
  { prefix: 'AADSTS', config: { errorCodePrefix: 'AADSTS' as const } },
])('errorCodePrefix $prefix', ({ prefix, config }) => {
  let server: TestServer;
  let s: InteractiveScenario;
  beforeAll(async () => {
    ({ server, scenario: s } = await startInteractiveServer({ config }));
  });
  afterAll(() => server.close());

  const at = (path: string) => `${server.url}/${s.tenantId}/oauth2/v2.0/${path}`;
  const form = (path: string, fields: Record<string, string>) =>
    fetch(at(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
      redirect: 'manual',
    });

  /** Every kind of surface an error description reaches the client by. */
  const surfaces: readonly {
    name: string;
    answer: () => Promise<Seen>;
    expected: (prefix: string) => Seen;
  }[] = [
    {
      name: 'token endpoint (JSON body)',
      answer: async () => json(await form('token', { grant_type: 'client_credentials' })),
      expected: (p) => ({
        status: 400,
        shown: `${p}900144: The request body must contain the following parameter: 'client_id'.`,
      }),
    },
    {
      name: 'introspection endpoint (JSON body)',
      answer: async () => json(await form('introspect', { client_id: s.web.appId })),
      expected: (p) => ({
        status: 400,
        shown: `${p}900144: The request body must contain the following parameter: 'token'.`,
      }),
    },
    {
      name: 'unknown route (JSON body)',
      answer: async () => json(await fetch(`${server.url}/nowhere`)),
      expected: (p) => ({
        status: 404,
        shown: `${p}9100010: There is no endpoint at GET /nowhere.`,
      }),
    },
    {
      name: 'userinfo (JSON body of the 401)',
      answer: async () =>
        json(await fetch(`${server.url}/oidc/userinfo`, { headers: { authorization: 'Bearer x.y.z' } })),
      expected: (p) => ({
        status: 401,
        shown: `${p}9100016: The access token is missing, malformed, expired or not issued by this server for this endpoint.`,
      }),
    },
    {
      name: 'authorization error redirect (error_description parameter)',
      answer: async () => {
        const params = new URLSearchParams({
          client_id: s.web.appId,
          redirect_uri: s.web.redirectUri,
          response_type: 'code',
          scope: 'openid',
          prompt: 'none',
        });
        const response = await fetch(`${at('authorize')}?${params.toString()}`, { redirect: 'manual' });
        const location = new URL(response.headers.get('location') ?? '');
        return {
          status: response.status,
          shown: (location.searchParams.get('error_description') ?? '').split('\r\n')[0] ?? '',
        };
      },
      expected: (p) => ({
        status: 302,
        shown: `${p}50058: Session information is not sufficient for single-sign-on. The user is not signed in, and the request asked for no interaction (prompt=none).`,
      }),
    },
    {
      name: 'authorization error page (HTML)',
      answer: async () => {
        const params = new URLSearchParams({
          client_id: '3f6a0c3e-9d1b-4f55-8a47-2d6c1e0b9f10',
          redirect_uri: s.web.redirectUri,
          response_type: 'code',
          scope: 'openid',
        });
        return page(await fetch(`${at('authorize')}?${params.toString()}`, { redirect: 'manual' }));
      },
      expected: (p) => ({ status: 400, shown: `${p}700016` }),
    },
  ];

  it.each(surfaces)('$name', async ({ answer, expected }) => {
    expect(await answer()).toEqual(expected(prefix));
  });
});
