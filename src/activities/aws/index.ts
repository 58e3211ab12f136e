/** AWS backends (EMR Serverless, Glue, SageMaker Feature Store, S3). Placeholder until issue #3 lands. */
import type { Backends } from '../index';

export async function createAwsBackendsFromEnv(): Promise<Backends> {
  throw new Error('BACKFILL_BACKEND=aws is not available yet in this build (see issue #3); use the local backend');
}
