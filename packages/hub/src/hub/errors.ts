/**
 * An error whose message is meant for the client: thrown from a hub method, its message becomes the Completion's
 * `error` as is. Any other error is reported as "An unexpected error occurred invoking 'X' on the server." and
 * its details stay in the server's logs.
 *
 * @see docs/hub.md "Security" (errors); ASP.NET Core `HubException`
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

/**
 * The Completion error for an invocation whose argument count differs from the method's, as ASP.NET Core SignalR
 * words it with detailed errors (the InvalidDataException its protocols throw while binding arguments).
 */
export function argumentCountMessage(target: string, provided: number, expected: number): string {
  return `Failed to invoke '${target}' due to an error on the server. InvalidDataException: Invocation provides ${provided} argument(s) but target expects ${expected}.`;
}

/** The Completion error for an invocation with more upload streams than the method's parameters (ASP.NET's words). */
export function streamCountMessage(target: string, provided: number, expected: number): string {
  return `An unexpected error occurred invoking '${target}' on the server. HubException: Client sent ${provided} stream(s), Hub method expects ${expected}.`;
}
