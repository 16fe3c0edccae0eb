import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./throttle-child.mjs', import.meta.url));

/** How a process is starved of CPU; see throttle-child.mjs. */
export type ThrottleMode =
  /** A container's CPU limit (CFS bandwidth control): `quotaMs` of CPU per `periodMs`, then stopped until it ends. */
  | { quotaMs: number; periodMs: number }
  /** cpulimit-style: stopped the first `stopMs` of every `periodMs`, whatever it does. */
  | { stopMs: number; periodMs: number };

/**
 * A process starved of CPU by SIGSTOP/SIGCONT from a child process of its own (sleeping with Atomics.wait), so
 * that neither the test's event loop nor its timers' coarseness shift the stops.
 */
export class Throttle {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    private readonly pid: number,
    private readonly mode: ThrottleMode,
  ) {}

  start(): void {
    const m = this.mode;
    const args = [String(this.pid), String(m.periodMs), String('quotaMs' in m ? m.quotaMs : 0), String('stopMs' in m ? m.stopMs : 0)];
    this.child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (d) => (this.output += String(d)));
  }

  /** Stops throttling, leaves the process continued, and tells how often and how long it was stopped. */
  async stop(): Promise<{ periods: number; stoppedMs: number }> {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      await new Promise<void>((resolve) => {
        c.once('close', () => resolve());
        c.kill('SIGTERM');
      });
    }
    process.kill(this.pid, 'SIGCONT');
    const m = /throttled (\d+) (\d+)/.exec(this.output);
    return { periods: Number(m?.[1] ?? 0), stoppedMs: Number(m?.[2] ?? 0) };
  }
}
