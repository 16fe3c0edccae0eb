import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_THRESHOLDS, type RawFigures, type ReportInput, type ReportThresholds, assembleQosReport, figuresOf, reportThresholds,
} from '../../src/reports/qos-report-data.js';
import type { QosReport, RegionReport, SlaOutcome } from '../../src/reports/qos-report-model.js';
import { compileRuleFiles } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/rule-schema.js';
import type { Priority } from '../../src/shared/priority.js';
import { DEFAULT_SLA } from '../../src/shared/sla-policy.js';
import type { Tenant } from '../../src/shared/tenant.js';
import { businessHours } from '../helpers/business-hours.js';

/**
 * The pure part of the QoS report: figures from InfluxDB sums, week-over-week change, status and reasons, ranking,
 * hours of the period (in the tenant's zone, DST included), worst hours, incident totals, the Grafana link, and the
 * thresholds taken from the rules. All ratios and instants are worked out by hand in the comments.
 */

const SH = 'Asia/Shanghai'; // UTC+8
const NY = 'America/New_York';
const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const NOW = at('2026-11-24T00:30:00Z'); // Tue 24 Nov 08:30 +08, when the daily report goes out

const tenantIn = (timezone: string, id = 'acme'): Tenant => ({
  id, name: 'Acme Live', tier: 'strategic', timezone, businessHours: businessHours(timezone), sla: DEFAULT_SLA.strategic,
  contacts: [], customerChannel: undefined, reports: {},
});
const ACME = tenantIn(SH);

/** Mon 23 Nov 2026 in Shanghai: [Sun 22 Nov 16:00Z, Mon 23 Nov 16:00Z). */
const MONDAY = { from: at('2026-11-22T16:00:00Z'), to: at('2026-11-23T16:00:00Z'), label: 'Mon 23 Nov 2026' };

const SLA: SlaOutcome = {
  tickets: 2,
  targets: [
    { target: 'response', met: 2, missed: 0, breached: 0, meanMs: 300_000 },
    { target: 'restore', met: 1, missed: 1, breached: 1, meanMs: 7_200_000 },
    { target: 'resolve', met: 0, missed: 0, breached: 0, meanMs: null },
  ],
};

const NONE: RawFigures = { stall: null, play: null, lost: null, expected: null, latencyP95: null, peakConcurrency: null, samples: null };
const raw = (r: Partial<RawFigures>): RawFigures => ({ ...NONE, ...r });
const inc = (r: Partial<Record<Priority, number>>): Record<Priority, number> => ({ P0: 0, P1: 0, P2: 0, P3: 0, ...r });

/** The defaults plus a region-level latency rule at 800 ms (as a tenant of one delivery class would write). */
const WITH_LATENCY: ReportThresholds = { ...DEFAULT_THRESHOLDS, latencyP95Ms: 800 };

const input = (o: Partial<ReportInput> = {}): ReportInput => ({
  kind: 'daily', tenant: ACME, period: MONDAY, current: new Map(), previous: new Map(), hourly: new Map(), incidents: new Map(), sla: SLA,
  thresholds: WITH_LATENCY, grafanaUrl: undefined, now: NOW, ...o,
});

const region = (r: QosReport, name: string): RegionReport => {
  const found = r.regions.find((x) => x.region === name);
  if (!found) throw new Error(`no region ${name} in ${r.regions.map((x) => x.region).join(', ')}`);
  return found;
};

