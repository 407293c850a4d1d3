import type { User } from 'oidc-client-ts';
import type { AuthenticationError } from './errors.js';

/** The events of an {@link Authentication}, with what each listener receives. */
export interface AuthenticationEvents {
  /** A user signed in, or their tokens were renewed (silently or interactively). */
  readonly signedIn: User;
  /** The user signed out here, in another tab of the same app, or their stored session was removed. */
  readonly signedOut: undefined;
  /** A silent renewal failed; `reason` says why when it is known (e.g. `third_party_cookies_blocked`). */
  readonly renewalError: AuthenticationError;
}

/** Listener of event `K`. */
export type AuthenticationListener<K extends keyof AuthenticationEvents> = (
  value: AuthenticationEvents[K],
) => void;

/** A minimal typed event emitter (no DOM `EventTarget`, so it runs in tests without a DOM). */
export class AuthenticationEventEmitter {
  private readonly listeners = new Map<keyof AuthenticationEvents, Set<(value: never) => void>>();

  /** Adds `listener`; returns the function that removes it. */
  on<K extends keyof AuthenticationEvents>(event: K, listener: AuthenticationListener<K>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const stored = listener as (value: never) => void;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  emit<K extends keyof AuthenticationEvents>(event: K, value: AuthenticationEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as AuthenticationListener<K>)(value);
      } catch (error) {
        console.error(error);
      }
    }
  }
}
