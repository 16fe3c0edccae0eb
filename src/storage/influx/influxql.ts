import { INCIDENT_MEASUREMENT } from '../../incidents/influx-events.js';
import { SLA_BREACH_MEASUREMENT, SLA_STOP_MEASUREMENT } from '../../tickets/sla-points.js';
import { DIM_MEASUREMENT, REGION_MEASUREMENT, type RollupField } from './rollup-points.js';

/**
 * What qoswatch writes, as types: a query naming a field or tag that is not written does not compile. Shared by
 * the Grafana dashboards (dashboards/src) and the scheduled reports, so a renamed field breaks both at build time.
 */
interface Schema {
  [REGION_MEASUREMENT]: { fields: RollupField; tags: 'tenant' | 'region' | 'late' };
  [DIM_MEASUREMENT]: { fields: RollupField; tags: 'tenant' | 'region' | 'dim' | 'value' | 'late' };
  [INCIDENT_MEASUREMENT]: { fields: 'incident' | 'state' | 'title' | 'text' | 'annotation' | 'actor' | 'silenced'; tags: 'tenant' | 'region' | 'priority' | 'event' };
  [SLA_STOP_MEASUREMENT]: { fields: 'ticket' | 'met' | 'time_to_stop_ms' | 'elapsed_ms' | 'target_ms'; tags: 'tenant' | 'tier' | 'priority' | 'target' | 'outcome' };
  [SLA_BREACH_MEASUREMENT]: { fields: 'ticket' | 'target_ms'; tags: 'tenant' | 'tier' | 'priority' | 'target' };
}

/** The service's own figures (self-metric-points.ts): measurement = metric name, tags = its labels + instance. */
type SelfMetric = `qoswatch_${string}` | 'process_resident_memory_bytes' | 'process_cpu_seconds_total' | 'nodejs_eventloop_lag_p99_seconds';
type SelfSchema = { fields: 'value' | 'count' | 'sum' | 'p50' | 'p99'; tags: string };

export type Measurement = keyof Schema | SelfMetric;
type S<M extends Measurement> = M extends keyof Schema ? Schema[M] : SelfSchema;
export type FieldOf<M extends Measurement> = S<M>['fields'];
export type TagOf<M extends Measurement> = S<M>['tags'];

/** An InfluxQL expression (already rendered). */
export interface Expr {
  readonly sql: string;
}

const ident = (name: string) => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const ex = (sql: string): Expr => ({ sql });

/** Expression helpers, typed by the measurement's fields. */
export interface Fn<F extends string> {
  field(f: F): Expr;
  sum(f: F): Expr;
  mean(f: F): Expr;
  max(f: F): Expr;
  min(f: F): Expr;
  last(f: F): Expr;
  count(f: F): Expr;
  /** The p-th percentile of the field's values (a selector: the value at that rank). */
  percentile(f: F, p: number): Expr;
  div(a: Expr, b: Expr): Expr;
  add(a: Expr, b: Expr): Expr;
  scale(a: Expr, k: number): Expr;
  /** Per-`unit` rate of a cumulative counter, ignoring resets. */
  rate(a: Expr, unit: string): Expr;
}

function fn<F extends string>(): Fn<F> {
  const call = (name: string) => (f: F) => ex(`${name}(${ident(f)})`);
  return {
    field: (f) => ex(ident(f)),
    sum: call('sum'),
    mean: call('mean'),
    max: call('max'),
    min: call('min'),
    last: call('last'),
    count: call('count'),
    percentile: (f, p) => ex(`percentile(${ident(f)}, ${p})`),
    div: (a, b) => ex(`${a.sql} / ${b.sql}`),
    add: (a, b) => ex(`(${a.sql} + ${b.sql})`),
    scale: (a, k) => ex(`${a.sql} * ${k}`),
    rate: (a, unit) => ex(`non_negative_derivative(${a.sql}, ${unit})`),
  };
}

/** A value compared with a tag: a literal string, or a regular expression written as InfluxQL's /…/ literal. */
export type TagValue = string | { regex: string };

