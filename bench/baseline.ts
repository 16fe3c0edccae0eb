import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Builds git revision `rev` of this repository into a temp dir (git archive, this checkout's node_modules linked,
 * the server build of `npm run build:server`) and returns its dist/cli.js; an existing complete build is reused.
 */
export function buildRevision(rev: string): { cli: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--short', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `qoswatch-baseline-${commit}`);
  const cli = join(dir, 'dist', 'cli.js');
  if (existsSync(cli)) return { cli, commit };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log(`baseline: building ${commit} in ${dir}…`);
  execSync(`git archive ${commit} | tar -x -C ${dir}`, { stdio: 'inherit' });
  symlinkSync(realpathSync(resolve('node_modules')), join(dir, 'node_modules'));
  execFileSync(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return { cli, commit };
}
