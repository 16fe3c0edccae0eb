import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../test/helpers/ports.js';

/** bench/ceiling-server.ts, built beside this file into dist-bench. */
const SERVER = fileURLToPath(new URL('./ceiling-server.js', import.meta.url));

/** The bare fastify ceiling as its own process on loopback. */
export class CeilingServer {
  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
  ) {}

  get pid(): number {
    return this.proc.pid!;
  }

  static async launch(): Promise<CeilingServer> {
    const port = await freePort();
    const proc = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] });
    const s = new CeilingServer(proc, `http://127.0.0.1:${port}`);
    await waitFor('the ceiling server to listen', async () => {
      if (proc.exitCode !== null) throw new Error(`ceiling server exited with ${proc.exitCode}`);
      return (await fetch(`${s.url}/healthz`)).ok || undefined;
    });
    return s;
  }

  async destroy(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await done;
  }
}
