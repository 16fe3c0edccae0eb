import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RuleError } from './load.js';
import { TestFileError, formatFailure, parseRuleTestFile, runRuleTestFile } from './unit-test.js';

/**
 * `qoswatch rules test FILE…`: runs each rule test file and reports per file, like promtool. Exit 0 when every case
 * passes, 1 when one fails (or its rule files do not load), 2 when a test file is malformed (the field named).
 */
export function testRules(files: readonly string[]): number {
  let code = 0;
  for (const path of files) {
    const started = performance.now();
    try {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        throw new TestFileError([`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
      }
      const file = parseRuleTestFile(text, path);
      const result = runRuleTestFile(file, path, (rel) => readFileSync(resolve(dirname(path), rel), 'utf8'));
      const ms = Math.round(performance.now() - started);
      if (result.failures.length === 0) {
        process.stdout.write(`${path}: ${result.tests} test(s) passed (${ms} ms)\n`);
        continue;
      }
      const failed = new Set(result.failures.map((f) => f.test)).size;
      process.stdout.write(`${path}: ${failed} of ${result.tests} test(s) FAILED (${ms} ms)\n${result.failures.map(formatFailure).join('\n')}\n`);
      code = Math.max(code, 1);
    } catch (err) {
      if (err instanceof TestFileError) {
        process.stderr.write(`${err.problems.join('\n')}\n`);
        code = 2;
      } else if (err instanceof RuleError) {
        process.stderr.write(`${path}: the rule files do not load, ${err.problems.length} problem(s):\n  ${err.problems.join('\n  ')}\n`);
        code = Math.max(code, 1);
      } else throw err;
    }
  }
  return code;
}
