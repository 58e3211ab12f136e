/**
 * The input a backfill was started with, as status, retry-failed and run (following a running one)
 * read it: through the client's data converter, so a client with a payload codec reads back what it wrote.
 */
import assert from 'node:assert/strict';
import { Client } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startInput } from '../../src/client/commands/target-command';
import { createDevServerEnv } from '../support/temporal';

/** A codec as an encrypting one behaves: the stored bytes are not JSON, and say so in their encoding. */
const XOR = 0x5a;
const xorBytes = (data: Uint8Array | null | undefined) => Uint8Array.from(data ?? [], (b) => b ^ XOR);
const xorCodec: PayloadCodec = {
  encode: async (payloads: Payload[]) =>
    payloads.map((p) => ({
      metadata: { ...p.metadata, encoding: new TextEncoder().encode('binary/xor'), inner: p.metadata!.encoding! },
      data: xorBytes(p.data),
    })),
  decode: async (payloads: Payload[]) =>
    payloads.map(({ metadata, data }) => {
      const { inner, ...rest } = metadata ?? {};
      return { metadata: { ...rest, encoding: inner }, data: xorBytes(data) };
    }),
};

describe('cli: a backfill start input, read with the client data converter (dev server)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('decodes an input written through a payload codec, for the latest run and for a given run', async () => {
    const client = new Client({
      connection: env.connection,
      namespace: 'default',
      dataConverter: { payloadCodecs: [xorCodec] },
    });
    const input = { bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-02', featureVersion: 'v1' };
    // No worker polls this queue: the start event holds the input all the same.
    const started = await client.workflow.start('backfillWorkflow', {
      args: [input],
      taskQueue: 'start-input-no-worker',
      workflowId: 'start-input-codec',
    });
    const history = await started.fetchHistory();
    const stored = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.equal(new TextDecoder().decode(stored?.metadata?.encoding ?? undefined), 'binary/xor', 'stored encoded');

    assert.deepEqual(await startInput(client.workflow.getHandle('start-input-codec')), input);
    assert.deepEqual(await startInput(started, started.firstExecutionRunId), input);
    await started.terminate('test done');
  });
});
