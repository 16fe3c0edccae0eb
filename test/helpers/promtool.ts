import { spawn, spawnSync } from 'node:child_process';

/** Prometheus's promtool (Debian's prometheus package), if installed. */
export const HAVE_PROMTOOL = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).status === 0;

/** The visible reason the promtool lint of /metrics is skipped. */
export const NO_PROMTOOL_MESSAGE =
  "promtool is not installed: the `promtool check metrics` test of /metrics is SKIPPED. Install Debian's prometheus package (apt-get install prometheus) to run it; .ci/run always does.";

/** `promtool check metrics` on an exposition (its stdin): exit code and what it printed (nothing when clean). */
export function promtoolCheckMetrics(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d) => (output += String(d)));
    p.stderr.on('data', (d) => (output += String(d)));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, output }));
    p.stdin.end(exposition);
  });
}
