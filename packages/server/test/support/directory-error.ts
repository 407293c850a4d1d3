import { DirectoryError } from '@tessera/server';
import { expect } from 'vitest';

/** What `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Asserts a refused directory operation: a DirectoryError with exactly this code and message. */
export async function expectDirectoryError(
  promise: Promise<unknown>,
  code: string,
  message: string,
): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(DirectoryError);
  expect({ code: (error as DirectoryError).code, message: (error as DirectoryError).message }).toEqual({
    code,
    message,
  });
}
