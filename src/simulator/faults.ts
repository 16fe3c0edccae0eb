import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatPath } from '../shared/field-path.js';
import type { Sample } from '../telemetry/sample-schema.js';
import { formatDuration, parseDuration } from '../util/units.js';
import { readYaml } from '../util/yaml.js';
import { hashUnit } from './model.js';

/**
 * Fault scenarios: what goes wrong, where and when, on the scenario clock (offsets from the run's start). Pure:
 * `apply` transforms one interval of beacons, `events` lists when each fault starts and ends.
 */

export const FAULT_KINDS = ['outage', 'stall_storm', 'packet_loss', 'latency_creep', 'concurrency_collapse', 'flapping'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

interface Timing {
  /** Offset from the run's start, ms. */
  at: number;
  /** How long it lasts, ms. */
  for: number;
}

/** The region stops reporting entirely (viewers and nodes). */
export interface Outage extends Timing { kind: 'outage'; region: string }
/** One CDN (optionally in one region) stalls: its sessions spend `ratio` of their time stalled. */
export interface StallStorm extends Timing { kind: 'stall_storm'; cdn: string; region?: string; ratio: number }
/** One ISP (optionally in one region) loses `loss` of its packets. */
export interface PacketLoss extends Timing { kind: 'packet_loss'; isp: string; region?: string; loss: number }
/** Latency in a region grows linearly from its normal level to `to` ms at the end of the fault. */
export interface LatencyCreep extends Timing { kind: 'latency_creep'; region: string; to: number }
/** `drop` of a region's sessions vanish and its nodes' concurrency gauges fall by as much. */
export interface ConcurrencyCollapse extends Timing { kind: 'concurrency_collapse'; region: string; drop: number }
/** A stall storm in a region (optionally one CDN) switching on and off every `period` ms, starting on. */
export interface Flapping extends Timing { kind: 'flapping'; region: string; cdn?: string; ratio: number; period: number }

export type Fault = Outage | StallStorm | PacketLoss | LatencyCreep | ConcurrencyCollapse | Flapping;

// ---------------------------------------------------------------------------------------------------------------
// Applying faults

const active = (f: Fault, t: number) => t >= f.at && t < f.at + f.for;

/** Whether a flapping fault's storm is on at `t` (it starts on and toggles every period). */
export function flappingOn(f: Flapping, t: number): boolean {
  return active(f, t) && Math.floor((t - f.at) / f.period) % 2 === 0;
}

/**
 * A fraction around `mean` for one sample: mean × (1 ± a), `a` chosen so the result stays in [0, 1] and the mean
 * over many samples is `mean`. `u` is the sample's own uniform number.
 */
function around(mean: number, u: number): number {
  if (mean <= 0) return 0;
  if (mean >= 1) return 1;
  const a = Math.min(0.5, (1 - mean) / mean);
  return mean * (1 + a * (2 * u - 1));
}

const idOf = (s: Sample) => s.session ?? s.node ?? '';

/** Sets a viewer beacon's stalled share of its interval to about `ratio` (play + stall keep their sum). */
function stallTo(s: Sample, ratio: number, t: number): Sample {
  if (s.play_ms === undefined || s.session === undefined) return s;
  const total = s.play_ms + (s.stall_ms ?? 0);
  const stall = Math.round(total * around(ratio, hashUnit(`${idOf(s)}/stall/${t}`)));
  return { ...s, play_ms: total - stall, stall_ms: stall, stall_count: stall > 0 ? Math.max(1, Math.round(stall / 1500)) : 0 };
}

const median = (values: number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const v = [...values].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

/**
 * Transforms one interval of beacons by the faults in effect at `t` (the scenario offset, ms, of the start of the
 * interval the beacons measure). Pure: the input is not changed; per-sample variation comes from hashing the
 * sample's id with `t`, so the same input gives the same output.
 */
export function apply(faults: readonly Fault[], t: number, samples: readonly Sample[]): Sample[] {
  let out = samples as Sample[];
  for (const f of faults) {
    if (!active(f, t)) continue;
    switch (f.kind) {
      case 'outage':
        out = out.filter((s) => s.region !== f.region);
        break;
      case 'stall_storm':
        out = out.map((s) => (s.dims?.cdn === f.cdn && (f.region === undefined || s.region === f.region) ? stallTo(s, f.ratio, t) : s));
        break;
      case 'flapping':
        if (flappingOn(f, t)) out = out.map((s) => (s.region === f.region && (f.cdn === undefined || s.dims?.cdn === f.cdn) ? stallTo(s, f.ratio, t) : s));
        break;
      case 'packet_loss':
        out = out.map((s) => {
          if (s.dims?.isp !== f.isp || (f.region !== undefined && s.region !== f.region) || s.packets_expected === undefined) return s;
          const lost = Math.min(s.packets_expected, Math.round(s.packets_expected * around(f.loss, hashUnit(`${idOf(s)}/loss/${t}`))));
          return { ...s, packets_lost: lost };
        });
        break;
      case 'latency_creep': {
        const base = median(out.filter((s) => s.region === f.region && s.latency_ms !== undefined).map((s) => s.latency_ms!));
        if (base === undefined || base <= 0) break;
        const progress = Math.min(1, Math.max(0, (t - f.at) / f.for));
        const factor = (base + progress * (f.to - base)) / base;
        out = out.map((s) => (s.region === f.region && s.latency_ms !== undefined ? { ...s, latency_ms: Math.min(600_000, Math.round(s.latency_ms * factor)) } : s));
        break;
      }
      case 'concurrency_collapse':
        out = out.flatMap((s) => {
          if (s.region !== f.region) return [s];
          // the same viewers stay away for the whole fault: chosen by their id, not per interval
          if (s.session !== undefined) return hashUnit(`${s.session}/collapse`) < f.drop ? [] : [s];
          if (s.concurrency !== undefined) return [{ ...s, concurrency: Math.round(s.concurrency * (1 - f.drop)) }];
          return [s];
        });
        break;
    }
  }
  return out === samples ? [...samples] : out;
}

// ---------------------------------------------------------------------------------------------------------------
// Describing faults

const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;

/** One line: kind, where, how much (no timing). */
export function describeFault(f: Fault): string {
  const where = (kv: Record<string, string | undefined>) => Object.entries(kv).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ');
  switch (f.kind) {
    case 'outage': return `outage ${where({ region: f.region })} (no telemetry)`;
    case 'stall_storm': return `stall_storm ${where({ cdn: f.cdn, region: f.region })} (stall ratio ${pct(f.ratio)})`;
    case 'packet_loss': return `packet_loss ${where({ isp: f.isp, region: f.region })} (loss ${pct(f.loss)})`;
    case 'latency_creep': return `latency_creep ${where({ region: f.region })} (latency rising to ${f.to} ms)`;
    case 'concurrency_collapse': return `concurrency_collapse ${where({ region: f.region })} (sessions and node gauges -${pct(f.drop)})`;
    case 'flapping': return `flapping ${where({ region: f.region, cdn: f.cdn })} (stall ratio ${pct(f.ratio)} on/off every ${formatDuration(f.period)})`;
  }
}

export interface FaultEvent {
  /** Scenario offset, ms. */
  at: number;
  /** `start`/`end` of every fault; `on`/`off` for each toggle of a flapping fault in between. */
  type: 'start' | 'end' | 'on' | 'off';
  /** Index of the fault in the list. */
  index: number;
  fault: Fault;
  text: string;
}

/** Start and end of each fault (and a flapping fault's toggles), in time order; at equal times ends come first. */
export function events(faults: readonly Fault[]): FaultEvent[] {
  const out: FaultEvent[] = [];
  faults.forEach((f, index) => {
    const d = describeFault(f);
    out.push({ at: f.at, type: 'start', index, fault: f, text: `${d} for ${formatDuration(f.for)}` });
    if (f.kind === 'flapping') {
      for (let k = 1; f.at + k * f.period < f.at + f.for; k++) {
        out.push({ at: f.at + k * f.period, type: k % 2 ? 'off' : 'on', index, fault: f, text: `${f.kind} ${f.region}: storm ${k % 2 ? 'off' : 'on'}` });
      }
    }
    out.push({ at: f.at + f.for, type: 'end', index, fault: f, text: d });
  });
  const order = { end: 0, off: 1, on: 2, start: 3 };
  return out.sort((a, b) => a.at - b.at || order[a.type] - order[b.type] || a.index - b.index);
}

/** When the last fault ends (0 without faults). */
export const faultsEnd = (faults: readonly Fault[]): number => faults.reduce((m, f) => Math.max(m, f.at + f.for), 0);

// ---------------------------------------------------------------------------------------------------------------
// Parsing: scenario files and --fault flags

const DURATION_TEXT = /^\d+(\.\d+)?(ms|s|m|h)$/;

/** A scenario offset or length: "30s", "2m", "500ms" (a bare number is refused: 30 what?). */
const offset = (min = 0) =>
  z.string({ error: (iss) => (iss.input === undefined ? 'is required (a duration such as 30s)' : `${JSON.stringify(iss.input)} is not a duration (use e.g. 30s, 2m or 500ms)`) }).transform((v, ctx) => {
    const ms = DURATION_TEXT.test(v.trim()) ? parseDuration(v) : undefined;
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (use e.g. 30s, 2m or 500ms)` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${formatDuration(min)}` });
      return z.NEVER;
    }
    return ms;
  });

