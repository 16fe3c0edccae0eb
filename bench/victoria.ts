import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { freePort, waitFor } from '../test/helpers/ports.js';
import { tempDir } from '../test/helpers/tmp.js';

/** Debian's victoria-metrics package (bench/setup installs it). */
export const VICTORIA_BIN = '/usr/bin/victoria-metrics';
export const HAVE_VICTORIA = existsSync(VICTORIA_BIN);
export const NO_VICTORIA_MESSAGE = `!!! ${VICTORIA_BIN} is not installed: the VictoriaMetrics peer is SKIPPED (run bench/setup).`;

/** A throwaway single-node VictoriaMetrics on loopback with its own data dir. */
export class VictoriaServer {
  private proc: ChildProcess | undefined;
  private output = '';
  url = '';
  readonly dir = tempDir('bench-vm');

  /** `flags` add to the defaults, e.g. `-search.latencyOffset=1s`. */
  static async launch(flags: string[] = []): Promise<VictoriaServer> {
    const s = new VictoriaServer();
    const port = await freePort();
    s.url = `http://127.0.0.1:${port}`;
    s.proc = spawn(VICTORIA_BIN, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${s.dir}`, '-retentionPeriod=1d', '-loggerLevel=ERROR', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    s.proc.stdout!.on('data', (d) => (s.output += String(d)));
    s.proc.stderr!.on('data', (d) => (s.output += String(d)));
    await waitFor(`VictoriaMetrics to answer /health (${s.output.slice(-300)})`, async () => {
      if (s.proc!.exitCode !== null) throw new Error(`victoria-metrics exited: ${s.output}`);
      return (await fetch(`${s.url}/health`).catch(() => undefined))?.ok || undefined;
    });
    return s;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  async destroy(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
