/** Shared plumbing of the wire-level doubles: a node:http server speaking AWS REST-JSON. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Route {
  method: string;
  /** Matched against the path (without query); groups are handed to the handler. */
  pattern: RegExp;
  handle(match: RegExpExecArray, body: unknown, req: http.IncomingMessage): Promise<Reply> | Reply;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function ok(body: unknown): Reply {
  return { status: 200, body };
}

/**
 * An AWS error as REST-JSON services send it: the code in the x-amzn-ErrorType header and in the
 * body's __type, the text in `message`. The SDK turns it into an exception named by the code.
 */
export function awsError(status: number, code: string, message: string): Reply {
  return {
    status,
    headers: { 'x-amzn-errortype': `${code}:http://internal.amazon.com/coral/` },
    body: { __type: code, message },
  };
}

export interface HttpDouble {
  endpoint: string;
  close(): Promise<void>;
}

export async function serve(routes: Route[], options: { latencyMs?: () => number } = {}): Promise<HttpDouble> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      let reply: Reply;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? JSON.parse(text) : undefined;
        const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        const route = routes.find((r) => r.method === req.method && r.pattern.test(pathname));
        const match = route ? route.pattern.exec(pathname)! : undefined;
        reply =
          route && match
            ? await route.handle(match, body, req)
            : awsError(404, 'UnknownOperationException', `no route for ${req.method} ${pathname}`);
      } catch (err) {
        reply = awsError(500, 'InternalFailure', `double failed: ${(err as Error).message}`);
      }
      const delay = options.latencyMs?.() ?? 0;
      const send = () => {
        const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
        res.writeHead(reply.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...reply.headers,
        });
        res.end(payload);
      };
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  });
  // Many concurrent keep-alive connections from the SDK's agent in the benchmark.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