/** A share 0–1: a number, a numeric string (flags) or a percentage ("20%"). */
const fraction = z.union([z.number(), z.string()], { error: 'must be a number from 0 to 1 or a percentage such as 20%' }).transform((v, ctx) => {
  let x: number;
  if (typeof v === 'number') x = v;
  else if (/^\s*\d+(\.\d+)?\s*%\s*$/.test(v)) x = Number(v.trim().slice(0, -1).trim()) / 100;
  else if (/^\s*\d*\.?\d+\s*$/.test(v)) x = Number(v);
  else {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a share (use a number from 0 to 1 or a percentage such as 20%)` });
    return z.NEVER;
  }
  if (!(x >= 0 && x <= 1)) {
    ctx.addIssue({ code: 'custom', message: `must be from 0 to 1 (or 0% to 100%), got ${v}` });
    return z.NEVER;
  }
  return x;
});

/** A latency in ms: a number, a numeric string, or a duration ("2.5s"). */
const latency = z.union([z.number(), z.string()], { error: 'must be a latency in ms or a duration such as 2.5s' }).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : DURATION_TEXT.test(v.trim()) ? parseDuration(v) : undefined;
  if (ms === undefined || !(ms > 0 && ms <= 600_000)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a latency (use ms from 1 to 600000, or a duration such as 2.5s)` });
    return z.NEVER;
  }
  return ms;
});

