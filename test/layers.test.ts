/**
 * The layers of src, read from every file's imports (TypeScript's own parser): a file imports its
 * own layer and the layers below it, never one above. Workflows run in Temporal's deterministic
 * sandbox, so they take values from common only (types from activities); common is shared by all,
 * so it stays free of I/O packages. See README.md "How it is built".
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');

/** Bottom to top. */
const LAYERS: { name: string; files: RegExp }[] = [
  { name: 'common', files: /^src\/common\// },
  // Process configuration from the environment; imports only common. Activities read their defaults from it.
  { name: 'config', files: /^src\/config\.ts$/ },
  { name: 'activities', files: /^src\/activities\// },
  { name: 'workflows', files: /^src\/workflows\// },
  { name: 'worker', files: /^src\/(worker|runtime)\.ts$/ },
  { name: 'client', files: /^src\/client\// },
];

/** Packages that do I/O or need a process: not for the shared bottom layer, nor for the workflow sandbox. */
const IO_PACKAGES = /^(@temporalio\/(activity|client|worker|envconfig)|@aws-sdk\/|better-sqlite3|hyparquet)(\/|$)/;
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

interface Import {
  specifier: string;
  /** Erased at compile time: `import type`, or every named import a type. */
  typeOnly: boolean;
}

function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Import[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name && !!named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const typeOnly =
        node.isTypeOnly || (!!named && ts.isNamedExports(named) && named.elements.every((e) => e.isTypeOnly));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function layerOf(file: string): number {
  return LAYERS.findIndex((l) => l.files.test(file));
}

/** The repository path a relative import resolves to (as TypeScript would find it). */
function resolve(from: string, specifier: string): string {
  const base = path.join(path.dirname(from), specifier);
  const found = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(path.join(ROOT, c)));
  return (found ?? base).split(path.sep).join('/');
}

/** What is wrong with the imports of one src file (empty: nothing). */
function layerViolations(file: string, text: string): string[] {
  const own = layerOf(file);
  if (own < 0) return [`${file} is in no layer: add it to LAYERS in test/layers.test.ts`];
  const name = LAYERS[own].name;
  const problems: string[] = [];
  for (const { specifier, typeOnly } of importsOf(file, text)) {
    if (!specifier.startsWith('.')) {
      const shared = name === 'common' || name === 'workflows';
      if (shared && (IO_PACKAGES.test(specifier) || NODE_BUILTINS.has(specifier)))
        problems.push(`${file} (${name}) imports ${specifier}, which does I/O`);
      continue;
    }
    const target = resolve(file, specifier);
    if (!target.startsWith('src/')) {
      // Data files only (common reads the feature definitions JSON the Spark job reads too).
      if (!target.endsWith('.json')) problems.push(`${file} imports ${target}, outside src`);
      continue;
    }
    const theirs = layerOf(target);
    if (theirs < 0) continue; // reported for that file itself
    const targetName = LAYERS[theirs].name;
    if (theirs > own) problems.push(`${file} (${name}) imports ${target} (${targetName}), a layer above it`);
    else if (name === 'workflows' && targetName !== 'workflows' && targetName !== 'common') {
      if (!(targetName === 'activities' && typeOnly))
        problems.push(
          `${file} (workflows) imports ${target} (${targetName}): workflows take values from common only, types from activities`,
        );
    }
  }
  return problems;
}

function srcFiles(dir = 'src'): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? srcFiles(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
    );
}

/** Import cycles among `files` (type-only imports too: they tie two files' meanings), each as a path a -> b -> a. */
function cyclesOf(files: Map<string, string>): string[] {
  const edges = new Map<string, string[]>();
  for (const [file, text] of files)
    edges.set(
      file,
      importsOf(file, text)
        .filter((i) => i.specifier.startsWith('.'))
        .map((i) => path.posix.join(path.posix.dirname(file), i.specifier))
        .map((base) => [`${base}.ts`, `${base}/index.ts`].find((c) => files.has(c)))
        .filter((t): t is string => t !== undefined),
    );
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...files.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('layers of src', () => {
  it('no import cycles', () => {
    const files = new Map(srcFiles().map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]));
    assert.deepEqual(cyclesOf(files), []);
  });

  it('names an import cycle, type-only imports included', () => {
    const files = new Map([
      ['src/common/a.ts', "import type { B } from './b';"],
      ['src/common/b.ts', "import { c } from './c';"],
      ['src/common/c.ts', "import { a } from './a';"],
      ['src/common/d.ts', "import { a } from './a';"],
    ]);
    assert.deepEqual(cyclesOf(files), ['src/common/a.ts -> src/common/b.ts -> src/common/c.ts -> src/common/a.ts']);
  });

  it('every file is in a layer and imports only its own layer and the ones below', () => {
    const files = srcFiles();
    assert.ok(files.length > 50, `found only ${files.length} files under src`);
    const problems = files.flatMap((f) => layerViolations(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(problems, []);
  });

  it('names an upward import, a workflow taking values from activities, I/O in common, a file in no layer', () => {
    assert.deepEqual(layerViolations('src/common/x.ts', "import { readDayState } from '../activities/ledger';"), [
      'src/common/x.ts (common) imports src/activities/ledger/index.ts (activities), a layer above it',
    ]);
    assert.deepEqual(layerViolations('src/activities/x.ts', "export { progressQuery } from '../workflows/api';"), [
      'src/activities/x.ts (activities) imports src/workflows/api.ts (workflows), a layer above it',
    ]);
    assert.deepEqual(layerViolations('src/activities/x.ts', "const c = require('../client/cli');"), [
      'src/activities/x.ts (activities) imports src/client/cli.ts (client), a layer above it',
    ]);
    assert.deepEqual(layerViolations('src/workflows/x.ts', "import { createActivities } from '../activities';"), [
      'src/workflows/x.ts (workflows) imports src/activities/index.ts (activities): workflows take values from common only, types from activities',
    ]);
    assert.deepEqual(layerViolations('src/workflows/x.ts', "import { localPaths } from '../config';"), [
      'src/workflows/x.ts (workflows) imports src/config.ts (config): workflows take values from common only, types from activities',
    ]);
    // Types are erased: the sandbox never loads activities for these.
    assert.deepEqual(
      layerViolations(
        'src/workflows/x.ts',
        "import type { BackfillActivities } from '../activities';\nimport { type Lake } from '../activities/backends';",
      ),
      [],
    );
    assert.deepEqual(layerViolations('src/common/x.ts', "import * as fs from 'node:fs';"), [
      'src/common/x.ts (common) imports node:fs, which does I/O',
    ]);
    assert.deepEqual(layerViolations('src/workflows/x.ts', "import { Client } from '@temporalio/client';"), [
      'src/workflows/x.ts (workflows) imports @temporalio/client, which does I/O',
    ]);
    assert.deepEqual(layerViolations('src/tools.ts', ''), [
      'src/tools.ts is in no layer: add it to LAYERS in test/layers.test.ts',
    ]);
  });
});
