// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'var/', 'schemas/', 'coverage/', 'bench/results/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // The dashboard's browser scripts: plain ES modules, run by the browser.
    files: ['src/dashboard/assets/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'fetch',
          'console',
          'setInterval',
          'clearInterval',
          'setTimeout',
          'clearTimeout',
          'URLSearchParams',
          'URL',
          'Node',
          'Event',
          'CustomEvent',
          'HTMLElement',
          'FormData',
          'location',
          'navigator',
          'requestAnimationFrame',
          'getComputedStyle',
        ].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**', 'bench/**', 'src/cli.ts', 'src/cli/**'],
    rules: { 'no-console': 'off' },
  },
);
