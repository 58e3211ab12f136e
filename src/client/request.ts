/** The workflow input the CLI built, validated here so bad flags are named before anything starts. */
import {
  InputError,
  validateInput,
  WORKER_DECIDES,
  type BackfillInput,
  type BackfillRequest,
  type ValidateOptions,
} from '../common/input';
import { usageOfInputError } from './usage';

/**
 * The request the workflow would run, or a UsageError naming the flag. `allowSparkConf`: the
 * worker decides by default; a direct EMR run (no worker) passes the worker's allowance.
 */
export function validateRequest(
  input: BackfillInput,
  allowSparkConf: ValidateOptions['allowSparkConf'] = WORKER_DECIDES,
): BackfillRequest {
  try {
    return validateInput(input, { allowSparkConf });
  } catch (err) {
    if (err instanceof InputError) throw usageOfInputError(err);
    throw err;
  }
}
