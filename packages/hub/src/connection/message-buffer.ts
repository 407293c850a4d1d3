import type { HubMessage } from '../protocol/messages.js';
import { isSequenced } from '../protocol/messages.js';

interface BufferedPayload {
  readonly id: number;
  readonly payload: Buffer;
}

/**
 * Stateful reconnect bookkeeping of one connection, both directions. Sequenced messages (types 1 to 5) are
 * numbered from 1 in each direction; sent ones stay buffered until the peer acknowledges them; received ones are
 * counted so that a replay after a reconnect is de-duplicated.
 *
 * @see HubProtocol.md "Ack Message", "Sequence Message"; TransportProtocols.md (stateful reconnect)
 */
export class MessageBuffer {
  private items: BufferedPayload[] = [];
  private head = 0;
  private sentCount = 0;
  /** Bytes of unacknowledged payloads. */
  bufferedBytes = 0;
  private nextReceivingId = 1;
  private latestReceivedId = 0;
  private waitingForSequence = false;
  /** True when a received message has not been acknowledged yet. */
  ackDue = false;

  /** Records an outgoing sequenced payload. */
  push(payload: Buffer): void {
    this.sentCount++;
    this.items.push({ id: this.sentCount, payload });
    this.bufferedBytes += payload.length;
  }

  /** Drops payloads up to and including `sequenceId`. */
  ack(sequenceId: number): void {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (item === undefined || item.id > sequenceId) break;
      this.bufferedBytes -= item.payload.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** The transport dropped: after a reattach, nothing is processed before the peer's Sequence message. */
  disconnected(): void {
    this.waitingForSequence = true;
  }

  /** What to send on reattach: the Sequence id, then every unacknowledged payload in order. */
  replay(): { sequenceId: number; payloads: Buffer[] } {
    const pending = this.items.slice(this.head);
    return {
      sequenceId: pending[0]?.id ?? this.sentCount + 1,
      payloads: pending.map((item) => item.payload),
    };
  }

  /** The Ack to send for what was received. */
  ackMessage(): HubMessage {
    this.ackDue = false;
    return { type: 8, sequenceId: this.latestReceivedId };
  }

  /**
   * Whether a received message is new. Duplicates of a replay and anything before the peer's Sequence message after
   * a reconnect are dropped.
   *
   * @throws Error when a Sequence message claims messages that were never received.
   */
  accept(message: HubMessage): boolean {
    if (message.type === 9) {
      if (message.sequenceId > this.nextReceivingId) {
        throw new Error('Sequence ID greater than amount of messages we have received.');
      }
      this.waitingForSequence = false;
      this.nextReceivingId = message.sequenceId;
      return false;
    }
    if (this.waitingForSequence) return false;
    if (!isSequenced(message)) return true;
    const current = this.nextReceivingId++;
    if (current <= this.latestReceivedId) return false;
    this.latestReceivedId = current;
    this.ackDue = true;
    return true;
  }
}