describe('figuresOf', () => {
  it('stall ratio = stall / (play + stall), loss = lost / expected, others passed through', () => {
    // 30 / (970 + 30) = 0.03; 2 / 400 = 0.005
    expect(figuresOf(raw({ stall: 30, play: 970, lost: 2, expected: 400, latencyP95: 512, peakConcurrency: 77, samples: 1234 }))).toEqual({
      latencyP95Ms: 512, packetLoss: 0.005, stallRatio: 0.03, peakConcurrency: 77, samples: 1234,
    });
  });

  it('no play and no stall → stall ratio null; both 0 → null; no stall at all → 0', () => {
    expect(figuresOf(raw({})).stallRatio).toBeNull();
    expect(figuresOf(raw({ stall: 0, play: 0 })).stallRatio).toBeNull();
    expect(figuresOf(raw({ stall: 0, play: 5000 })).stallRatio).toBe(0);
    // All stalled: 100 / (0 + 100)
    expect(figuresOf(raw({ stall: 100, play: 0 })).stallRatio).toBe(1);
  });

  it('expected 0 or missing → loss null; lost missing → null; none lost → 0', () => {
    expect(figuresOf(raw({ lost: 0, expected: 0 })).packetLoss).toBeNull();
    expect(figuresOf(raw({ lost: 3, expected: 0 })).packetLoss).toBeNull();
    expect(figuresOf(raw({ lost: 3 })).packetLoss).toBeNull();
    expect(figuresOf(raw({ expected: 100 })).packetLoss).toBeNull();
    expect(figuresOf(raw({ lost: 0, expected: 100 })).packetLoss).toBe(0);
  });

  it('missing samples count as 0; missing latency and concurrency stay null', () => {
    expect(figuresOf(NONE)).toEqual({ latencyP95Ms: null, packetLoss: null, stallRatio: null, peakConcurrency: null, samples: 0 });
  });
});

