// ESLint flat config (`npm run lint`): typescript-eslint's recommended rules over src, test and bench,
// and the Temporal samples' ban on Node built-ins in workflow code. Layout is Prettier's job
// (`npm run format`), so eslint-config-prettier turns off the rules that would fight it.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import prettierConfig from 'eslint-config-prettier';

// Workflow code runs in Temporal's deterministic sandbox: no I/O, so no Node built-in modules
// (the rule of temporalio/samples-typescript's .eslintrc.js). `assert` is allowed there too.
const ALLOWED_NODE_BUILTINS = new Set(['assert']);
const NO_BUILTINS = 'Workflow code runs in a deterministic sandbox: no Node built-ins, do the I/O in an activity.';
const restrictedBuiltins = builtinModules
  .filter((m) => !ALLOWED_NODE_BUILTINS.has(m) && !m.startsWith('node:'))
  .map((name) => ({ name, message: NO_BUILTINS }));

export default tseslint.config(
  { ignores: ['lib/**', 'node_modules/**', '.venv/**', 'sample-lake/**', '.state/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Forgetting to await an activity, a workflow API or a client call is a real bug.
      '@typescript-eslint/no-floating-promises': 'error',
      // The code matches control characters on purpose: input validation rejects them, the tests
      // check that logs carry none, the reference quarantines ASCII white space.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: restrictedBuiltins,
          // Every `node:` specifier, also of built-ins Node adds later; assert stays allowed.
          patterns: [{ group: ['node:*', '!node:assert'], message: NO_BUILTINS }],
        },
      ],
    },
  },
  prettierConfig,
);
