import { describe, expect, it } from 'vitest';
import { DIMENSIONS } from '../../src/shared/labels.js';
import { Budgets, type TenantLimits, autoGlobalLimits } from '../../src/telemetry/budgets.js';
import { PIPELINE_DEFAULTS, type PipelineHarness, harnessesClosedAfterEach, parseLine } from '../helpers/pipeline.js';

const T0 = 1_800_000_000_000; // aligned to 10 s
const W = 10_000;
const GRACE = 15_000;
const MIN = 60_000;
const DEFAULT_LIMITS = PIPELINE_DEFAULTS.tenantLimits('');

const harness = harnessesClosedAfterEach(T0);

type Pipeline = ReturnType<PipelineHarness['open']>;
const ingest = (p: Pipeline, tenant: string, samples: Record<string, unknown>[]) => {
  const body = JSON.stringify({ samples });
  return p.ingest(tenant, Buffer.from(body), JSON.parse(body).samples, 'http', undefined);
};
/** Limits for one tenant; every other tenant has the defaults. */
const limitsFor = (tenant: string, own: Partial<TenantLimits>) => (t: string) => (t === tenant ? { ...DEFAULT_LIMITS, ...own } : DEFAULT_LIMITS);
/** The cardinality product: every region × value, the value in every dimension. */
const product = (ts: number, regions: number, values: number, over: Record<string, unknown> = {}) =>
  Array.from({ length: regions * values }, (_, i) => ({
    ts, region: `r-${i % regions}`, dims: Object.fromEntries(DIMENSIONS.map((d) => [d, `${d}-${Math.floor(i / regions)}`])), latency_ms: 100 + i, ...over,
  }));
const seriesOf = (p: Pipeline, tenant: string) => [...p.store.seriesKeys()].filter((k) => k.tenant === tenant);
/** Σ samples of the qos_region points in the spool, per tenant. */
const regionSamples = (h: PipelineHarness) => {
  const out: Record<string, number> = {};
  for (const l of h.spoolLines().map(parseLine)) if (l.measurement === 'qos_region') out[l.tags.tenant!] = (out[l.tags.tenant!] ?? 0) + (l.fields.samples ?? 0);
  return out;
};
/** A labelled value of a metric of the pipeline's registry (collect callbacks run). */
const metricOf = async (h: PipelineHarness, name: string, labels: Record<string, string>) => {
  const m = await h.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
};

describe('Budgets', () => {
  const limits = { series: 3, points: 5, sessions: 2 };

  it('says which series budget is full: the tenant\'s own first, then the global one', () => {
    const b = new Budgets(() => limits, { series: 4, sessions: 100 }, W);
    const a = b.of('a');
    const c = b.of('c');
    for (let i = 0; i < 3; i++) {
      expect(b.seriesFull(a)).toBeUndefined();
      b.seriesAdded(a);
    }
    expect(b.seriesFull(a)).toBe('series');
    expect(b.seriesFull(c)).toBeUndefined();
    b.seriesAdded(c);
    expect(b.seriesFull(c)).toBe('global_series'); // 4 in all
    b.seriesRemoved(a);
    expect(b.seriesFull(a)).toBe('global_series'); // 3 of 4: a holds its share (2 of 2 holders')
    b.seriesRemoved(a);
    expect(b.seriesFull(a)).toBeUndefined();
    expect([b.series, a.series, c.series]).toEqual([2, 1, 1]);
  });

  it('shares the global ceilings fairly: past three quarters of one, a tenant holding its share gets no more, one below it still does', () => {
    const b = new Budgets(() => ({ ...limits, series: 100, sessions: 100 }), { series: 40, sessions: 40 }, W);
    const [big, other, small] = [b.of('big'), b.of('other'), b.of('small')];
    for (let i = 0; i < 25; i++) b.seriesAdded(big);
    for (let i = 0; i < 5; i++) b.seriesAdded(other);
    b.seriesAdded(small);
    // 31 of 40 held (past 30), 3 holders: a share is 13.3
    expect(b.seriesFull(big)).toBe('global_series');
    expect(b.seriesFull(other)).toBeUndefined();
    expect(b.seriesFull(small)).toBeUndefined();
    expect(b.seriesFull(b.of('newcomer'))).toBeUndefined();
    for (let i = 0; i < 9; i++) b.seriesAdded(other);
    expect(b.seriesFull(other)).toBe('global_series'); // 14 ≥ its share
    for (let i = 0; i < 3; i++) b.seriesAdded(small);
    expect(b.seriesFull(small)).toBe('global_series'); // 43 ≥ 40: nobody
    // below the pressure mark the tenant's own budget is the only limit
    for (let i = 0; i < 15; i++) b.seriesRemoved(big);
    expect(b.series).toBe(28);
    expect(b.seriesFull(big)).toBeUndefined();
    // the same rule for live sessions
    for (let i = 0; i < 31; i++) b.sessionAdded(big);
    b.sessionAdded(small);
    expect(b.sessionsFull(big)).toBe('global_sessions');
    expect(b.sessionsFull(small)).toBeUndefined();
  });

  it('counts points per window of arrival: beyond the budget takePoint says no until the next window', () => {
    const b = new Budgets(() => limits, { series: 100, sessions: 100 }, W);
    const a = b.of('a');
    const taken = Array.from({ length: 7 }, () => b.takePoint(a, T0 + 100));
    expect(taken).toEqual([true, true, true, true, true, false, false]);
    expect(b.pointsSpent(a, T0 + 9999)).toBe(true);
    expect(b.nextWindowIn(T0 + 2500)).toBe(7500);
    expect(b.pointsSpent(a, T0 + W)).toBe(false);
    expect(b.takePoint(a, T0 + W)).toBe(true);
    expect(a.points).toBe(1);
  });

  it('takes a tenant\'s changed limits at the next refresh', () => {
    let series = 1;
    const b = new Budgets(() => ({ ...limits, series }), { series: 100, sessions: 100 }, W);
    const a = b.of('a');
    b.seriesAdded(a);
    expect(b.seriesFull(a)).toBe('series');
    series = 10;
    expect(b.seriesFull(a)).toBe('series');
    b.refresh();
    expect(b.seriesFull(a)).toBeUndefined();
  });

  it('sizes the global ceilings from the heap: the Docker image\'s 512 MiB (V8 limit 524 MiB) holds 22 k series and 268 k sessions', () => {
    expect(autoGlobalLimits(524 * 1024 ** 2)).toEqual({ series: 22_357, sessions: 268_288 });
    // an honest large tenant (the memory bench: 10 k series, 100 k sessions) and a hostile one at the default budgets fit
    const defaults = PIPELINE_DEFAULTS.tenantLimits('');
    expect(10_100 + defaults.series).toBeLessThanOrEqual(22_357);
    expect(100_000 + defaults.sessions).toBeLessThanOrEqual(268_288);
  });

  it('bounds live sessions per tenant and in all', () => {
    const b = new Budgets(() => limits, { series: 100, sessions: 3 }, W);
    const [a, c] = [b.of('a'), b.of('c')];
    b.sessionAdded(a);
    b.sessionAdded(a);
    expect(b.sessionsFull(a)).toBe('sessions');
    b.sessionAdded(c);
    expect(b.sessionsFull(c)).toBe('global_sessions');
    b.sessionRemoved(a);
    expect(b.sessionsFull(c)).toBeUndefined();
  });
});

