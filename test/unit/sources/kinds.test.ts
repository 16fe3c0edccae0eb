import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KINDS } from '../../../src/sources/registry.js';
import { LIMITS, mapAlert, mappingSchema } from '../../../src/sources/model.js';
import { parsePath, readPath } from '../../../src/sources/kinds/webhook/path.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(`test/fixtures/sources/${name}`, 'utf8'));
const parse = (kind: keyof typeof KINDS, body: unknown, settings: Record<string, unknown> = {}) => {
  const k = KINDS[kind];
  return k.parse!(k.payload!.parse(body), k.config.parse(settings));
};
const mapping = (over: Record<string, unknown> = {}) => mappingSchema.parse(over);

describe('alert source kinds', () => {
  it("reads Alertmanager's webhook payload: fingerprint, summary, severity, runbook, link", () => {
    const [origin, encoder] = parse('alertmanager', fixture('alertmanager-firing.json'));
    expect(origin).toEqual({
      fingerprint: '5f3d4c1a2b9e8d7c', action: 'trigger', summary: 'Origin origin-1 is down', severity: 'critical',
      labels: { alertname: 'OriginDown', instance: 'origin-1:9100', job: 'origin', region: 'eu-west', severity: 'critical' },
      url: 'http://prometheus.example.test:9090/graph?g0.expr=up%7Bjob%3D%22origin%22%7D+%3D%3D+0', runbook: 'https://runbooks.example.test/origin-down',
    });
    expect(encoder).toMatchObject({ fingerprint: '9a8b7c6d5e4f3a2b', summary: 'Encoder enc-2 is 4 s behind live', severity: 'warning' });
    expect(parse('alertmanager', fixture('alertmanager-resolved.json')).map((a) => a.action)).toEqual(['resolve', 'resolve']);
  });

  it('an Alertmanager alert without a fingerprint is identified by its sorted labels; without a summary, by its name', () => {
    const [a] = parse('alertmanager', { alerts: [{ status: 'firing', labels: { job: 'x', alertname: 'Down' } }] });
    expect(a).toMatchObject({ fingerprint: 'alertname=Down,job=x', summary: 'Down' });
  });

  it('refuses malformed payloads naming the field, and more alerts than the limit', () => {
    const k = KINDS.alertmanager.payload!;
    const r = k.safeParse({ alerts: [{ status: 'burning', labels: {} }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues[0]!.path)).toBe('["alerts",0,"status"]');
    const many = { alerts: Array.from({ length: LIMITS.alerts + 1 }, () => ({ status: 'firing', labels: { a: 'b' } })) };
    expect(k.safeParse(many).success).toBe(false);
  });

  it('bounds what a source says: label count and sizes, summary length', () => {
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${i}`, 'v'.repeat(5000)]));
    const [a] = parse('alertmanager', { alerts: [{ status: 'firing', labels, annotations: { summary: 's'.repeat(10_000) }, fingerprint: 'f' }] });
    expect(Object.keys(a!.labels)).toHaveLength(LIMITS.labels);
    expect(a!.labels.l0).toHaveLength(LIMITS.labelValue);
    expect(a!.summary).toHaveLength(LIMITS.summary);
    expect(a!.summary.endsWith('…')).toBe(true);
  });

  it("reads Grafana's webhook contact point, linking the panel", () => {
    const [a] = parse('grafana', fixture('grafana-firing.json'));
    expect(a).toMatchObject({ fingerprint: 'c6eadffa33fcdf37', action: 'trigger', summary: 'cdn-a answers 7% 5xx in ap-south', severity: 'error', url: 'https://grafana.example.test/d/cdn?viewPanel=4' });
    expect(a!.labels).toMatchObject({ cdn: 'cdn-a', region: 'ap-south' });
  });

  it('reads PagerDuty Events v2: trigger (a dedup_key made when missing), acknowledge, resolve; labels from the payload and custom_details', () => {
    const trigger = { routing_key: 'k', event_action: 'trigger', dedup_key: 'disk-1', payload: { summary: 'Disk full on edge-9', source: 'edge-9', severity: 'critical', component: 'disk', custom_details: { region: 'us-east', free_bytes: 0, nested: { a: 1 } } }, client_url: 'https://mon.example.test/edge-9' };
    expect(parse('pagerduty', trigger)).toEqual([{
      fingerprint: 'disk-1', action: 'trigger', summary: 'Disk full on edge-9', severity: 'critical', url: 'https://mon.example.test/edge-9',
      labels: { region: 'us-east', free_bytes: '0', source: 'edge-9', component: 'disk' },
    }]);
    const [made] = parse('pagerduty', { ...trigger, dedup_key: undefined });
    expect(made!.fingerprint).toMatch(/^[0-9a-f-]{36}$/);
    expect(parse('pagerduty', { routing_key: 'k', event_action: 'acknowledge', dedup_key: 'disk-1' })[0]).toMatchObject({ action: 'acknowledge', fingerprint: 'disk-1' });
    const bad = KINDS.pagerduty.payload!.safeParse({ routing_key: 'k', event_action: 'resolve' });
    expect(bad.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['dedup_key', 'resolve needs the dedup_key of the alert']]);
    expect(KINDS.pagerduty.payload!.safeParse({ routing_key: 'k', event_action: 'trigger' }).error!.issues[0]!.path).toEqual(['payload']);
  });

  it('the generic webhook reads the fields its mapping names', () => {
    const settings = { alerts: 'events', fingerprint: 'id', status: 'state', summary: 'text', severity: 'meta.level', url: 'links[0]', labels: { region: 'meta["data center"]', host: 'meta.host' } };
    const body = { events: [
      { id: 7, state: 'PROBLEM', text: 'packager stuck', meta: { level: 'critical', 'data center': 'eu-west', host: 'pkg-1' }, links: ['https://x.test/7'] },
      { id: 'b', state: 'OK', meta: {} },
    ] };
    expect(parse('webhook', body, settings)).toEqual([
      { fingerprint: '7', action: 'trigger', summary: 'packager stuck', severity: 'critical', url: 'https://x.test/7', labels: { region: 'eu-west', host: 'pkg-1' } },
      { fingerprint: 'b', action: 'resolve', summary: 'b', labels: {} },
    ]);
    expect(() => parse('webhook', { events: [{ state: 'firing' }] }, settings)).toThrow('events[0].id: the fingerprint is missing');
    expect(() => parse('webhook', { events: [{ id: 1, state: 'sleepy' }] }, settings)).toThrow('events[0].state: "sleepy" is none of firing');
    expect(() => parse('webhook', { events: {} }, settings)).toThrow('events: not an array of alerts');
    expect(KINDS.webhook.config.safeParse({ fingerprint: 'a..b' }).success).toBe(false);
  });

  it('field paths: names, indexes and quoted names; nothing else, and never the prototype', () => {
    expect(parsePath('a.b[2]["c d"]')).toEqual(['a', 'b', 2, 'c d']);
    expect(parsePath('$.a')).toEqual(['a']);
    for (const bad of ['a..b', '.a', 'a[x]', 'a[0', 'a; process.exit()']) expect(parsePath(bad)).toBeUndefined();
    expect(readPath({ a: [{ b: 1 }] }, ['a', 0, 'b'])).toBe(1);
    expect(readPath({}, ['__proto__'])).toBeUndefined();
    expect(readPath({ a: 'str' }, ['a', 'length'])).toBeUndefined();
    expect(readPath({ a: { 0: 'x' } }, ['a', 0])).toBeUndefined();
  });

  it('heartbeat settings: durations between 1s and 30d', () => {
    expect(KINDS.heartbeat.config.parse({ period: '5m' })).toEqual({ period: '5m', grace: '1m' });
    expect(KINDS.heartbeat.config.safeParse({ period: '500ms' }).success).toBe(false);
    expect(KINDS.heartbeat.config.safeParse({ period: '31d' }).success).toBe(false);
  });
});

describe('mapping an alert to a tenant, region and priority', () => {
  const alert = (labels: Record<string, string>, severity?: string) => ({ fingerprint: 'f', action: 'trigger' as const, labels, summary: 's', ...(severity && { severity }) });

  it('labels name them; else the severity; else the defaults', () => {
    expect(mapAlert(alert({ tenant: 'acme', region: 'eu', priority: 'p0' }), mapping(), 'default')).toEqual({ tenant: 'acme', region: 'eu', priority: 'P0' });
    expect(mapAlert(alert({ severity: 'CRITICAL' }), mapping(), 'default')).toEqual({ tenant: 'default', region: undefined, priority: 'P1' });
    expect(mapAlert(alert({}, 'warning'), mapping(), 'default').priority).toBe('P3');
    expect(mapAlert(alert({ priority: 'urgent' }), mapping({ priority: 'P1', tenant: 'acme', region: 'us' }), 'default')).toEqual({ tenant: 'acme', region: 'us', priority: 'P1' });
  });

  it('label names and severities are configurable', () => {
    const m = mapping({ labels: { tenant: 'customer', region: 'dc', priority: 'prio', severity: 'level' }, severities: { page: 'P0' } });
    expect(mapAlert(alert({ customer: 'acme', dc: 'fra', level: 'page' }), m, 'default')).toEqual({ tenant: 'acme', region: 'fra', priority: 'P0' });
  });

  it('the first matching route of the table wins over labels', () => {
    const m = mapping({ routes: [{ match: { job: ['origin', 'packager'], env: 'prod' }, tenant: 'acme', priority: 'P0' }, { match: { job: 'origin' }, priority: 'P2' }] });
    expect(mapAlert(alert({ job: 'origin', env: 'prod', tenant: 'other' }), m, 'default')).toEqual({ tenant: 'acme', region: undefined, priority: 'P0' });
    expect(mapAlert(alert({ job: 'origin', env: 'dev', severity: 'critical' }), m, 'default')).toMatchObject({ tenant: 'default', priority: 'P2' });
    expect(mapAlert(alert({ job: 'cdn', severity: 'critical' }), m, 'default').priority).toBe('P1');
  });
});
