import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bytes of the MAC kept in a nonce (128 bits). */
const MAC_BYTES = 16;

/**
 * Stateless DPoP server nonces (RFC 9449 §8): `base64url(slot ‖ HMAC-SHA256(key, "dpop-nonce" ‖ slot)[0..16])`,
 * where `slot` is the current time slot (Unix seconds ÷ `slotSeconds`, 8 bytes big-endian). Every node derives the
 * same key from the master key, so a nonce one node issued is accepted by all; nothing is stored. A nonce is valid
 * in its slot and the next one, i.e. between one and two slots.
 */
export class DpopNonces {
  /**
   * @param key HMAC-SHA256 key (`DerivedKeys.dpopNonce`).
   * @param slotSeconds length of a slot, seconds.
   */
  constructor(
    private readonly key: Buffer,
    private readonly slotSeconds: number,
  ) {}

  /** The nonce of the current slot; `now` in Unix seconds. */
  issue(now: number): string {
    return this.nonceOf(Math.floor(now / this.slotSeconds));
  }

  /** True when `nonce` is the nonce of the current or the previous slot; `now` in Unix seconds. */
  isCurrent(nonce: string, now: number): boolean {
    const slot = Math.floor(now / this.slotSeconds);
    const presented = Buffer.from(nonce, 'utf8');
    return [slot, slot - 1].some((candidate) => {
      const expected = Buffer.from(this.nonceOf(candidate), 'utf8');
      return expected.length === presented.length && timingSafeEqual(expected, presented);
    });
  }

  private nonceOf(slot: number): string {
    const slotBytes = Buffer.alloc(8);
    slotBytes.writeBigUInt64BE(BigInt(slot));
    const mac = createHmac('sha256', this.key).update('dpop-nonce').update(slotBytes).digest();
    return Buffer.concat([slotBytes, mac.subarray(0, MAC_BYTES)]).toString('base64url');
  }
}
