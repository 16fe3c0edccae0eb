import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

const FILE = 'BENCHMARKS.md';
const LATEST = '## Latest run';
const HISTORY = '## History';
/**
 * Rows before 2026-12-05 hold p99 of detection and one 8 s ingest run with the writer idle; the head says so, so
 * they stay readable beside the medians of interleaved steady-state rounds that later rows hold.
 */
const HISTORY_HEAD = [
  '| run (UTC) | commit | detection → page, webhook p50 / p90 (p99 before 2026-12-05): qoswatch · tuned peer | ingest samples/s, medians of rounds at steady state: HTTP b100 · b1000 · WS b100 · b1000 realistic state (CPU per 100 k samples, b1000) (before 2026-12-05: one 8 s run, writer idle, first three only) | peers points/s: InfluxDB · VictoriaMetrics (b5000) | RSS at 10 k series / 100 k sessions (sized heap) |',
  '| --- | --- | --- | --- | --- | --- |',
];
/** Any History head line, this one or an older one: replaced by the current head when the file is written. */
const isHead = (line: string) => line.startsWith('| run (UTC) |') || /^\| ---( \| ---)* \|$/.test(line);
const INTRO = `# Benchmarks

Produced by \`npm run bench\` on the machine named in the run. The latest run comes first, in full, with the peers
measured in the same run; earlier runs are kept as one line of headline figures each (History). \`BENCH_ONLY=…\`
measures one part again and replaces that part of the latest run, saying when.
`;

/** The headline figures of a full run, for the History table ("—" where a part was not measured). */
export interface Headline {
  detection?: string;
  ingest?: string;
  peers?: string;
  memory?: string;
}

interface Doc {
  latest: string;
  history: string[];
  /** Sections written by hand or by other tools ("## Player SDK"…): kept as they are, between the latest run and History. */
  kept: string[];
}

function readDoc(): Doc {
  const text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
  const d: Doc = { latest: '', history: [], kept: [] };
  for (const section of text.split(/\n(?=## )/).slice(1)) {
    const [heading, ...lines] = section.split('\n');
    if (heading === LATEST) d.latest = lines.join('\n').trim();
    else if (heading === HISTORY) d.history = lines.filter((line) => line.startsWith('| ') && !isHead(line));
    else d.kept.push(section.trim());
  }
  return d;
}

function writeDoc(d: Doc): void {
  const kept = d.kept.map((k) => `${k}\n\n`).join('');
  writeFileSync(FILE, `${INTRO}\n${LATEST}\n\n${d.latest.trim()}\n\n${kept}${HISTORY}\n\n${[...HISTORY_HEAD, ...d.history].join('\n')}\n`);
}

/** What a "### heading" is known by, whatever this run says in its parentheses: "### Ingest throughput". */
const headingKey = (line: string) => line.split(/[(:]/)[0]!.trim();

/** `body`'s "### …" parts, in order. */
function parts(body: string): string[] {
  return body.trim().split(/\n(?=### )/).filter((p) => p.startsWith('### '));
}

/**
 * A full run: replaces the latest run in BENCHMARKS.md and puts its headline figures first in the History table (one
 * line per run, newest first).
 */
export function writeReport(title: string, body: string, headline: Headline): void {
  const d = readDoc();
  const commit = machineLine().split(' · ')[1]!.replace('commit ', '');
  const row = `| ${machineLine().split(' UTC')[0]} | ${commit} | ${headline.detection ?? '—'} | ${headline.ingest ?? '—'} | ${headline.peers ?? '—'} | ${headline.memory ?? '—'} |`;
  writeDoc({ ...d, latest: `${title}.\n\n${machineLine()}\n\n${body.trim()}`, history: [row, ...d.history] });
}

/** A partial run (BENCH_ONLY): replaces the parts of the latest run it measured again, saying when. */
export function replaceInLatest(body: string): void {
  const d = readDoc();
  let latest = d.latest;
  for (const part of parts(body)) {
    const [heading, ...rest] = part.split('\n');
    const stamped = `${heading}\n\nMeasured again: ${machineLine()}\n${rest.join('\n')}`;
    const old = parts(latest).find((p) => headingKey(p) === headingKey(heading!));
    // The part keeps the blank lines that followed it: each partial run added one more before.
    latest = old ? latest.replace(old, stamped.trim() + /\s*$/.exec(old)![0]) : `${latest.trim()}\n\n${stamped.trim()}`;
  }
  writeDoc({ ...d, latest });
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