describe('assembleQosReport: a day with four regions and one with only incidents', () => {
  // Current period (Mon 23 Nov, Shanghai), thresholds = WITH_LATENCY (latency 800 ms, loss 2 %, stall 2 %):
  //   eu: stall 100 / (99 900 + 100) = 0.001, loss 10 / 10 000 = 0.001, latency 300 → good; score max(.05, .05, .375) = .375
  //   us: stall 170 / (9 830 + 170) = 0.017 (≥ 0.8 × 2 % = 1.6 %), loss 5 / 1 000 = 0.005, latency 500 → watch; score .85
  //   ap: stall 0 / 50 000 = 0, loss 0 / 0 = null, latency 600 (a week before 400: +50 %), one P3 → watch; score .75
  //   sa: stall 250 / 10 000 = 0.025, loss 300 / 10 000 = 0.03, latency 700 (≥ 640), two P1 → attention; score 1.5
  //   mx: no figures, one P0, one P2, two P3 → attention; score 0
  // Ranked good < watch < attention, then by score: eu, ap, us, mx, sa.
  const current = new Map<string, RawFigures>([
    ['eu', raw({ stall: 100, play: 99_900, lost: 10, expected: 10_000, latencyP95: 300, peakConcurrency: 500, samples: 1000 })],
    ['us', raw({ stall: 170, play: 9_830, lost: 5, expected: 1_000, latencyP95: 500, peakConcurrency: 200, samples: 400 })],
    ['ap', raw({ stall: 0, play: 50_000, lost: 0, expected: 0, latencyP95: 600, peakConcurrency: 300, samples: 600 })],
    ['sa', raw({ stall: 250, play: 9_750, lost: 300, expected: 10_000, latencyP95: 700, peakConcurrency: 100, samples: 200 })],
  ]);
  // A week earlier:
  //   eu: the same ratios; peak 400 → +25 % concurrency (not a watch reason)
  //   us: stall 150 / 10 000 = 0.015 → (0.017 − 0.015) / 0.015 = +13.3 % (under 25 %)
  //   ap: stall 0 / 40 000 = 0 (change from 0 → null), loss 0 / 100 = 0 (now null → null), latency 400, no peak
  //   sa: stall 100 / 10 000 = 0.01 → (0.025 − 0.01) / 0.01 = +150 %
  //   old: only a week ago: not in this report
  const previous = new Map<string, RawFigures>([
    ['eu', raw({ stall: 100, play: 99_900, lost: 10, expected: 10_000, latencyP95: 300, peakConcurrency: 400, samples: 900 })],
    ['us', raw({ stall: 150, play: 9_850, lost: 5, expected: 1_000, latencyP95: 500, peakConcurrency: 200, samples: 400 })],
    ['ap', raw({ stall: 0, play: 40_000, lost: 0, expected: 100, latencyP95: 400, samples: 500 })],
    ['sa', raw({ stall: 100, play: 9_900, lost: 300, expected: 10_000, latencyP95: 700, peakConcurrency: 100, samples: 200 })],
    ['old', raw({ stall: 900, play: 100, lost: 1, expected: 1, latencyP95: 9000, samples: 5 })],
  ]);
  const incidents = new Map([['ap', inc({ P3: 1 })], ['sa', inc({ P1: 2 })], ['mx', inc({ P0: 1, P2: 1, P3: 2 })]]);
  // Hours of us (local hour → UTC start): 03:00 → 22 Nov 19:00Z, 10:00 → 23 Nov 02:00Z, 11:00 → 03:00Z,
  // 20:00 → 12:00Z, 21:00 → 13:00Z; and 22 Nov 23:00 local (15:00Z), outside the period.
  const hourly = new Map([
    ['us', new Map<number, RawFigures>([
      [at('2026-11-22T19:00:00Z'), raw({ stall: 10, play: 990 })], // 0.01
      [at('2026-11-23T02:00:00Z'), raw({ stall: 30, play: 970, latencyP95: 420 })], // 0.03
      [at('2026-11-23T03:00:00Z'), raw({ stall: 0, play: 1000 })], // 0: not a worst hour
      [at('2026-11-23T12:00:00Z'), raw({ stall: 50, play: 950, lost: 1, expected: 100, latencyP95: 450 })], // 0.05, loss 0.01
      [at('2026-11-23T13:00:00Z'), raw({ stall: 50, play: 950 })], // 0.05, a tie: the earlier hour first
      [at('2026-11-22T15:00:00Z'), raw({ stall: 900, play: 100 })], // 0.9 but the day before: ignored
    ])],
  ]);
  const report = assembleQosReport(input({ current, previous, incidents, hourly, grafanaUrl: 'https://grafana.example.com/' }));

  it('echoes kind, tenant, period, SLA and the generation time', () => {
    expect(report.kind).toBe('daily');
    expect(report.tenant).toEqual({ id: 'acme', name: 'Acme Live', timezone: SH, tier: 'strategic' });
    expect(report.period).toEqual(MONDAY);
    expect(report.sla).toEqual(SLA);
    expect(report.generatedAt).toBe(NOW);
  });

  it('ranks best to worst: status first, then score, regions only seen a week earlier left out', () => {
    expect(report.regions.map((r) => [r.rank, r.region, r.status])).toEqual([
      [1, 'eu', 'good'], [2, 'ap', 'watch'], [3, 'us', 'watch'], [4, 'mx', 'attention'], [5, 'sa', 'attention'],
    ]);
  });

  it('figures: stall ratio and loss from the sums, exactly', () => {
    expect(region(report, 'eu').current).toEqual({ latencyP95Ms: 300, packetLoss: 0.001, stallRatio: 0.001, peakConcurrency: 500, samples: 1000 });
    expect(region(report, 'us').current).toEqual({ latencyP95Ms: 500, packetLoss: 0.005, stallRatio: 0.017, peakConcurrency: 200, samples: 400 });
    expect(region(report, 'ap').current).toEqual({ latencyP95Ms: 600, packetLoss: null, stallRatio: 0, peakConcurrency: 300, samples: 600 });
    expect(region(report, 'sa').current).toEqual({ latencyP95Ms: 700, packetLoss: 0.03, stallRatio: 0.025, peakConcurrency: 100, samples: 200 });
    expect(region(report, 'sa').previous).toEqual({ latencyP95Ms: 700, packetLoss: 0.03, stallRatio: 0.01, peakConcurrency: 100, samples: 200 });
  });

  it('week-over-week change: (now − before) / before, null without a previous value or from 0', () => {
    expect(region(report, 'eu').change).toEqual({ latencyP95Ms: 0, packetLoss: 0, stallRatio: 0, peakConcurrency: 0.25 });
    const us = region(report, 'us').change;
    expect(us.stallRatio).toBeCloseTo(2 / 15, 12);
    expect(us).toMatchObject({ latencyP95Ms: 0, packetLoss: 0, peakConcurrency: 0 });
    expect(region(report, 'ap').change).toEqual({ latencyP95Ms: 0.5, packetLoss: null, stallRatio: null, peakConcurrency: null });
    expect(region(report, 'sa').change.stallRatio).toBeCloseTo(1.5, 12);
  });

  it('reasons: attention first (metrics in order stall, loss, latency, then incidents), then watch', () => {
    expect(region(report, 'eu').reasons).toEqual([]);
    expect(region(report, 'us').reasons).toEqual(['stall ratio 1.70 % is near the 2.00 % alert threshold']);
    expect(region(report, 'ap').reasons).toEqual(['latency p95 up 50 % on the week before (400 ms → 600 ms)', '1 P2/P3 incident']);
    expect(region(report, 'sa').reasons).toEqual([
      'stall ratio 2.50 % is at or over the 2.00 % alert threshold',
      'packet loss 3.00 % is at or over the 2.00 % alert threshold',
      '2 P0/P1 incidents',
      'stall ratio up 150 % on the week before (1.00 % → 2.50 %)',
      'latency p95 700 ms is near the 800 ms alert threshold',
    ]);
    expect(region(report, 'mx').reasons).toEqual(['1 P0/P1 incident', '3 P2/P3 incidents']);
  });

  it('needsAttention lists the non-good regions worst first', () => {
    expect(report.needsAttention).toEqual([
      { region: 'sa', reasons: region(report, 'sa').reasons },
      { region: 'mx', reasons: ['1 P0/P1 incident', '3 P2/P3 incidents'] },
      { region: 'us', reasons: ['stall ratio 1.70 % is near the 2.00 % alert threshold'] },
      { region: 'ap', reasons: region(report, 'ap').reasons },
    ]);
  });

  it('a region with only incidents: empty figures, no previous, no change, empty hours', () => {
    const mx = region(report, 'mx');
    expect(mx.current).toEqual({ latencyP95Ms: null, packetLoss: null, stallRatio: null, peakConcurrency: null, samples: 0 });
    expect(mx.previous).toBeNull();
    expect(mx.change).toEqual({ latencyP95Ms: null, packetLoss: null, stallRatio: null, peakConcurrency: null });
    expect(mx.incidents).toEqual({ P0: 1, P1: 0, P2: 1, P3: 2 });
    expect(mx.hourly).toHaveLength(24);
    expect(mx.hourly.every((h) => h.stallRatio === null && h.latencyP95Ms === null && h.packetLoss === null)).toBe(true);
    expect(mx.worstHours).toEqual([]);
  });

  it('regions without incidents get zero counts; totals add up every region', () => {
    expect(region(report, 'eu').incidents).toEqual({ P0: 0, P1: 0, P2: 0, P3: 0 });
    // P0: mx 1; P1: sa 2; P2: mx 1; P3: ap 1 + mx 2
    expect(report.incidents).toEqual({ total: 7, byPriority: { P0: 1, P1: 2, P2: 1, P3: 3 } });
  });

  it('hourly: every local hour of the day, 00:00 to 23:00, with its figures', () => {
    const us = region(report, 'us');
    expect(us.hourly).toHaveLength(24);
    expect(us.hourly[0]).toEqual({ start: at('2026-11-22T16:00:00Z'), label: '2026-11-23 00:00', stallRatio: null, latencyP95Ms: null, packetLoss: null });
    expect(us.hourly[23]).toMatchObject({ start: at('2026-11-23T15:00:00Z'), label: '2026-11-23 23:00' });
    expect(us.hourly.map((h) => h.start)).toEqual(Array.from({ length: 24 }, (_, n) => MONDAY.from + n * H));
    expect(us.hourly[3]).toMatchObject({ label: '2026-11-23 03:00', stallRatio: 0.01 });
    expect(us.hourly[11]).toMatchObject({ label: '2026-11-23 11:00', stallRatio: 0 });
    expect(us.hourly[20]).toEqual({ start: at('2026-11-23T12:00:00Z'), label: '2026-11-23 20:00', stallRatio: 0.05, latencyP95Ms: 450, packetLoss: 0.01 });
    // Only the five hours given have a stall ratio.
    expect(us.hourly.filter((h) => h.stallRatio !== null).map((h) => h.label.slice(11))).toEqual(['03:00', '10:00', '11:00', '20:00', '21:00']);
  });

  it('worst hours: top 3 by stall ratio, ties by time, hours without stalls and outside the period left out', () => {
    expect(region(report, 'us').worstHours.map((h) => [h.label, h.stallRatio])).toEqual([
      ['2026-11-23 20:00', 0.05], ['2026-11-23 21:00', 0.05], ['2026-11-23 10:00', 0.03],
    ]);
    expect(region(report, 'eu').worstHours).toEqual([]);
  });

  it('grafanaUrl: the overview board for the tenant and period, one trailing slash of the base dropped', () => {
    const link = `https://grafana.example.com/d/qoswatch-overview?var-tenant=acme&from=${at('2026-11-22T16:00:00Z')}&to=${at('2026-11-23T16:00:00Z')}`;
    expect(link).toBe('https://grafana.example.com/d/qoswatch-overview?var-tenant=acme&from=1795363200000&to=1795449600000');
    expect(report.grafanaUrl).toBe(link);
    expect(assembleQosReport(input({ grafanaUrl: 'https://grafana.example.com' })).grafanaUrl).toBe(link);
    expect(assembleQosReport(input({ grafanaUrl: 'https://ops.example.com/grafana/' })).grafanaUrl).toBe(
      'https://ops.example.com/grafana/d/qoswatch-overview?var-tenant=acme&from=1795363200000&to=1795449600000',
    );
    expect(assembleQosReport(input({ grafanaUrl: undefined })).grafanaUrl).toBeNull();
  });
});

