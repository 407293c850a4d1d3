import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BearerTokenError, createTokenValidator, type TokenValidatorOptions } from '@tessera/resource';
import { createLocalKey, startLocalIssuer, type LocalIssuer } from './support/local-issuer.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TENANT = '0b5bd1c8-3f4e-4b8a-9a56-2a6a1b0f7e10';
const ISSUER = `https://login.tessera.test/${TENANT}/v2.0`;

// The key cache over jose's remote JWKS: keys leave with the JWKS that published them, whether the set is
// reloaded because it aged out or because an unknown kid arrived. Keys are served by a real local JWKS endpoint.
describe('JWKS caching and key removal', () => {
  let local: LocalIssuer;
  beforeEach(async () => {
    local = await startLocalIssuer();
  });
  afterEach(() => local.close());

  const validatorWith = (options: Partial<TokenValidatorOptions>) =>
    createTokenValidator({ jwksUri: local.jwksUri, issuer: ISSUER, audience: 'api://cache', ...options });

  function claims() {
    const now = Math.floor(Date.now() / 1000);
    const id = randomUUID();
    return {
      iss: ISSUER,
      aud: 'api://cache',
      iat: now,
      exp: now + 600,
      sub: id,
      oid: id,
      tid: TENANT,
      azp: randomUUID(),
      idtyp: 'app',
      ver: '2.0',
    };
  }

  async function codeOf(promise: Promise<unknown>) {
    const error: unknown = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    return error instanceof BearerTokenError ? error.code : error;
  }

  it('a key removed from the JWKS stops validating once the cached set ages out', async () => {
    // 1 s of cache: room for the ten validations on a busy machine.
    const validator = validatorWith({ jwksCacheMaxAgeMs: 1_000 });
    const token = await local.sign(claims());
    for (let i = 0; i < 10; i++) await validator.validate(token);
    expect(local.fetches).toBe(1);

    local.published = [await createLocalKey('RS256', 'next-key')];
    await sleep(1_050);
    expect(await codeOf(validator.validate(token))).toBe('key_not_found');
    expect(local.fetches).toBe(2);
  });

  it('a key removed from the JWKS stops validating when a new kid forces a reload', async () => {
    const validator = validatorWith({ jwksCooldownMs: 0 });
    const oldToken = await local.sign(claims());
    await validator.validate(oldToken);

    const next = await createLocalKey('RS256', 'next-key');
    local.published = [next];
    const newToken = await local.sign(claims(), {}, next);
    await validator.validate(newToken);
    expect(local.fetches).toBe(2);
    expect(await codeOf(validator.validate(oldToken))).toBe('key_not_found');
    await validator.validate(newToken);
  });

  it('concurrent first requests share one JWKS fetch', async () => {
    const validator = validatorWith({});
    const token = await local.sign(claims());
    await Promise.all(Array.from({ length: 25 }, () => validator.validate(token)));
    expect(local.fetches).toBe(1);
  });

  it('a JWKS endpoint answering garbage is metadata_unavailable, not a token refusal', async () => {
    const validator = validatorWith({ jwksUri: local.jwksUri.replace('/keys', '/missing') });
    expect(await codeOf(validator.validate(await local.sign(claims())))).toBe('metadata_unavailable');
  });
});
