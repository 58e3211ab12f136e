/** The deploy/ templates as an operator fills them in (envsubst-style `${Name}` placeholders). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './moto';

/** Placeholders a template uses, in order of first use. */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z][A-Za-z0-9]*)\}/g)].map((m) => m[1]))];
}

/** deploy/<file> with every placeholder replaced; a placeholder without a value is an error. */
export function renderTemplate(file: string, values: Record<string, string>): unknown {
  const text = fs.readFileSync(path.join(ROOT, 'deploy', file), 'utf8');
  const unset = placeholders(text).filter((p) => values[p] === undefined);
  if (unset.length > 0) throw new Error(`deploy/${file}: no value for ${unset.join(', ')}`);
  return JSON.parse(text.replace(/\$\{([A-Za-z][A-Za-z0-9]*)\}/g, (_m, name: string) => values[name]));
}
