/**
 * The EMR Serverless Spark settings by sizing tier, from the tuning table of the guide this project
 * replaces. The Spark step picks a chunk's tier from the bronze bytes it reads (spark/sizing.ts);
 * `backfill cost` prices the same table (src/client/cost.ts).
 */
import type { SizingTable } from '../backends';

export const SPARK_SIZES: SizingTable = {
  small: {
    'spark.executor.cores': '2',
    'spark.executor.memory': '8g',
    'spark.driver.cores': '2',
    'spark.driver.memory': '8g',
    'spark.executor.instances': '2',
    'spark.sql.shuffle.partitions': '50',
  },
  medium: {
    'spark.executor.cores': '2',
    'spark.executor.memory': '8g',
    'spark.driver.cores': '2',
    'spark.driver.memory': '8g',
    'spark.executor.instances': '4',
    'spark.sql.shuffle.partitions': '100',
  },
  large: {
    'spark.executor.cores': '4',
    'spark.executor.memory': '16g',
    'spark.driver.cores': '4',
    'spark.driver.memory': '16g',
    'spark.executor.instances': '8',
    'spark.sql.shuffle.partitions': '200',
  },
};
