/** The AWS SDK commands in the worker's source: what src/worker.ts loads, and the commands each file sends. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './moto';

/** The .ts files src/worker.ts loads, following relative imports (static, dynamic and require). */
export function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require(?:\.resolve)?\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const base = path.resolve(path.dirname(file), m[1]);
      const found = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
      if (found) visit(found);
    }
  };
  visit(entry);
  return [...seen].sort();
}

export interface SdkCall {
  command: string;
  /** The @aws-sdk/client-* package it comes from. */
  pkg: string;
  file: string;
}

/** The SDK commands a file sends, each tied to the client package it imports the command (or paginator) from. */
export function sdkCalls(file: string): SdkCall[] {
  const text = fs.readFileSync(file, 'utf8');
  const origin = new Map<string, string>();
  for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/(client-[a-z0-9-]+)'/g)) {
    for (const name of m[1]
      .split(',')
      .map(
        (n) =>
          n
            .replace(/^\s*type\s+/, '')
            .trim()
            .split(/\s+as\s+/)[0],
      )
      .filter(Boolean))
      origin.set(name, m[2]);
  }
  const calls: SdkCall[] = [];
  const rel = path.relative(ROOT, file);
  for (const m of text.matchAll(/new\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g)) {
    const pkg = origin.get(`${m[1]}Command`);
    assert.ok(pkg, `${rel}: ${m[1]}Command is not imported from an @aws-sdk client package`);
    calls.push({ command: m[1], pkg, file: rel });
  }
  for (const m of text.matchAll(/\bpaginate([A-Z][A-Za-z0-9]*)\s*\(/g)) {
    const pkg = origin.get(`paginate${m[1]}`);
    assert.ok(pkg, `${rel}: paginate${m[1]} is not imported from an @aws-sdk client package`);
    calls.push({ command: m[1], pkg, file: rel });
  }
  return calls;
}
