import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from './failures';

/** The error every input check throws: the field it is about and what is wrong with it. Pure. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid input: ${field}: ${message}`);
    this.name = 'InputError';
  }
}

/**
 * Runs `check`; an InputError becomes the non-retryable InvalidInput failure it is (no retry can
 * fix bad input), naming the field, its message after `context` when given. Other errors pass as they are.
 */
export function refusingBadInput<T>(check: () => T, context?: string): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InputError) {
      const message = context ? `${context}: ${err.message}` : err.message;
      throw ApplicationFailure.nonRetryable(message, FAILURE.invalidInput, { field: err.field });
    }
    throw err;
  }
}
