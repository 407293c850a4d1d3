/**
 * An error whose message is meant for the client: thrown from a hub method, its message becomes the Completion's
 * `error` as is. Any other error is reported as "An unexpected error occurred invoking 'X' on the server." and
 * its details stay in the server's logs.
 *
 * @see seed 002 "Exceptions"
 */
export class HubError extends Error {
  override readonly name = 'HubError';
}

/** The Completion error for a method that threw something other than a {@link HubError}. */
export function unexpectedErrorMessage(target: string): string {
  return `An unexpected error occurred invoking '${target}' on the server.`;
}

/** The Completion error for a caller refused by a policy (no hint of which requirement failed). */
export function unauthorizedMessage(target: string): string {
  return `Failed to invoke '${target}' because user is unauthorized`;
}
