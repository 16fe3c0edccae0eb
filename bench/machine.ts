import { execSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    if (execSync('git status --porcelain -- src', { encoding: 'utf8' }).trim()) commit += ' (+ uncommitted src changes)';
  } catch {
    /* not a git checkout */
  }
  return `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · commit ${commit} · ${cpu} × ${cpus().length} · ${Math.round(totalmem() / 1024 ** 3)} GiB · Node ${process.version}`;
}

/** Appends a dated section to BENCHMARKS.md (kept as a history, newest last). */
export function appendReport(title: string, body: string): void {
  const file = 'BENCHMARKS.md';
  if (!existsSync(file)) {
    writeFileSync(file, '# Benchmarks\n\nProduced by `npm run bench`; each run appends a section. Numbers are from the machine named in each section.\n');
  }
  appendFileSync(file, `\n## ${title}\n\n${machineLine()}\n\n${body.trim()}\n`);
}

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
export function procStats(pid: number): { cpuSeconds: number; peakRssMiB: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, peakRssMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