describe('assembleQosReport: status rules at their edges', () => {
  /** The one region `r` of a report on `cur` (and a week earlier `prev`). */
  const one = (cur: Partial<RawFigures> | undefined, o: { prev?: Partial<RawFigures>; incidents?: Partial<Record<Priority, number>>; thresholds?: ReportThresholds } = {}) =>
    assembleQosReport(input({
      current: new Map(cur ? [['r', raw(cur)]] : []),
      previous: new Map(o.prev ? [['r', raw(o.prev)]] : []),
      incidents: new Map(o.incidents ? [['r', inc(o.incidents)]] : []),
      thresholds: o.thresholds ?? WITH_LATENCY,
    })).regions[0]!;

  it('a metric exactly at its threshold → attention', () => {
    expect(one({ latencyP95: 800 })).toMatchObject({ status: 'attention', reasons: ['latency p95 800 ms is at or over the 800 ms alert threshold'] });
    // 20 / (980 + 20) = 0.02
    expect(one({ stall: 20, play: 980 })).toMatchObject({ status: 'attention', reasons: ['stall ratio 2.00 % is at or over the 2.00 % alert threshold'] });
    // 2 / 100 = 0.02
    expect(one({ lost: 2, expected: 100 })).toMatchObject({ status: 'attention', reasons: ['packet loss 2.00 % is at or over the 2.00 % alert threshold'] });
  });

  it('at 80 % of a threshold → watch; just under → good', () => {
    // 0.8 × 800 = 640
    expect(one({ latencyP95: 640 })).toMatchObject({ status: 'watch', reasons: ['latency p95 640 ms is near the 800 ms alert threshold'] });
    expect(one({ latencyP95: 639 })).toMatchObject({ status: 'good', reasons: [] });
    // 0.8 × 2 % = 1.6 %: 17 / 1 000 = 1.7 % near, 15 / 1 000 = 1.5 % good
    expect(one({ lost: 17, expected: 1000 })).toMatchObject({ status: 'watch', reasons: ['packet loss 1.70 % is near the 2.00 % alert threshold'] });
    expect(one({ lost: 15, expected: 1000 })).toMatchObject({ status: 'good' });
  });

  it('25 % worse than a week before → watch; less, or better → good', () => {
    // (500 − 400) / 400 = 0.25
    expect(one({ latencyP95: 500 }, { prev: { latencyP95: 400 } })).toMatchObject({
      status: 'watch', reasons: ['latency p95 up 25 % on the week before (400 ms → 500 ms)'],
    });
    // (499 − 400) / 400 = 0.2475
    expect(one({ latencyP95: 499 }, { prev: { latencyP95: 400 } })).toMatchObject({ status: 'good', reasons: [] });
    expect(one({ latencyP95: 200 }, { prev: { latencyP95: 400 } })).toMatchObject({ status: 'good', change: { latencyP95Ms: -0.5 } });
    // Loss 5 / 1 000 = 0.5 % from 2 / 1 000 = 0.2 %: +150 %, still far under the threshold
    expect(one({ lost: 5, expected: 1000 }, { prev: { lost: 2, expected: 1000 } })).toMatchObject({
      status: 'watch', reasons: ['packet loss up 150 % on the week before (0.20 % → 0.50 %)'],
    });
    // From 0 there is no ratio: stall 0 → 1 %, no reason.
    expect(one({ stall: 10, play: 990 }, { prev: { stall: 0, play: 1000 } })).toMatchObject({ status: 'good', change: { stallRatio: null } });
  });

  it('a growing peak concurrency is no reason', () => {
    expect(one({ peakConcurrency: 1000 }, { prev: { peakConcurrency: 100 } })).toMatchObject({ status: 'good', change: { peakConcurrency: 9 } });
  });

  it('P0/P1 incidents → attention, P2/P3 → watch, counted with plurals', () => {
    expect(one({ latencyP95: 100 }, { incidents: { P0: 1, P1: 1 } })).toMatchObject({ status: 'attention', reasons: ['2 P0/P1 incidents'] });
    expect(one({ latencyP95: 100 }, { incidents: { P1: 1 } })).toMatchObject({ status: 'attention', reasons: ['1 P0/P1 incident'] });
    expect(one({ latencyP95: 100 }, { incidents: { P2: 1 } })).toMatchObject({ status: 'watch', reasons: ['1 P2/P3 incident'] });
    expect(one({ latencyP95: 100 }, { incidents: { P2: 1, P3: 1 } })).toMatchObject({ status: 'watch', reasons: ['2 P2/P3 incidents'] });
    expect(one({ latencyP95: 100 }, { incidents: {} })).toMatchObject({ status: 'good', reasons: [] });
    expect(one(undefined, { incidents: { P3: 1 } })).toMatchObject({ region: 'r', status: 'watch', reasons: ['1 P2/P3 incident'] });
  });

  it('uses the thresholds given', () => {
    const loose: ReportThresholds = { latencyP95Ms: 2000, packetLoss: 0.1, stallRatio: 0.1 };
    // 5 / 100 = 5 %: over the default 2 %, under 80 % of 10 %.
    expect(one({ stall: 5, play: 95 }).status).toBe('attention');
    expect(one({ stall: 5, play: 95 }, { thresholds: loose })).toMatchObject({ status: 'good', reasons: [] });
    // 8.5 / 100 = 8.5 % ≥ 80 % of 10 %. (Exactly 8 % is not used: 0.8 × 0.1 is 0.08000000000000002 in floating point.)
    expect(one({ stall: 8.5, play: 91.5 }, { thresholds: loose })).toMatchObject({ status: 'watch', reasons: ['stall ratio 8.50 % is near the 10.00 % alert threshold'] });
  });
});

