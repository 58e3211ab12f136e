/**
 * How AWS SDK errors are read and classified, in one place: which ones no retry can fix
 * (bad input, missing resource, missing permission) and which ones are worth retrying
 * (throttling, 5xx, network).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';

interface SdkErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: { throttling?: boolean };
}

/** The service's error code (SDK v3 puts it in `name`). */
export function awsErrorName(err: unknown): string {
  const e = (err ?? {}) as SdkErrorLike;
  return e.name ?? e.Code ?? e.code ?? 'Error';
}

export function httpStatus(err: unknown): number | undefined {
  return ((err ?? {}) as SdkErrorLike).$metadata?.httpStatusCode;
}

export function errorMessage(err: unknown): string {
  const e = (err ?? {}) as SdkErrorLike;
  return e.message || awsErrorName(err);
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
]);

export function isThrottling(err: unknown): boolean {
  const e = (err ?? {}) as SdkErrorLike;
  return THROTTLING.has(awsErrorName(err)) || httpStatus(err) === 429 || e.$retryable?.throttling === true;
}

const TRANSIENT = new Set([
  'InternalFailure',
  'InternalServerException',
  'InternalServiceException',
  'InternalServiceError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'OperationTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** Throttling, server-side faults and network errors: the same call may well succeed later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApplicationFailure) return false;
  const status = httpStatus(err);
  return isThrottling(err) || TRANSIENT.has(awsErrorName(err)) || (status !== undefined && status >= 500);
}

const ACCESS_DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'AccessForbidden',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
]);
const INVALID = new Set([
  'ValidationException',
  'ValidationError',
  'InvalidInputException',
  'ResourceNotFoundException',
  'EntityNotFoundException',
  'NoSuchBucket',
  'ResourceNotFound',
]);

export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has(awsErrorName(err));
}

/**
 * An SDK error as the activity should throw it: final (non-retryable ApplicationFailure) when the
 * request or the account setup is wrong, otherwise the error itself, which Temporal retries.
 * `what` names the call and its target, e.g. "EMR StartJobRun on application 00f...".
 */
export function classifyAwsError(err: unknown, what: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  const name = awsErrorName(err);
  const message = `${what} failed: ${name}: ${errorMessage(err)}`;
  if (ACCESS_DENIED.has(name)) return ApplicationFailure.nonRetryable(message, FAILURE.awsAccessDenied);
  if (INVALID.has(name)) return ApplicationFailure.nonRetryable(message, FAILURE.invalidInput);
  if (err instanceof Error) {
    err.message = message;
    return err;
  }
  return new Error(message);
}