describe('tenant budgets in the pipeline', () => {
  it('the cardinality product of one tenant stays within its series budget, folding into other; nothing is lost, another tenant is untouched', async () => {
    const h = harness();
    const p = h.open({ tenantLimits: limitsFor('evil', { series: 40 }) });
    await ingest(p, 'acme', [{ ts: T0 + 500, region: 'eu', dims: { isp: 'a' }, latency_ms: 90 }, { ts: T0 + 600, region: 'us', dims: { isp: 'b' }, latency_ms: 90 }]);
    // 20 regions × 10 values × 5 dimensions: 1,020 series without a budget
    await ingest(p, 'evil', product(T0 + 1000, 20, 10));
    const evil = seriesOf(p, 'evil');
    expect(evil.length).toBeLessThanOrEqual(41); // its budget, and its region "other"
    expect(evil.some((k) => k.region === 'other' && k.dim === undefined)).toBe(true);
    expect(seriesOf(p, 'acme')).toHaveLength(4);
    // every sample still counts in its region's series or the region "other"
    p.tick(T0 + W + GRACE);
    expect(regionSamples(h)).toEqual({ acme: 2, evil: 200 });
    expect(await metricOf(h, 'qoswatch_tenant_series', { tenant: 'evil' })).toBe(evil.length);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'series', action: 'folded' })).toBeGreaterThan(0);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'acme' })).toBeUndefined();
    expect(await metricOf(h, 'qoswatch_tenant_budget', { tenant: 'evil', budget: 'series' })).toBe(40);
  });

  it('the global ceiling of series holds over many tenants', async () => {
    const h = harness();
    const p = h.open({ globalLimits: { series: 30, sessions: 1000 } });
    for (let t = 0; t < 5; t++) await ingest(p, `t${t}`, product(T0 + 1000, 5, 2));
    // beyond the ceiling each tenant still gets its region "other" (one each)
    expect(p.store.seriesCount).toBeLessThanOrEqual(30 + 5);
    p.tick(T0 + W + GRACE);
    expect(Object.values(regionSamples(h))).toEqual([10, 10, 10, 10, 10]);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 't4', budget: 'global_series', action: 'folded' })).toBeGreaterThan(0);
  });

  it('beyond its points per window, a tenant\'s dimension points fold into its region points, raw points are skipped, and its batches are refused until the window ends', async () => {
    const h = harness(T0 + 2 * 3_600_000);
    const p = h.open({ rawSamples: true, tenantLimits: limitsFor('evil', { points: 50 }) });
    // late samples, each in its own window of the past hour: 6 points each without a budget
    const late = Array.from({ length: 100 }, (_, i) => ({ ts: h.now - 3_600_000 + i * W, region: 'eu', dims: { isp: 'x', cdn: 'y', platform: 'z', country: 'c', sdk: 's' }, latency_ms: 100 }));
    await ingest(p, 'evil', late);
    expect(p.budgetRefusal('acme', 5)).toBeUndefined();
    const refusal = p.budgetRefusal('evil', 5);
    expect(refusal?.message).toMatch(/evil .*budget of 50 points/);
    expect(refusal!.retryAfterMs).toBeGreaterThan(0);
    expect(refusal!.retryAfterMs).toBeLessThanOrEqual(W);
    p.tick(h.now);
    const lines = h.spoolLines().map(parseLine);
    // the region points hold every sample; no more dimension or raw points than the budget left room for
    expect(regionSamples(h)).toEqual({ evil: 100 });
    expect(lines.filter((l) => l.measurement !== 'qos_region').length).toBeLessThanOrEqual(50);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'points', action: 'folded' })).toBeGreaterThan(0);
    const raw = lines.filter((l) => l.measurement === 'qos_sample').length;
    expect(raw).toBeGreaterThan(0);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'points', action: 'raw_skipped' })).toBe(100 - raw);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'points', action: 'refused' })).toBe(5);
    // a new window, a new budget
    h.now += W;
    expect(p.budgetRefusal('evil', 5)).toBeUndefined();
  });

  it('a session claiming a 1 h interval is live for QOSWATCH_MAX_LIVE at most, not 3 hours', async () => {
    const h = harness();
    const p = h.open({ maxLiveMs: 5 * MIN });
    await ingest(p, 'evil', [{ ts: T0, interval_ms: 3_600_000, region: 'eu', session: 's1', play_ms: 1000 }]);
    p.tick(T0 + 4 * MIN);
    expect(p.store.liveness.sessionCount).toBe(1);
    p.tick(T0 + 5 * MIN + 1000);
    expect(p.store.liveness.sessionCount).toBe(0);
  });

  it('live sessions per tenant are bounded: beyond, a session counts in the sums as its own session but not in the viewers', async () => {
    const h = harness();
    const p = h.open({ tenantLimits: limitsFor('evil', { sessions: 10 }) });
    // 50 sessions reporting twice in the window
    const samples = (ts: number) => Array.from({ length: 50 }, (_, i) => ({ ts, region: 'eu', session: `s${i}`, play_ms: 1000 }));
    await ingest(p, 'evil', samples(T0 + 1000));
    await ingest(p, 'evil', samples(T0 + 2000));
    await ingest(p, 'acme', [{ ts: T0 + 1000, region: 'eu', session: 'honest', play_ms: 1000 }]);
    expect(p.store.liveness.sessionCount).toBe(11);
    p.tick(T0 + 5000); // the gauges are sampled into the window holding the tick
    p.tick(T0 + W + GRACE);
    const evil = h.spoolLines().map(parseLine).find((l) => l.tags.tenant === 'evil' && l.fields.samples)!;
    expect(evil.fields.samples).toBe(100);
    expect(evil.fields.sessions).toBe(10 + 2 * 40); // tracked ones once, untracked ones per sample
    expect(evil.fields.viewers).toBe(10);
    expect(await metricOf(h, 'qoswatch_tenant_live_sessions', { tenant: 'evil' })).toBe(10);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'sessions', action: 'untracked' })).toBe(80);
  });

  it('at the global ceiling of live sessions, a tenant below its share takes the place of the oldest session of the tenant holding the most', async () => {
    const h = harness();
    const p = h.open({ globalLimits: { series: 1000, sessions: 20 } });
    const sessions = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ ts: T0 + 1000, region: 'eu', session: `${prefix}${i}`, play_ms: 1000 }));
    await ingest(p, 'evil', sessions('e', 30));
    expect(p.store.liveness.sessionCount).toBe(20);
    await ingest(p, 'acme', sessions('a', 5));
    expect(p.store.liveness.sessionCount).toBe(20);
    expect(await metricOf(h, 'qoswatch_tenant_live_sessions', { tenant: 'acme' })).toBe(5);
    expect(await metricOf(h, 'qoswatch_tenant_live_sessions', { tenant: 'evil' })).toBe(15);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'evil', budget: 'global_sessions', action: 'evicted' })).toBe(5);
    expect(await metricOf(h, 'qoswatch_tenant_budget_exceeded_total', { tenant: 'acme' })).toBeUndefined();
    // the viewers gauge follows: 15 of evil's sessions and acme's 5
    p.tick(T0 + 5000);
    p.tick(T0 + W + GRACE);
    const viewers = Object.fromEntries(h.spoolLines().map(parseLine).filter((l) => l.fields.samples).map((l) => [l.tags.tenant, l.fields.viewers]));
    expect(viewers).toEqual({ evil: 15, acme: 5 });
  });
});
