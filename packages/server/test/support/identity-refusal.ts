import { IdentityError } from '@tessera/protocol';

/**
 * The AADSTS code `promise` is refused with (an {@link IdentityError}'s `code`). Any other rejection is rethrown;
 * a fulfilled promise fails the test ("expected a refusal").
 */
export async function refusal(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdentityError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}
