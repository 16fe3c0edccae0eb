import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { afterEach } from 'vitest';
import { ADMIN_TOKEN, INGEST_KEY } from './app.js';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './tmp.js';

/** The built CLI; tests and benchmarks run from the repository root. */
export const CLI = resolve(process.cwd(), 'dist/cli.js');

/** The built service as a real process (`node dist/cli.js serve`), for signal and crash tests. */
export class ServiceProcess {
  proc: ChildProcess | undefined;
  output = '';
  url = '';
  readonly dataDir: string;

  /** `cli`: another build's dist/cli.js (benchmarks against an older revision); it runs from that build's root. */
  constructor(
    private readonly env: Record<string, string>,
    dataDir?: string,
    private readonly cli = CLI,
  ) {
    this.dataDir = dataDir ?? tempDir('qoswatch-proc');
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const proc = spawn(process.execPath, [this.cli, 'serve'], {
      cwd: dirname(dirname(this.cli)),
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        QOSWATCH_DATA_DIR: this.dataDir,
        QOSWATCH_INGEST_KEY: INGEST_KEY,
        QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN,
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.output += String(d)));
    proc.stderr!.on('data', (d) => (this.output += String(d)));
    // A process that exits while starting fails the start at once (waitFor would retry until its timeout).
    let listening = false;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) => {
        if (!listening) reject(new Error(`service exited with ${code ?? signal}: ${this.output.slice(-2000)}`));
      }),
    );
    exited.catch(() => {});
    await Promise.race([
      exited,
      waitFor(`the service to listen (output so far: ${this.output.slice(-500)})`, async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
        return (await fetch(`${this.url}/healthz`)).ok || undefined;
      }),
    ]);
    listening = true;
  }

  /** Removes the data dir (benchmarks; tests rely on the run's temp root). */
  cleanup(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Sends a signal and resolves with the exit code (or the signal name). */
  async stop(signal: NodeJS.Signals): Promise<number | string> {
    const p = this.proc!;
    this.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return p.exitCode ?? p.signalCode!;
    const done = new Promise<number | string>((r) => p.once('exit', (code, sig) => r(code ?? sig ?? 'unknown')));
    p.kill(signal);
    return done;
  }
}

/** The built CLI as a child process; `input` is written to its stdin (else stdin is closed). */
function spawnCli(args: string[], env: Record<string, string>, input?: string): ChildProcess {
  const p = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) p.stdin!.end(input);
  return p;
}

/** Runs the CLI to completion: exit code and stdout + stderr as they came. */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const p = spawnCli(args, env, input);
    let output = '';
    p.stdout!.on('data', (d) => (output += String(d)));
    p.stderr!.on('data', (d) => (output += String(d)));
    p.on('close', (code) => resolveRun({ code, output }));
  });
}

/** Runs the CLI to completion: exit code, stdout and stderr apart. */
export function runCliStreams(args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const p = spawnCli(args, env, input);
    let stdout = '', stderr = '';
    p.stdout!.on('data', (d) => (stdout += String(d)));
    p.stderr!.on('data', (d) => (stderr += String(d)));
    p.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** Starts services for a test file; whatever is still running after each test is killed (-9). */
export function servicesKilledAfterEach(): (env: Record<string, string>, dataDir?: string) => Promise<ServiceProcess> {
  let running: ServiceProcess[] = [];
  afterEach(async () => {
    const open = running.filter((s) => s.proc);
    running = [];
    await Promise.allSettled(open.map((s) => s.stop('SIGKILL')));
  });
  return async (env, dataDir) => {
    const svc = new ServiceProcess(env, dataDir);
    running.push(svc);
    await svc.start();
    return svc;
  };
}
