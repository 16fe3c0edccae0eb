import { defineConfig } from 'vitest/config';

/** The drills run processes under load for minutes: alone, after everything else, so timing tests never share the cores with them. */
const DRILLS = 'test/integration/drills.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The state store throws on a call of the outer store from inside a transaction (it would wait forever).
    env: { QOSWATCH_CHECK_TX: '1' },
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts', 'sdk/*/test/**/*.test.ts'], exclude: [DRILLS], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'drills', include: [DRILLS], sequence: { groupOrder: 1 } } },
    ],
  },
});
