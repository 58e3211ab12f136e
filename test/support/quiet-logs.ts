// Mocha root setup: keep the SDK's info logs out of test output (warnings and errors still show).
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