describe('assembleQosReport: ranking', () => {
  const rank = (current: [string, Partial<RawFigures>][], incidents: [string, Partial<Record<Priority, number>>][] = []) =>
    assembleQosReport(input({ current: new Map(current.map(([k, v]) => [k, raw(v)])), incidents: new Map(incidents.map(([k, v]) => [k, inc(v)])) }))
      .regions.map((r) => `${r.rank}:${r.region}`);

  it('same status and score → by name', () => {
    expect(rank([['b', { latencyP95: 100 }], ['c', { latencyP95: 100 }], ['a', { latencyP95: 100 }]])).toEqual(['1:a', '2:b', '3:c']);
  });

  it('same status → the worst metric against its threshold decides, across metrics', () => {
    // a: stall 1 / 100 = 1 % → 0.5 of 2 %; b: latency 480 → 0.6 of 800; c: loss 0.2 / 100 → 0.1 of 2 %.
    expect(rank([['a', { stall: 1, play: 99 }], ['b', { latencyP95: 480 }], ['c', { lost: 0.2, expected: 100 }]])).toEqual(['1:c', '2:a', '3:b']);
    // Over the threshold, further over ranks lower: a 4 / 100 = 2× the stall threshold, b latency 1200 = 1.5×.
    expect(rank([['a', { stall: 4, play: 96 }], ['b', { latencyP95: 1200 }]])).toEqual(['1:b', '2:a']);
  });

  it('status beats score: a watch region near its threshold ranks above an attention region with no figures', () => {
    expect(rank([['a', { latencyP95: 790 }], ['b', { latencyP95: 10 }]], [['b', { P0: 1 }], ['c', { P2: 1 }]])).toEqual(['1:c', '2:a', '3:b']);
  });

  it('no regions at all: an empty report', () => {
    const r = assembleQosReport(input());
    expect(r.regions).toEqual([]);
    expect(r.needsAttention).toEqual([]);
    expect(r.incidents).toEqual({ total: 0, byPriority: { P0: 0, P1: 0, P2: 0, P3: 0 } });
  });
});