const name = (example: string) => z.string({ error: (iss) => (iss.input === undefined ? `is required (a name, e.g. ${example})` : 'must be a name') }).min(1).max(64);
const timing = { at: offset(), for: offset(1) };

export const faultSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('outage'), region: name('eu-west'), ...timing }),
    z.strictObject({ kind: z.literal('stall_storm'), cdn: name('cdn-b'), region: name('eu-west').optional(), ratio: fraction, ...timing }),
    z.strictObject({ kind: z.literal('packet_loss'), isp: name('comcast'), region: name('eu-west').optional(), loss: fraction, ...timing }),
    z.strictObject({ kind: z.literal('latency_creep'), region: name('eu-west'), to: latency, ...timing }),
    z.strictObject({ kind: z.literal('concurrency_collapse'), region: name('eu-west'), drop: fraction, ...timing }),
    z.strictObject({ kind: z.literal('flapping'), region: name('eu-west'), cdn: name('cdn-b').optional(), ratio: fraction.default(0.3), period: offset(1000), ...timing }),
  ],
  { error: `kind must be one of ${FAULT_KINDS.join(', ')}` },
);

const regionName = z.string().regex(/^[^\x00-\x1f\x7f\\,]{1,64}$/, 'a region name: 1-64 characters, no commas, backslashes or control characters');

/** A scenario file: the run's settings (all optional; flags override them) and its faults. */
export const scenarioSchema = z.strictObject({
  name: z.string().max(200).optional(),
  description: z.string().optional(),
  /** Scenario length (default: 30 s after the last fault ends). */
  duration: offset(1000).optional(),
  seed: z.number().int().optional(),
  interval: offset(100).refine((ms) => ms <= 3_600_000, 'must be at most 1h').optional(),
  sessions: z.number().int().min(0).max(10_000_000).optional(),
  regions: z.array(regionName).min(1).optional(),
  cdns: z.array(z.string().min(1).max(64)).min(1).optional(),
  diurnal: z.strictObject({ peak_hour: z.number().min(0).max(24).default(21), trough: z.number().min(0).max(1).default(0.25) }).optional(),
  faults: z.array(z.unknown()).default([]),
});

