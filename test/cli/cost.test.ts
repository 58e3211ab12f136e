/** The dry run's EMR Serverless cost model (src/client/cost.ts): pure, hand-checked numbers. */
import assert from 'node:assert/strict';
import {
  billedMemoryGb,
  chunkInputBytes,
  costInputsOf,
  DEFAULT_ASSUMPTIONS,
  DEFAULT_PRICES,
  estimateBackfill,
  estimateChunk,
  memoryGb,
  sparkConfOf,
} from '../../src/client/cost';
import { planChunks } from '../../src/common/plan';
import type { DryRunPlan } from '../../src/common/results';

const MiB = 1024 * 1024;
const chunk = (days: number) => planChunks('2025-10-01', `2025-10-${String(days).padStart(2, '0')}`, days)[0];
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

describe('cli: cost estimate', () => {
  it('reads Spark memory sizes and bills heap plus overhead, rounded up to a whole GB', () => {
    assert.equal(memoryGb('8g'), 8);
    assert.equal(memoryGb('512m'), 0.5);
    assert.equal(memoryGb('16384k'), 1 / 64);
    assert.equal(memoryGb('1t'), 1024);
    assert.throws(() => memoryGb('lots'), /not a Spark memory size: "lots"/);
    assert.equal(billedMemoryGb('8g', undefined), 9, '8 GB + 10% = 8.8 -> 9');
    assert.equal(billedMemoryGb('16g', undefined), 18, '16 + 1.6 = 17.6 -> 18');
    assert.equal(billedMemoryGb('2g', undefined), 3, 'at least 384 MiB overhead: 2.375 -> 3');
    assert.equal(billedMemoryGb('8g', '2g'), 10);
    assert.equal(billedMemoryGb('8g', '1024'), 9, 'a plain overhead number is MiB, as in Spark');
  });

  it("sizes Spark by the bronze bytes read from the tuning table, with the request's sparkConf on top", () => {
    const GiB = 1024 * MiB;
    assert.equal(sparkConfOf(9 * GiB, {})['spark.executor.instances'], '2');
    assert.equal(sparkConfOf(10 * GiB, {})['spark.executor.instances'], '4');
    assert.equal(sparkConfOf(50 * GiB, {})['spark.executor.cores'], '4');
    assert.equal(sparkConfOf(1, { 'spark.executor.instances': '5' })['spark.executor.instances'], '5');
  });

  it('costs a small chunk: driver and two 2-core executors for overhead + input / throughput', () => {
    // small: driver 2 vCPU 8g, 2 executors of 2 vCPU 8g -> 6 vCPU, 3 x 9 GB = 27 GB.
    // 1200 MiB at 2 MiB/s per core over 4 executor cores = 150 s, + 90 s overhead = 240 s.
    const c = estimateChunk({ chunk: chunk(1), inputBytes: 1200 * MiB, processes: true }, {});
    assert.equal(c.size, 'small');
    assert.deepEqual([c.driver, c.executor, c.executors], [{ vcpus: 2, memoryGb: 9 }, { vcpus: 2, memoryGb: 9 }, 2]);
    close(c.runSeconds, 240, 'run seconds');
    close(c.billedSeconds, 240, 'billed seconds');
    close(c.vcpuHours, (6 * 240) / 3600, 'vCPU-hours');
    close(c.gbHours, (27 * 240) / 3600, 'GB-hours');
    close(c.usd, 0.4 * DEFAULT_PRICES.vcpuHour + 1.8 * DEFAULT_PRICES.gbHour, 'USD');
  });

  it('costs a large chunk with 4-core, 16g executors', () => {
    // large: driver 4 vCPU 16g (18 GB), 8 executors x 4 vCPU 16g -> 36 vCPU, 9 x 18 = 162 GB.
    // 64 GiB over 32 cores at 2 MiB/s = 1024 s, + 90 s.
    const c = estimateChunk(
      { chunk: chunk(31), inputBytes: 64 * 1024 * MiB, processes: true },
      {},
      { vcpuHour: 0.05, gbHour: 0.005 },
    );
    close(c.runSeconds, 1114, 'run seconds');
    close(c.vcpuHours, (36 * 1114) / 3600, 'vCPU-hours');
    close(c.gbHours, (162 * 1114) / 3600, 'GB-hours');
    close(c.usd, c.vcpuHours * 0.05 + c.gbHours * 0.005, 'USD at the given prices');
  });

  it('bills at least the minimum, and a chunk with nothing to process only the overhead', () => {
    const idle = estimateChunk({ chunk: chunk(1), inputBytes: 999 * MiB, processes: false }, {});
    assert.equal(idle.inputBytes, 0, 'a skipped chunk reads no bronze');
    close(idle.runSeconds, DEFAULT_ASSUMPTIONS.overheadSeconds, 'overhead only');
    const quick = estimateChunk({ chunk: chunk(1), inputBytes: 0, processes: true }, {}, DEFAULT_PRICES, {
      mibPerCoreSecond: 2,
      overheadSeconds: 10,
      minBilledSeconds: 60,
    });
    close(quick.billedSeconds, 60, 'minimum billing');
  });

  it('counts the lookback day and the lateness days a chunk reads', () => {
    const bytes = { '2025-09-30': 1, '2025-10-01': 10, '2025-10-02': 100, '2025-10-03': 1000, '2025-10-04': 10000 };
    const [first, second] = planChunks('2025-10-01', '2025-10-04', 2);
    assert.equal(chunkInputBytes(first, bytes, 1), 1 + 10 + 100 + 1000);
    assert.equal(chunkInputBytes(second, bytes, 1), 100 + 1000 + 10000, 'a missing day counts 0');
    assert.equal(chunkInputBytes(second, bytes, 0), 100 + 1000 + 10000);
    assert.equal(chunkInputBytes(first, bytes, 0), 1 + 10 + 100);
  });

  it("estimates a dry run's plan, chunk by chunk and in total", () => {
    const plan: DryRunPlan = {
      chunks: planChunks('2025-10-01', '2025-10-04', 2),
      bronzePresent: { '2025-10-01': 100 * MiB, '2025-10-02': 100 * MiB, '2025-10-03': 100 * MiB },
      bronzeMissing: ['2025-09-30', '2025-10-04', '2025-10-05'],
      goldExisting: ['2025-10-03'],
      wouldSkip: ['2025-10-03'],
      wouldOverwrite: [],
    };
    const inputs = costInputsOf(plan, 1);
    assert.deepEqual(
      inputs.map((i) => [i.inputBytes / MiB, i.processes]),
      [
        [300, true],
        [200, false],
      ],
      '10-03 is skipped and 10-04 has no bronze',
    );
    const e = estimateBackfill(inputs, { 'spark.executor.instances': '4' }, { vcpuHour: 1, gbHour: 0 });
    assert.equal(e.chunks.length, 2);
    assert.equal(e.chunks[0].executors, 4);
    close(e.usd, e.vcpuHours, 'at $1/vCPU-hour and free memory, the cost is the vCPU-hours');
    close(e.vcpuHours, e.chunks[0].vcpuHours + e.chunks[1].vcpuHours, 'total vCPU-hours');
    assert.equal(e.inputBytes, 300 * MiB);
    // 300 MiB over 4 executors x 2 cores at 2 MiB/s = 18.75 s + 90; the idle chunk 90 s. 10 vCPUs each.
    close(e.vcpuHours, (10 * (108.75 + 90)) / 3600, 'vCPU-hours');
  });
});