describe('assembleQosReport: hours across DST in America/New_York', () => {
  const hoursOf = (period: ReportInput['period'], hourly: Map<number, RawFigures> = new Map()) =>
    assembleQosReport(input({ tenant: tenantIn(NY), period, current: new Map([['us-east', raw({ latencyP95: 100 })]]), hourly: new Map([['us-east', hourly]]) }))
      .regions[0]!.hourly;

  it('an ordinary day has 24 hours', () => {
    // Sat 7 Mar 2026 EST: [05:00Z, 05:00Z next day)
    const h = hoursOf({ from: at('2026-03-07T05:00:00Z'), to: at('2026-03-08T05:00:00Z'), label: 'Sat 7 Mar 2026' });
    expect(h).toHaveLength(24);
    expect(h[0]!.label).toBe('2026-03-07 00:00');
    expect(h[23]!.label).toBe('2026-03-07 23:00');
  });

  it('spring forward (Sun 8 Mar 2026) has 23 hours and no 02:00', () => {
    // 00:00 EST = 05:00Z … 01:00 EST = 06:00Z, then 03:00 EDT = 07:00Z … 23:00 EDT = 03:00Z; ends at 00:00 EDT = 04:00Z.
    const period = { from: at('2026-03-08T05:00:00Z'), to: at('2026-03-09T04:00:00Z'), label: 'Sun 8 Mar 2026' };
    const h = hoursOf(period, new Map([[at('2026-03-08T07:00:00Z'), raw({ stall: 1, play: 3 })]]));
    expect(h).toHaveLength(23);
    expect(h.map((x) => x.start)).toEqual(Array.from({ length: 23 }, (_, n) => period.from + n * H));
    expect(h.map((x) => x.label.slice(11, 13))).toEqual([
      '00', '01', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20', '21', '22', '23',
    ]);
    expect(h[0]!.label).toBe('2026-03-08 00:00');
    expect(h[2]).toEqual({ start: at('2026-03-08T07:00:00Z'), label: '2026-03-08 03:00', stallRatio: 0.25, latencyP95Ms: null, packetLoss: null });
    expect(h[22]).toMatchObject({ start: at('2026-03-09T03:00:00Z'), label: '2026-03-08 23:00' });
  });

  it('fall back (Sun 1 Nov 2026) has 25 hours, 01:00 twice', () => {
    // 00:00 EDT = 04:00Z, 01:00 EDT = 05:00Z, 01:00 EST = 06:00Z, 02:00 EST = 07:00Z … 23:00 EST = 04:00Z next day.
    const period = { from: at('2026-11-01T04:00:00Z'), to: at('2026-11-02T05:00:00Z'), label: 'Sun 1 Nov 2026' };
    const h = hoursOf(period);
    expect(h).toHaveLength(25);
    expect(h.slice(0, 4).map((x) => [x.start, x.label])).toEqual([
      [at('2026-11-01T04:00:00Z'), '2026-11-01 00:00'],
      [at('2026-11-01T05:00:00Z'), '2026-11-01 01:00'],
      [at('2026-11-01T06:00:00Z'), '2026-11-01 01:00'],
      [at('2026-11-01T07:00:00Z'), '2026-11-01 02:00'],
    ]);
    expect(h[24]).toMatchObject({ start: at('2026-11-02T04:00:00Z'), label: '2026-11-01 23:00' });
  });

  it('a weekly period has one entry per hour of the seven days', () => {
    // Mon 2 – Sun 8 Mar 2026 in New York: 7 × 24 − 1 = 167 hours.
    const h = hoursOf({ from: at('2026-03-02T05:00:00Z'), to: at('2026-03-09T04:00:00Z'), label: '2 Mar – 8 Mar 2026' });
    expect(h).toHaveLength(167);
    expect(h[0]!.label).toBe('2026-03-02 00:00');
    expect(h[166]!.label).toBe('2026-03-08 23:00');
  });
});

