/**
 * Which backfill a subcommand acts on: a workflow id, or the flags that make up the id
 * (src/common/workflow-id.ts), so an operator can repeat the flags of the `run` they started.
 */
import { defaultFeatureGroup, FEATURE_VERSION_FORM, FEATURE_VERSION_PATTERN } from '../common/feature-versions';
import { backfillWorkflowId } from '../common/workflow-id';
import { dateFlag, UsageError, type FlagSpec } from './usage';

export const TARGET_FLAGS: FlagSpec = {
  'feature-group': { type: 'string' },
  'feature-version': { type: 'string' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  'dry-run': { type: 'boolean' },
};

export const TARGET_HELP = `The backfill is named by its workflow id (as printed by backfill run and backfill list), or by
the flags of the backfill run command that started it, which make up the same id:
  --start-date YYYY-MM-DD       first day of the backfill
  --end-date YYYY-MM-DD         last day of the backfill
  --feature-version VER         default v1
  --feature-group NAME          default rt_card_features_<version>
  --dry-run                     the dry run of that range (its id ends in -dry-run)`;

export function targetWorkflowId(command: string, positionals: string[], values: Record<string, unknown>): string {
  const flagged = ['feature-group', 'feature-version', 'start-date', 'end-date'].filter((f) => values[f] !== undefined);
  if (positionals.length > 1) {
    throw new UsageError(
      `backfill ${command} takes one workflow id, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  if (positionals.length === 1) {
    if (flagged.length > 0)
      throw new UsageError(`give either a workflow id or --${flagged[0]} and the other id flags, not both`);
    return positionals[0];
  }
  if (values['start-date'] === undefined || values['end-date'] === undefined) {
    throw new UsageError(
      `backfill ${command} needs a workflow id, or --start-date and --end-date (with --feature-version/--feature-group if not the defaults); see backfill ${command} --help`,
    );
  }
  const startDate = dateFlag(values['start-date'] as string, '--start-date')!;
  const endDate = dateFlag(values['end-date'] as string, '--end-date')!;
  const featureVersion = (values['feature-version'] as string | undefined) ?? 'v1';
  if (!FEATURE_VERSION_PATTERN.test(featureVersion)) {
    throw new UsageError(`--feature-version must be ${FEATURE_VERSION_FORM}, got "${featureVersion}"`);
  }
  const featureGroup = (values['feature-group'] as string | undefined) ?? defaultFeatureGroup(featureVersion);
  return backfillWorkflowId({ featureGroup, featureVersion, startDate, endDate, dryRun: Boolean(values['dry-run']) });
}
