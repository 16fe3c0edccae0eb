import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh directory under this test run's root (QOSWATCH_TEST_TMP, made and removed by the global setup), so a
 * run leaves nothing behind in /tmp even when a test fails before its own cleanup.
 */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(process.env.QOSWATCH_TEST_TMP ?? tmpdir(), `${prefix}-`));
}
