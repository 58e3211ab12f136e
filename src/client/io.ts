/** Where the CLI writes, and what it depends on, so tests run main() with fakes. */
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { S3Client } from '@aws-sdk/client-s3';

export interface Io {
  /** One line to stdout: results (report, ids, JSON). */
  out(text: string): void;
  /** One line to stderr: progress, notices, errors. */
  err(text: string): void;
  /** Replaces the live status line on a terminal ('' clears it). Only used when isTTY. */
  status?(line: string): void;
  /** stderr is a terminal: show a live progress bar instead of log lines. */
  isTTY: boolean;
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface CliDeps {
  /** AWS SDK clients for --direct-emr; default: from the AWS environment (AWS_REGION, credentials, endpoints). */
  awsClients?: () => { emr: EMRServerlessClient; s3: S3Client };
  /** Clients of `backfill verify --aws`; default: from the AWS environment. */
  verifyClients?: () => { athena: AthenaClient; featureStore: SageMakerFeatureStoreRuntimeClient };
  /** How often a followed backfill (or a direct EMR run) is polled, ms. */
  pollMs?: number;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => {
    process.stderr.write(t + '\n');
  },
  status: (line) => {
    const width = process.stderr.columns || 100;
    // \r and "erase line" redraw in place; a line wider than the terminal would wrap and stay.
    process.stderr.write(`\r\x1b[2K${line.length >= width ? line.slice(0, width - 1) : line}`);
  },
  isTTY: Boolean(process.stderr.isTTY),
};