describe('reportThresholds', () => {
  const CTX = { windowMs: 10_000, horizonMs: 300_000 };
  const compile = (text: string): readonly Rule[] => compileRuleFiles([{ path: 't.yaml', text }], CTX).rules;

  it('takes the least severe level of each region-level rule', () => {
    const rules = compile(`rules:
  - id: stall
    description: stall ratio by region
    metric: stall_ratio
    window: 1m
    thresholds: { P0: "> 0.30", P1: "> 0.10" }
  - id: loss
    description: loss by region
    metric: packet_loss
    window: 1m
    group_by: [tenant, region]
    thresholds: { P1: "> 0.04" }
  - id: latency
    description: latency by region
    metric: latency_p95
    window: 1m
    thresholds: { P1: ">= 1500", P2: ">= 900", P3: ">= 700" }
`);
    expect(reportThresholds(rules)).toEqual({ latencyP95Ms: 700, packetLoss: 0.04, stallRatio: 0.1 });
  });

  it('ignores rules grouped by a dimension, filtered rules, rules grouped by tenant only, and other kinds', () => {
    const rules = compile(`rules:
  - id: latency-isp
    description: latency per isp
    metric: latency_p95
    window: 1m
    group_by: [tenant, region, isp]
    thresholds: { P2: ">= 300", P3: ">= 100" }
  - id: stall-android
    description: stall on android only
    metric: stall_ratio
    window: 1m
    filter: { platform: android }
    thresholds: { P2: "> 0.001" }
  - id: loss-tenant
    description: loss over the whole tenant
    metric: packet_loss
    window: 1m
    group_by: [tenant]
    thresholds: { P2: "> 0.003" }
  - id: silent
    kind: absent
    description: silent region
    for: 60s
  - id: latency
    description: latency by region
    metric: latency_p95
    window: 1m
    thresholds: { P1: ">= 3000", P2: ">= 1000" }
`);
    // Only the last rule counts: latency 1000; loss and stall fall back to the defaults.
    expect(reportThresholds(rules)).toEqual({ latencyP95Ms: 1000, packetLoss: DEFAULT_THRESHOLDS.packetLoss, stallRatio: DEFAULT_THRESHOLDS.stallRatio });
  });

  it('falls back to DEFAULT_THRESHOLDS (the shipped P2 levels; no latency target) when no rule watches a metric', () => {
    expect(DEFAULT_THRESHOLDS).toEqual({ latencyP95Ms: null, packetLoss: 0.02, stallRatio: 0.02 });
    expect(reportThresholds([])).toEqual(DEFAULT_THRESHOLDS);
    const startupOnly = compile(`rules:
  - id: startup
    description: startup by region
    metric: startup_p95
    window: 1m
    thresholds: { P1: ">= 5000" }
`);
    expect(reportThresholds(startupOnly)).toEqual(DEFAULT_THRESHOLDS);
  });

  it('a downward rule gives no threshold', () => {
    const rules = compile(`rules:
  - id: weird-latency
    description: latency below a floor
    metric: latency_p95
    window: 1m
    thresholds: { P2: "< 5" }
`);
    expect(reportThresholds(rules)).toEqual(DEFAULT_THRESHOLDS);
  });

  it('the shipped rules give the shipped P2 levels, and no region-wide latency target (latency is judged per delivery class)', () => {
    const text = readFileSync(new URL('../../alert-rules/live-streaming.yaml', import.meta.url), 'utf8');
    expect(reportThresholds(compile(text))).toEqual({ latencyP95Ms: null, packetLoss: 0.02, stallRatio: 0.02 });
  });

  it('with the shipped rules, a region of ordinary HLS (p95 20 s) and little stalling is good, not "over the alert threshold"', () => {
    const text = readFileSync(new URL('../../alert-rules/live-streaming.yaml', import.meta.url), 'utf8');
    const r = assembleQosReport(input({
      thresholds: reportThresholds(compile(text)),
      current: new Map([['eu', raw({ stall: 50, play: 99_950, lost: 0, expected: 1000, latencyP95: 20_000, samples: 1000 })]]),
    }));
    expect(region(r, 'eu')).toMatchObject({ status: 'good', reasons: [] });
  });
});
