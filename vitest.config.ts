import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'sdk/*/test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The state store throws on a call of the outer store from inside a transaction (it would wait forever).
    env: { QOSWATCH_CHECK_TX: '1' },
  },
});
