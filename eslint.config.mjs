// ESLint flat config. Workflow code runs in Temporal's deterministic sandbox: it must not import
// Node built-ins, SDK clients or anything that does I/O. The override below makes that a lint error.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const forbiddenInWorkflows = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  'mongodb',
  'express',
  'pino',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@aws-sdk/*',
  '@google-cloud/*',
  'snowflake-sdk',
  '@microsoft/*',
];

// The dashboard (api/ui): plain browser modules, no types to check.
const browserGlobals = Object.fromEntries(
  [
    'window',
    'document',
    'fetch',
    'Node',
    'setTimeout',
    'clearTimeout',
    'console',
    'JSON',
    'String',
    'Math',
    'Object',
    'Promise',
    'Set',
    'Error',
    'Date',
    'Number',
  ].map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'eslint.config.mjs', 'scripts/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflows and the pure domain code they import: no I/O, no Node.
    files: ['workflows/**/*.ts', 'core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenInWorkflows.filter((m) => !m.includes('*')),
          patterns: forbiddenInWorkflows.filter((m) => m.includes('*')),
        },
      ],
      'no-restricted-globals': ['error', 'process', 'require', 'Buffer', 'setInterval'],
    },
  },
  // Layer rules (import cycles are checked by madge in `npm run lint`, see .madgerc).
  {
    // The API starts and signals workflows; the activities run in the worker only.
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/activities', '**/activities/*'],
              message:
                'api/ does not import activities/ (they run in the worker); share through core/ or store/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The pipeline is called by activities and the API; what it shares with workflows lives in core/.
    files: ['pipeline/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/*'],
              message: 'pipeline/ does not import workflows/; what both need lives in core/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      // Workflows import activity *types* only.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
    },
  },
  {
    files: ['api/ui/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      globals: browserGlobals,
      parserOptions: { projectService: false },
    },
  },
);
