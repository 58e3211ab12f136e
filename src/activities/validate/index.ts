/**
 * The validate step: the validateChunk activity reads the chunk back from the lake and the ledger
 * (check.ts) rather than trusting what the earlier steps reported.
 */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { ChunkManifest, SparkJobResult, ValidationResult } from '../../common/results';
import type { Backends } from '../backends';
import type { ChunkStepInput } from '../chunk-input';
import { enforceWorkerRules } from '../worker-rules';
import { validateChunk } from './check';

export interface ValidateInput extends ChunkStepInput {
  spark: SparkJobResult;
}

export function createValidateActivities({ lake }: Pick<Backends, 'lake'>) {
  return {
    async validateChunk(input: ValidateInput, ...legacy: unknown[]): Promise<ValidationResult> {
      enforceWorkerRules('request' in input ? input.request : (input as BackfillRequest));
      if ('request' in input) return validateChunk(lake, input);
      // Scheduled before one-object inputs: (request, chunk, manifest, ingest); recorded histories
      // (test/histories/2026-11-25-*) carry such calls.
      const [chunk, manifest] = legacy as [ChunkSpec, ChunkManifest];
      return validateChunk(lake, { request: input as BackfillRequest, chunk, spark: { manifest, jobRunId: '' } });
    },
  };
}
