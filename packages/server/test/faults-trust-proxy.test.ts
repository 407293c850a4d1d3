import { randomInt } from 'node:crypto';
import {
  TestBrowser,
  rawHttpsRequest,
  seedInteractiveScenario,
  startTestServer,
  type InteractiveScenario,
  type RawAnswer,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config.js';

// Per-IP sign-in throttling behind a reverse proxy: `X-Forwarded-For` names the client only when it comes from a
// configured proxy (`trustProxy`); otherwise anyone could pick the address their failures are counted against.

/** A distinct loopback source address per call: the per-IP counters of parallel suites never meet. */
const freshIp = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A distinct documentation-range (RFC 5737) address: what a forged or proxied header claims. */
const claimedIp = () => `203.0.113.${randomInt(1, 255)}`;

interface SignInForm {
  readonly login: URL;
  readonly fields: Record<string, string>;
  readonly cookie: string;
}

async function signInForm(server: TestServer, s: InteractiveScenario): Promise<SignInForm> {
  const browser = new TestBrowser();
  const page = await browser.get(
    `${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
      client_id: s.web.appId,
      response_type: 'code',
      redirect_uri: s.web.redirectUri,
      scope: 'openid',
    }).toString()}`,
  );
  expect(page.status).toBe(200);
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(page.body)?.[1] ?? '';
  return {
    login: new URL(`${server.url}/${s.tenantId}/login`),
    fields: { interaction: field('interaction'), csrf_token: field('csrf_token'), action: 'signin' },
    cookie: `tessera_csrf=${browser.cookie('tessera_csrf') ?? ''}`,
  };
}

/** A wrong password for an unknown name, sent from `localAddress` with `X-Forwarded-For: forwardedFor`. */
function wrongPassword(
  form: SignInForm,
  s: InteractiveScenario,
  localAddress: string,
  forwardedFor: string,
): Promise<RawAnswer> {
  const body = new URLSearchParams({
    ...form.fields,
    username: `guess-${randomInt(1e9)}@${s.domain}`,
    password: 'wrong-password',
  }).toString();
  return rawHttpsRequest(
    {
      port: form.login.port,
      path: form.login.pathname,
      method: 'POST',
      family: 4,
      localAddress,
      agent: false,
      headers: {
        host: form.login.host,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        cookie: form.cookie,
        'x-forwarded-for': forwardedFor,
      },
    },
    body,
  );
}

const LOCKED =
  'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.';
const INVALID = 'Error validating credentials due to invalid username or password.';

function expectRefusal(answer: RawAnswer, status: 400 | 429): void {
  expect(answer.status).toBe(status);
  expect(answer.body).toContain(
    `<div class="alert" role="alert" id="form-error">${status === 429 ? LOCKED : INVALID}</div>`,
  );
}

describe('trustProxy: which address per-IP sign-in throttling counts', () => {
  let off: TestServer;
  let behindProxy: TestServer;
  let s: InteractiveScenario;
  let t: InteractiveScenario;

  beforeAll(async () => {
    const config = { signInMaxFailuresPerIp: 1, signInMaxFailuresPerAccount: 1000 };
    off = await startTestServer({ config });
    behindProxy = await startTestServer({ config: { ...config, trustProxy: ['127.0.0.0/8'] } });
    s = await seedInteractiveScenario(off.directory);
    t = await seedInteractiveScenario(behindProxy.directory);
  });
  afterAll(async () => {
    await off.close();
    await behindProxy.close();
  });

  it('off (the default): a forged X-Forwarded-For does not change the throttled IP', async () => {
    expect(off.server.config.trustProxy).toBe(false);
    const form = await signInForm(off, s);
    const peer = freshIp();
    expectRefusal(await wrongPassword(form, s, peer, claimedIp()), 400);
    // Another claimed address from the same peer is the same client: locked (50053).
    expectRefusal(await wrongPassword(form, s, peer, claimedIp()), 429);
    expectRefusal(await wrongPassword(form, s, peer, '198.51.100.7, 192.0.2.1'), 429);
  });

  it('with a trusted proxy address: X-Forwarded-For names the client, per client', async () => {
    const form = await signInForm(behindProxy, t);
    const proxy = freshIp();
    const alice = claimedIp();
    let bob = claimedIp();
    while (bob === alice) bob = claimedIp();
    expectRefusal(await wrongPassword(form, t, proxy, alice), 400);
    // Another client behind the same proxy is not locked by the first one's failure.
    expectRefusal(await wrongPassword(form, t, proxy, bob), 400);
    // The first client is, whatever the proxy's own address.
    expectRefusal(await wrongPassword(form, t, freshIp(), alice), 429);
    // A client cannot hide behind a forged entry: the rightmost untrusted address is the client.
    expectRefusal(await wrongPassword(form, t, proxy, `192.0.2.99, ${alice}`), 429);
  });
});

describe('trustProxy configuration', () => {
  const read = (value: string) => loadConfig({ TESSERA_TRUST_PROXY: value }).trustProxy;

  it('reads false, true, a hop count and a list of addresses and CIDR ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(read('false')).toBe(false);
    expect(read('TRUE')).toBe(true);
    expect(read('2')).toBe(2);
    expect(read('10.0.0.0/8, ::1,fd00::/8')).toEqual(['10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it.each(['0', '101', 'proxy.internal', '10.0.0.0/33', '::1/129', '10.0.0.1,'])(
    'refuses %j naming the variable',
    (value) => {
      expect(() => read(value)).toThrow(ConfigError);
      expect(() => read(value)).toThrow(/TESSERA_TRUST_PROXY \(trustProxy\)/);
    },
  );
});
