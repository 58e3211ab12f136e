/**
 * moto in server mode for the AWS tests: started on a free port of 127.0.0.1, real SDK clients
 * pointed at it with fake credentials. Nothing here can reach real AWS.
 */
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { recordAwsCalls } from './aws-calls';

export const ROOT = path.resolve(__dirname, '..', '..');
export const REGION = 'us-east-1';
/** moto's default account; roles of other accounts are refused as cross-account. */
export const ACCOUNT = '123456789012';
export const FAKE_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Moto {
  endpoint: string;
  /** POST to moto's own API (state manager, reset). */
  api(pathname: string, body?: unknown): Promise<void>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    path.join(ROOT, '.venv', 'bin', 'moto_server'),
    ['-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr = (stderr + String(d)).slice(-4000)));
  // moto takes a second or two to import its backends; 30 s covers a slow CI machine.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const api = async (pathname: string, body?: unknown) => {
    const res = await fetch(`${endpoint}${pathname}`, {
      method: 'POST',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`moto ${pathname}: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    endpoint,
    api,
    reset: () => api('/moto-api/reset'),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

const common = (endpoint: string) => ({ region: REGION, endpoint, credentials: FAKE_CREDENTIALS });

/** Real SDK clients of moto; every call they send is recorded for the IAM test (aws-calls.ts). */
export function motoClients(endpoint: string) {
  return {
    emr: recordAwsCalls(withFixedTimestamps(new EMRServerlessClient(common(endpoint)))),
    glue: recordAwsCalls(new GlueClient(common(endpoint))),
    s3: recordAwsCalls(new S3Client({ ...common(endpoint), forcePathStyle: true })),
    sagemaker: recordAwsCalls(new SageMakerClient(common(endpoint))),
    cloudwatch: recordAwsCalls(new CloudWatchClient(common(endpoint))),
  };
}

/**
 * moto 5.1 answers EMR Serverless timestamps (createdAt, updatedAt, ...) as ISO-8601 strings where
 * the REST-JSON protocol (and so the SDK) expects epoch seconds, and the SDK refuses the response.
 * This rewrites them on the wire, for moto only; the code under test sees what real EMR sends.
 */
export function fixMotoEmrTimestamps(client: EMRServerlessClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { body?: NodeJS.ReadableStream; headers?: Record<string, string> };
      if (!response.body || typeof (response.body as Readable).pipe !== 'function') return result;
      const chunks: Buffer[] = [];
      for await (const chunk of response.body as Readable) chunks.push(Buffer.from(chunk));
      const fixed = Buffer.from(
        Buffer.concat(chunks)
          .toString('utf8')
          .replace(
            /"(\w+At)":\s*"(\d{4}-\d{2}-\d{2}T[^"]+)"/g,
            (_m, key: string, iso: string) => `"${key}": ${Date.parse(iso) / 1000}`,
          ),
      );
      response.body = Readable.from([fixed]);
      if (response.headers) response.headers['content-length'] = String(fixed.length);
      return result;
    },
    // Inside the deserializer (low priority runs later, nearer the wire), so it sees the raw body.
    { step: 'deserialize', priority: 'low', name: 'fixMotoEmrTimestamps' },
  );
}

function withFixedTimestamps(client: EMRServerlessClient): EMRServerlessClient {
  fixMotoEmrTimestamps(client);
  return client;
}
