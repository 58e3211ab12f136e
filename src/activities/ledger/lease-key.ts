/**
 * Which lease workflow a backfill asks. Writers share gold, the catalog and the ledger per feature
 * version in a lake, so the lease is keyed by (lake, version), whatever the feature group.
 *
 * Upgrade: a backfill that took its lease before this key holds a (group, version) lease
 * (leaseWorkflowId of src/common/lease.ts). Its recorded acquire and release carry no lake and still
 * go there; a release with a lake clears that lease too (it runs nothing when absent); and a new
 * backfill asks the (group, version) lease of its own group before its own, so it still waits for
 * (or is refused by) such an older holder of its group. Older holders of other groups are not
 * seen: the cross-group guard covers backfills started after the upgrade.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { leaseWorkflowId } from '../../common/lease';
import { lakeRoot } from '../lake-paths';

/** Where a lease lives: its workflow id, and what it is started with. */
export interface LeaseKey {
  workflowId: string;
  lake?: string;
  featureGroup?: string;
  featureVersion: string;
}

/** The lake root a bucket names, one spelling per lake: `b`, `s3://b/` and `s3://b` are one lake. */
export function normaliseLake(bucket: string): string {
  const root = lakeRoot(bucket);
  if (root.startsWith('file://')) return `file://${realDirectory(path.posix.resolve(root.slice('file://'.length)))}`;
  // s3a:// and s3n:// name the same objects as s3://.
  return root.replace(/^s3[an]:\/\//, 's3://').replace(/\/+$/, '');
}

/** The directory with symlinks resolved (two spellings of one lake get one lease); as given when it does not exist yet. */
function realDirectory(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

/**
 * `backfill-lease-<version>-<hash of the lake>`: a lake root can be long and hold any character, so
 * it is hashed into the id (and kept whole in the lease workflow's input).
 */
export function lakeLeaseWorkflowId(lake: string, featureVersion: string): string {
  const digest = createHash('sha256').update(normaliseLake(lake)).digest('hex').slice(0, 20);
  return `backfill-lease-${featureVersion}-lake-${digest}`;
}

/** The lease an activity input names: per lake when it has one, else the (group, version) one of older histories. */
export function leaseKeyOf(input: { lake?: string; featureGroup: string; featureVersion: string }): LeaseKey {
  const { lake, featureGroup, featureVersion } = input;
  if (lake === undefined)
    return { workflowId: leaseWorkflowId(featureGroup, featureVersion), featureGroup, featureVersion };
  return { workflowId: lakeLeaseWorkflowId(lake, featureVersion), lake: normaliseLake(lake), featureVersion };
}

/** The (group, version) lease an older backfill of the group may still hold. */
export function legacyLeaseKey(input: { featureGroup: string; featureVersion: string }): LeaseKey {
  const { featureGroup, featureVersion } = input;
  return { workflowId: leaseWorkflowId(featureGroup, featureVersion), featureGroup, featureVersion };
}