/** Matches a Grafana template variable (single, multi or All) the way Grafana's InfluxDB datasource expects. */
export const variable = (name: string): TagValue => ({ regex: `^$${name}$` });

/** Escapes a literal for use inside an InfluxQL regex. */
export const regexLiteral = (v: string) => v.replace(/[\\/^$.*+?()[\]{}|]/g, (c) => `\\${c}`);

const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * A SELECT statement: `from(m).select(f => f.sum('stall_ms'), 'stalled').where('region', '=', 'eu').groupByTime('1m')`.
 * Times: `timeFilter('$timeFilter')` for Grafana, or `between(from, to)` (epoch ms, half-open) for reports.
 */
export class InfluxQL<M extends Measurement> {
  private readonly fields: string[] = [];
  private readonly conditions: string[] = [];
  private readonly groups: string[] = [];
  private tail = '';
  private fillWith: string | undefined;
  private zone: string | undefined;

  private constructor(readonly measurement: M) {}

  static from<M extends Measurement>(m: M): InfluxQL<M> {
    return new InfluxQL(m);
  }

  select(build: (f: Fn<FieldOf<M>>) => Expr, alias?: string): this {
    const e = build(fn<FieldOf<M>>());
    this.fields.push(alias ? `${e.sql} AS ${ident(alias)}` : e.sql);
    return this;
  }

  where(tag: TagOf<M>, op: '=' | '!=', value: TagValue): this {
    const v = typeof value === 'string' ? quote(value) : `/${value.regex}/`;
    const o = typeof value === 'string' ? op : op === '=' ? '=~' : '!~';
    this.conditions.push(`${ident(tag)} ${o} ${v}`);
    return this;
  }

  /** One of several literal values (a tag IN list, which InfluxQL lacks). */
  whereIn(tag: TagOf<M>, values: readonly string[]): this {
    return this.where(tag, '=', { regex: `^(${values.map(regexLiteral).join('|')})$` });
  }

  timeFilter(grafanaMacro: '$timeFilter'): this {
    this.conditions.push(grafanaMacro);
    return this;
  }

  between(fromMs: number, toMs: number): this {
    this.conditions.push(`time >= ${Math.floor(fromMs)}ms AND time < ${Math.floor(toMs)}ms`);
    return this;
  }

  groupByTime(interval: string): this {
    this.groups.unshift(`time(${interval})`);
    return this;
  }

  groupBy(...tags: TagOf<M>[]): this {
    this.groups.push(...tags.map(ident));
    return this;
  }

  fill(v: 'none' | 'null' | 'previous' | number): this {
    this.fillWith = String(v);
    return this;
  }

  /** Buckets of GROUP BY time() start at midnight in this zone rather than UTC. */
  tz(zone: string): this {
    this.zone = zone;
    return this;
  }

  limit(n: number): this {
    this.tail = ` ORDER BY time DESC LIMIT ${n}`;
    return this;
  }

  toString(): string {
    if (this.fields.length === 0) throw new Error(`query on ${this.measurement} selects nothing`);
    let q = `SELECT ${this.fields.join(', ')} FROM ${ident(this.measurement)}`;
    if (this.conditions.length) q += ` WHERE ${this.conditions.join(' AND ')}`;
    if (this.groups.length) q += ` GROUP BY ${this.groups.join(', ')}`;
    if (this.fillWith !== undefined) q += ` fill(${this.fillWith})`;
    q += this.tail;
    if (this.zone) q += ` tz(${quote(this.zone)})`;
    return q;
  }
}

/** `SHOW TAG VALUES` for a template variable, optionally narrowed by other tags. */
export function showTagValues<M extends Measurement>(m: M, key: TagOf<M>, where: readonly [TagOf<M>, TagValue][] = []): string {
  const cond = where.map(([t, v]) => (typeof v === 'string' ? `${ident(t)} = ${quote(v)}` : `${ident(t)} =~ /${v.regex}/`));
  return `SHOW TAG VALUES FROM ${ident(m)} WITH KEY = ${ident(key)}${cond.length ? ` WHERE ${cond.join(' AND ')}` : ''}`;
}
