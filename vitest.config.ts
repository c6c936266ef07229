import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and integration tests that start
// private Redis/Dovecot/Rspamd/clamd/Postfix instances (test/fixtures).
export default defineConfig({
  test: {
    projects: [
      {
        // A bound, not a measure: scrypt at its real cost or a spawned process can take seconds on a
        // loaded machine, and the default 5 s made such tests fail there.
        test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node', testTimeout: 30_000 },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          globalSetup: ['test/fixtures/global-setup.ts'],
        },
      },
    ],
  },
});
