/** A fake Io for main(): captures stdout and stderr lines and the live status line. */
import type { Io } from '../../src/client/io';

export interface FakeIo extends Io {
  outLines: string[];
  errLines: string[];
  statusLines: string[];
  /** Everything written to stdout, as one string. */
  stdout(): string;
  stderr(): string;
}

export function fakeIo(isTTY = false): FakeIo {
  const io: FakeIo = {
    outLines: [],
    errLines: [],
    statusLines: [],
    isTTY,
    out: (t) => void io.outLines.push(t),
    err: (t) => void io.errLines.push(t),
    status: (line) => void io.statusLines.push(line),
    stdout: () => io.outLines.join('\n'),
    stderr: () => io.errLines.join('\n'),
  };
  return io;
}

/** Points the CLI (which reads the SDK's environment configuration) at a test server for a while. */
export function useTemporalAddress(address: () => string): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = address();
  });
  after(() => {
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });
}