export interface Scenario {
  name?: string;
  description?: string;
  duration?: number;
  seed?: number;
  interval?: number;
  sessions?: number;
  regions?: string[];
  cdns?: string[];
  diurnal?: { peakHour: number; trough: number };
  faults: Fault[];
}

/** A scenario or fault that does not parse; the message names the source and each bad field. */
export class ScenarioError extends Error {}

function issuesText(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.map((i) => {
    const path = formatPath([...prefix, ...i.path]);
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown field`).join('; ');
    return `${path || '(top level)'}: ${i.message}`;
  });
}

/** Validates one fault given as an object (from YAML or a flag); `where` prefixes the messages. */
function parseFault(raw: unknown, prefix: readonly PropertyKey[]): { fault?: Fault; problems: string[] } {
  const r = faultSchema.safeParse(raw);
  if (!r.success) return { problems: issuesText(r.error.issues, prefix) };
  return { fault: r.data as Fault, problems: [] };
}

/** Parses a scenario document (YAML text); `source` names it in errors (e.g. the file path). */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  const doc = readYaml(text);
  if (!doc.ok) throw new ScenarioError(`${source}: not valid YAML${doc.line === undefined ? '' : ` (line ${doc.line})`}: ${doc.message}`);
  const r = scenarioSchema.safeParse(doc.value ?? {});
  const problems = r.success ? [] : issuesText(r.error.issues);
  const faults: Fault[] = [];
  if (r.success) {
    r.data.faults.forEach((raw, i) => {
      const p = parseFault(raw, ['faults', i]);
      if (p.fault) faults.push(p.fault);
      problems.push(...p.problems);
    });
  }
  if (problems.length || !r.success) throw new ScenarioError(`${source} is invalid:\n  ${problems.join('\n  ')}`);
  const d = r.data;
  const scenario: Scenario = { faults };
  if (d.name !== undefined) scenario.name = d.name;
  if (d.description !== undefined) scenario.description = d.description;
  if (d.duration !== undefined) scenario.duration = d.duration;
  if (d.seed !== undefined) scenario.seed = d.seed;
  if (d.interval !== undefined) scenario.interval = d.interval;
  if (d.sessions !== undefined) scenario.sessions = d.sessions;
  if (d.regions !== undefined) scenario.regions = d.regions;
  if (d.cdns !== undefined) scenario.cdns = d.cdns;
  if (d.diurnal !== undefined) scenario.diurnal = { peakHour: d.diurnal.peak_hour, trough: d.diurnal.trough };
  return scenario;
}

/** Reads and parses a scenario file. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${path}: cannot read the scenario file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseScenario(text, path);
}

/**
 * Parses a `--fault` flag: `kind:key=value,key=value`, e.g. `stall_storm:cdn=cdn-b,region=eu-west,ratio=0.2,at=30s,for=60s`.
 * The same fields as a scenario file's faults; errors name the flag and the field.
 */
export function parseFaultFlag(text: string): Fault {
  const flag = `--fault ${text}`;
  const m = /^\s*([a-z_]+)\s*(?::(.*))?$/s.exec(text);
  if (!m) throw new ScenarioError(`${flag}: expected kind:key=value,… (e.g. stall_storm:cdn=cdn-b,ratio=0.2,at=30s,for=60s)`);
  const raw: Record<string, string> = { kind: m[1]! };
  const rest = m[2]?.trim() ?? '';
  for (const pair of rest ? rest.split(',') : []) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair.trim() : pair.slice(0, eq).trim();
    if (eq < 0 || !key) throw new ScenarioError(`${flag}: "${pair.trim()}" is not key=value`);
    if (key in raw) throw new ScenarioError(`${flag}: ${key} given twice`);
    raw[key] = pair.slice(eq + 1).trim();
  }
  const p = parseFault(raw, []);
  if (!p.fault) throw new ScenarioError(`${flag}: ${p.problems.join('; ')}`);
  return p.fault;
}
