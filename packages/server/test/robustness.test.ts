import { Agent } from 'node:https';
import { registeredRoutes } from '@tessera/server';
import {
  postgresAvailable,
  rawHttpsRequest,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type RawAnswer,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Malformed input to every endpoint the server registers (enumerated from the app, so a new endpoint is covered
// without being listed here): odd path segments, every method, malformed bodies and encodings, odd headers and
// cookies. Each answer must be below 500 and carry no stack trace, internal path or exception text; errors must be
// catalogue errors (docs/errors.md). One server, requests in parallel, well under 30 s.

const server = await startTestServer();
const scenario: InteractiveScenario = await seedInteractiveScenario(server.directory);
afterAll(() => server.close());

const agent = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
/** For a retry: a fresh connection (the server closes one after a refused upload or oversized headers). */
const freshAgent = new Agent({ keepAlive: false, rejectUnauthorized: false });
const port = server.port;

/** Text that must never reach a client: stack frames, source paths, exception names, Fastify's own bodies. */
const LEAKS: readonly [string, RegExp][] = [
  ['a stack frame', /\bat \S+ \(|\bat (?:async )?\S+:\d+:\d+/],
  ['an exception text', /\b(?:Type|Reference|Syntax|Range)?Error: /],
  ['a source path', /node_modules|\/packages\/|file:\/\/|\.ts:\d+|\.js:\d+/],
  ['a Fastify error code', /FST_ERR|"statusCode"/],
  ['a database error', /SQLITE_|sqlite3?\b|\bkysely\b|duplicate key|violates/i],
];

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

type Answer = RawAnswer;

/**
 * Sends on a kept-alive connection; if that connection was closed under it (the server closes one after a refused
 * upload or oversized headers, and the next request may already be on it), sends once more on a fresh one.
 */
async function send(sent: Sent): Promise<Answer> {
  try {
    return await sendOn(agent, sent);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return sendOn(freshAgent, sent);
  }
}

function sendOn(via: Agent, sent: Sent): Promise<Answer> {
  return rawHttpsRequest(
    {
      port,
      method: sent.method,
      path: sent.path,
      agent: via,
      headers: { host: `localhost:${port}`, ...sent.headers },
    },
    sent.body,
  );
}

/** Whether a JSON error body is Microsoft Graph's (`{ error: { code, message, innerError } }`), as `/v1.0` answers. */
function isGraphError(body: unknown): boolean {
  const error = (body as { error?: Record<string, unknown> }).error;
  return (
    typeof error?.code === 'string' &&
    typeof error.message === 'string' &&
    typeof (error.innerError as Record<string, unknown> | undefined)?.['request-id'] === 'string'
  );
}

/** What is wrong with an answer, or undefined. */
function problemOf(answer: Answer, method: string, path: string): string | undefined {
  if (answer.status >= 500 || answer.status < 100) return `status ${answer.status}`;
  for (const [what, pattern] of LEAKS) if (pattern.test(answer.body)) return `${what} in the body`;
  if (answer.status >= 400 && method !== 'HEAD') {
    if (answer.contentType.startsWith('application/json')) {
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        return 'an error body that is not JSON';
      }
      const fields = body as Record<string, unknown>;
      // Graph's body under /v1.0, except a 431: the HTTP parser refuses oversized heads before any route is known.
      if (path.startsWith('/v1.0/') && answer.status !== 431) {
        if (!isGraphError(body)) return 'an error body that is not a Graph error';
      } else if (
        typeof fields.error !== 'string' ||
        !Array.isArray(fields.error_codes) ||
        typeof fields.error_description !== 'string' ||
        !/^[A-Z]+\d+: /.test(fields.error_description) ||
        typeof fields.trace_id !== 'string'
      ) {
        return 'an error body that is not a catalogue error';
      }
    } else if (answer.contentType.startsWith('text/html')) {
      if (!/Error code: [A-Z]+\d+/.test(answer.body)) return 'an error page without a catalogue code';
    } else if (answer.body !== '') {
      return `an error body of type '${answer.contentType}'`;
    }
  }
  return undefined;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** `{tenant}` (any route parameter) replacements: valid, aliases, unknown and malformed. */
const SEGMENTS: readonly string[] = [
  scenario.tenantId,
  'common',
  'organizations',
  '00000000-0000-0000-0000-000000000000',
  'unknown.test',
  '%00',
  '%zz',
  '%',
  '%2e%2e',
  '..',
  'a%2Fb',
  '%C3%BC%C3%B1%C3%AF',
  '%FF%FE',
  '%E2%80%AE',
  'a'.repeat(101),
  'a'.repeat(300),
  `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.test`,
  '__proto__',
  'constructor',
];

/** Query strings appended to every path. */
const QUERIES: readonly string[] = [
  '',
  '?%zz=1',
  '?client_id=a&client_id=b',
  '?client_id[]=x&redirect_uri[x]=y',
  '?__proto__[polluted]=1&constructor[prototype][x]=1',
  `?client_id=${scenario.web.appId}&redirect_uri=${encodeURIComponent('http://127.0.0.1:99999/cb')}&response_mode=form_post&response_type=code&scope=openid`,
  `?client_id=${scenario.native.appId}&redirect_uri=${encodeURIComponent('http://127.0.0.1:99999/callback')}&response_mode=form_post&response_type=code&scope=openid`,
  `?client_id=${scenario.web.appId}&response_type=code&scope=openid&claims=${encodeURIComponent('{"a":')}`,
  `?post_logout_redirect_uri=${encodeURIComponent('javascript:alert(1)')}&id_token_hint=a.b.c`,
  `?client-request-id=${'x'.repeat(200)}&state=${'%'.repeat(10)}`,
];

const FORM = 'application/x-www-form-urlencoded';
const contentTypeHeader = (value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { 'content-type': value };

/** Bodies sent with POST, PUT and PATCH. */
const BODIES: readonly (readonly [string, string | undefined, string | Buffer | undefined])[] = [
  ['no body, no content type', undefined, undefined],
  ['an empty form', FORM, ''],
  ['JSON null', 'application/json', 'null'],
  ['a JSON array', 'application/json', '[1,2]'],
  ['a JSON string', 'application/json', '"text"'],
  ['a JSON number', 'application/json', '42'],
  ['broken JSON', 'application/json', '{"a":'],
  ['an empty JSON body', 'application/json', ''],
  ['a JSON object', 'application/json', '{"grant_type":{"x":1},"client_id":[1]}'],
  ['a form with repeated parameters', FORM, 'grant_type=a&grant_type=b&client_id=x&client_id=y'],
  ['a form with bad percent-encoding', FORM, 'grant_type=%zz&client_id=%&code=%E0%A4%A'],
  ['a form with non-UTF-8 bytes', FORM, Buffer.from([0x63, 0x6f, 0x64, 0x65, 0x3d, 0xff, 0xfe, 0xc3])],
  ['a form with bracket names', FORM, 'a[b]=1&a[c][d]=2&__proto__[x]=1'],
  ['a form in latin1', `${FORM}; charset=latin1`, 'client_id=caf\u00e9'],
  [
    'a plausible token request',
    FORM,
    `grant_type=authorization_code&client_id=${scenario.spa.appId}&code=x&redirect_uri=${encodeURIComponent(scenario.spa.redirectUri)}&code_verifier=short`,
  ],
  ['plain text', 'text/plain', 'hello'],
  ['multipart junk', 'multipart/form-data; boundary=x', '--x\r\nnonsense'],
  ['an unknown content type', 'application/x-unknown', '\u0000\u0001'],
  ['a malformed content type', ';;;/', 'x=1'],
  ['a body over the limit', FORM, `client_id=${'a'.repeat(70 * 1024)}`],
  ['a JSON body over the limit', 'application/json', `{"a":"${'a'.repeat(70 * 1024)}"}`],
];

/** Header sets sent with a well-formed form body. */
const HEADERS: readonly (readonly [string, Record<string, string>])[] = [
  ['Basic without a colon', { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }],
  ['Basic that is not base64', { authorization: 'Basic !!!***' }],
  ['Basic with an empty user', { authorization: `Basic ${Buffer.from(':secret').toString('base64')}` }],
  ['Basic with bad percent-encoding', { authorization: `Basic ${Buffer.from('%zz:%').toString('base64')}` }],
  ['Basic with no value', { authorization: 'Basic' }],
  ['a Bearer JWT of junk', { authorization: 'Bearer a.b.c' }],
  ['a Bearer token of bytes', { authorization: `Bearer ${'\u00ff'.repeat(10)}` }],
  ['an unknown scheme', { authorization: 'Negotiate YII=' }],
  ['Origin null', { origin: 'null' }],
  ['an unregistered Origin', { origin: 'https://evil.example' }],
  ['a malformed Origin', { origin: '%%%://' }],
  ['a registered spa Origin', { origin: scenario.spa.origin }],
  ['a preflight', { origin: scenario.spa.origin, 'access-control-request-method': 'POST' }],
  ['a malformed cookie', { cookie: 'tessera_session=%zz; ; =; a' }],
  ['a forged session cookie', { cookie: `tessera_session=${'A'.repeat(200)}; tessera_interaction=x.y.z` }],
  ['cookies named like prototypes', { cookie: '__proto__=1; constructor=2; hasOwnProperty=3' }],
  ['a long cookie', { cookie: `c=${'v'.repeat(6000)}` }],
  ['a long client-request-id', { 'client-request-id': 'x'.repeat(5000) }],
  ['odd Accept headers', { accept: '*/*;q=abc, text/html;;', 'accept-language': '\u00ff' }],
  ['headers too large', { 'x-big': 'x'.repeat(20_000) }],
];

/**
 * A HEAD request the HTTP parser refused for oversized headers: the server answers 431 with the catalogue body
 * unless it can still see the method (over TLS the refused bytes may start mid-request), and a client reading a
 * HEAD answer takes any body for garbage. That answer is asserted for the other methods.
 */
const isOversizedHead = (sent: Sent) =>
  sent.method === 'HEAD' &&
  (sent.path.length > 16_000 || Object.values(sent.headers ?? {}).some((value) => value.length > 16_000));

/** Runs `sends` with bounded parallelism; returns each problem as `METHOD path [case]: problem`. */
async function problemsOf(sends: readonly (Sent & { readonly label: string })[]): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < sends.length) {
      const sent = sends[next++];
      if (sent === undefined) return;
      if (isOversizedHead(sent)) continue;
      let problem: string | undefined;
      try {
        problem = problemOf(await send(sent), sent.method, sent.path);
      } catch (error) {
        problem = `no answer (${(error as Error).message})`;
      }
      if (problem !== undefined)
        problems.push(`${sent.method} ${sent.path.slice(0, 120)} [${sent.label}]: ${problem}`);
    }
  }
  await Promise.all(Array.from({ length: 12 }, () => worker()));
  return problems;
}

const routes = registeredRoutes(server.server.app);
const urls = [...new Set(routes.map((route) => route.url))];
const withSegment = (url: string, segment: string) => url.replace(/:[A-Za-z]+/g, segment);

describe('robustness: malformed input to every registered endpoint answers < 500 without internals', () => {
  it('enumerates the endpoints from the app', () => {
    expect(urls).toEqual(
      expect.arrayContaining(['/:tenant/oauth2/v2.0/token', '/:tenant/oauth2/v2.0/authorize']),
    );
    expect(urls.length).toBeGreaterThanOrEqual(8);
  });

  it.each(urls)('%s: every method, path segment and query', async (url) => {
    const sends = METHODS.flatMap((method) => [
      ...SEGMENTS.map((segment) => ({ label: 'segment', method, path: withSegment(url, segment) })),
      ...QUERIES.map((query) => ({
        label: 'query',
        method,
        path: `${withSegment(url, scenario.tenantId)}${query}`,
      })),
    ]);
    expect(await problemsOf(sends)).toEqual([]);
  });

  it.each(urls)('%s: malformed bodies with every writing method', async (url) => {
    const path = withSegment(url, scenario.tenantId);
    const sends = (['POST', 'PUT'] as const).flatMap((method) =>
      BODIES.map(([label, contentType, body]) => ({
        label,
        method,
        path,
        headers: contentTypeHeader(contentType),
        ...(body === undefined ? {} : { body }),
      })),
    );
    expect(await problemsOf(sends)).toEqual([]);
  });

  it.each(urls)('%s: odd headers and cookies', async (url) => {
    const path = withSegment(url, scenario.tenantId);
    const body = `grant_type=refresh_token&refresh_token=x&client_id=${scenario.web.appId}&token=x&id_token_hint=x`;
    const sends = (['GET', 'POST', 'OPTIONS', 'HEAD'] as const).flatMap((method) =>
      HEADERS.map(([label, headers]) => ({
        label,
        method,
        path,
        headers: method === 'POST' ? { 'content-type': FORM, ...headers } : headers,
        ...(method === 'POST' ? { body } : {}),
      })),
    );
    expect(await problemsOf(sends)).toEqual([]);
  });

  it('answers paths no route matches the same way', async () => {
    const sends = [
      '/',
      '/%zz',
      '/a/b/c/d',
      `/${'x'.repeat(20_000)}`,
      '/%C3%BF',
      '/..%2f..%2fetc%2fpasswd',
      '//',
    ].flatMap((path) => METHODS.map((method) => ({ label: 'unrouted', method, path })));
    expect(await problemsOf(sends)).toEqual([]);
  });
});

// Text that reaches the store: PostgreSQL text holds no NUL, so a NUL where a value is stored or looked up would
// be a database error (500) there and a stored value on SQLite. Each is refused the same way on both.
const pgUp = await postgresAvailable();

describe.each([
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUp },
] as const)('robustness: a NUL in a value the store sees, on $name', ({ name, available }) => {
  let nulServer: TestServer;
  let s: InteractiveScenario;
  beforeAll(async () => {
    if (!available) return;
    nulServer = await startTestServer({ database: name });
    s = await seedInteractiveScenario(nulServer.directory);
  });
  afterAll(async () => {
    if (available) await nulServer.close();
  });

  const authorizeUrl = (extra: Record<string, string>) =>
    `${nulServer.url}/${s.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
      client_id: s.web.appId,
      response_type: 'code',
      redirect_uri: s.web.redirectUri,
      scope: 'openid',
      state: 'st',
      ...extra,
    }).toString()}`;

  it.skipIf(!available).each([
    ['in the middle', 'a\u0000b'],
    ['alone', '\u0000'],
  ])('refuses a nonce with a NUL %s back at the redirect URI (9002313), no code', async (_case, nonce) => {
    const back = await signInThrough(new TestBrowser(), authorizeUrl({ nonce }), {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    expect(back.status).toBe(302);
    const query = new URL(back.location ?? 'https://x.invalid/').searchParams;
    expect({
      redirectUri: (back.location ?? '').split('?')[0],
      error: query.get('error'),
      text: query.get('error_description')?.split('\r\n')[0],
      code: query.get('code'),
      state: query.get('state'),
    }).toEqual({
      redirectUri: s.web.redirectUri,
      error: 'invalid_request',
      text: "TSS9002313: Request is malformed or invalid: 'nonce' must not contain a NUL character.",
      code: null,
      state: 'st',
    });
  });

  it.skipIf(!available).each([
    ['a NUL in the user name', 'alice\u0000@x.test'],
    ['a user name that is only a NUL', '\u0000'],
  ])('answers %s on the sign-in page as unknown credentials (50126)', async (_case, userName) => {
    const browser = new TestBrowser();
    const page = await browser.get(authorizeUrl({}));
    const answer = await browser.submit(nulServer.url, page, { username: userName, password: s.password });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Error validating credentials due to invalid username or password.');
    expect(answer.body).toContain('name="password"');
  });
});
