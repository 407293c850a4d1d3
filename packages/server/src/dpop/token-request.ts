import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import { DpopNonces } from './nonce.js';
import { dpopHeaderOf, dpopReplayKey, verifyDpopProof, type VerifiedDpopProof } from './proof.js';

/**
 * The DPoP proof of a token request (RFC 9449 §5), verified ({@link verifyDpopProof}) against `POST` and the
 * endpoint's URL as the client addresses it (the public base URL with the request's path), then, when
 * `dpopNonceRequired`, its server nonce (§8), and last its single use: one conditional INSERT of its replay key in
 * the database, remembered until `iat` + `dpopProofWindowSeconds` (§11.1). Undefined when the request has no
 * `DPoP` header.
 *
 * @param headers the request's `DPoP` header values (`IncomingMessage.headersDistinct.dpop`).
 * @param path the request's path (query included; it is ignored).
 * @throws IdentityError 9100300 (invalid proof, several headers), 9100302 (`use_dpop_nonce`: no or a stale
 *   nonce), 9100301 (replayed `jti`).
 */
export async function tokenRequestProof(
  context: ServerContext,
  headers: readonly string[] | undefined,
  path: string,
): Promise<VerifiedDpopProof | undefined> {
  const header = dpopHeaderOf(headers);
  if (header === undefined) return undefined;
  const now = context.now();
  const { config } = context;
  const proof = await verifyDpopProof(header, {
    method: 'POST',
    url: `${context.baseUrl()}${path}`,
    now,
    windowSeconds: config.dpopProofWindowSeconds,
  });
  if (config.dpopNonceRequired) {
    if (proof.nonce === undefined) {
      throw new IdentityError(9100302, { reason: 'The proof carries no nonce.' });
    }
    if (!dpopNonces(context).isCurrent(proof.nonce, now)) {
      throw new IdentityError(9100302, {
        reason: 'The nonce of the proof is stale or was not issued by this server.',
      });
    }
  }
  const first = await context.signIn.dpopProofJtis.use(
    dpopReplayKey(proof),
    proof.iat + config.dpopProofWindowSeconds,
    now,
  );
  if (!first) throw new IdentityError(9100301, {}, { detail: `jti ${proof.jti.slice(0, 64)}` });
  return proof;
}

/** The `DPoP-Nonce` to send with a token response when nonces are required (RFC 9449 §8, §8.2), else undefined. */
export function dpopNonceHeader(context: ServerContext): string | undefined {
  return context.config.dpopNonceRequired ? dpopNonces(context).issue(context.now()) : undefined;
}

function dpopNonces(context: ServerContext): DpopNonces {
  return new DpopNonces(context.keys.dpopNonce, context.config.dpopNonceLifetimeSeconds);
}
