import { describe, expect, it } from 'vitest';
import { fmtDuration, renderReadinessEmail } from '../../src/events/readiness-email.js';
import type { ReadinessReport } from '../../src/events/readiness-model.js';
import type { RegionFigures } from '../../src/reports/qos-report-model.js';
import { readHtml, readText } from '../helpers/chat-clients.js';

// Sat 5 Dec 2026 20:00 in Asia/Shanghai (UTC+8, no daylight saving time), for 6 h 30 min.
const START = Date.UTC(2026, 11, 5, 12, 0);
const END = Date.UTC(2026, 11, 5, 18, 30);
const HOUR = 3_600_000;
const EVIL = 'cn-<i>&north';
const RED = '#cf222e';

const figures = (latencyP95Ms: number | null, packetLoss: number | null, stallRatio: number | null, peakConcurrency: number | null, samples = 8640): RegionFigures => ({
  latencyP95Ms, packetLoss, stallRatio, peakConcurrency, samples,
});

function report(over: Partial<ReadinessReport> = {}, event: Partial<ReadinessReport['event']> = {}): ReadinessReport {
  return {
    event: {
      id: 7,
      name: 'Double 11 Gala 重大活动保障',
      tenant: { id: 'acme', name: 'Acme & Sons', timezone: 'Asia/Shanghai' },
      regions: ['cn-east', EVIL],
      startsAt: START,
      endsAt: END,
      factor: 0.8,
      rules: [
        {
          id: 'stall-high',
          metric: 'stall_ratio',
          levels: [
            { priority: 'P1', normal: '> 0.05', during: '> 0.04' },
            { priority: 'P2', normal: '> 0.03', during: '> 0.024' },
          ],
        },
      ],
      ...event,
    },
    baselines: [
      { region: 'cn-east', last24h: figures(180.4, 0.0004, 0.002, 12345), last7d: figures(190.6, 0.0005, 0.0021, 11000) },
      { region: EVIL, last24h: figures(1234.4, 0.01234, null, 1_234_567), last7d: figures(null, null, null, null, 0) },
    ],
    onCall: [
      {
        schedule: 'Primary',
        shifts: [
          { person: 'alice', name: 'Alice Wang', email: 'alice@acme.example', from: START, to: START + 4 * HOUR },
          { person: 'bob', name: 'Bob <b>', email: null, from: START + 4 * HOUR, to: END },
        ],
        gaps: [],
      },
      {
        schedule: 'Secondary & NOC',
        shifts: [
          { person: 'carol', name: 'Carol Li', email: 'carol@acme.example', from: START, to: START + 2 * HOUR },
          { person: 'dan', name: 'Dan Zhao', email: 'dan@acme.example', from: START + 3 * HOUR, to: END },
        ],
        gaps: [{ from: START + 2 * HOUR, to: START + 3 * HOUR }],
      },
    ],
    openIncidents: [
      { id: 42, priority: 'P1', region: EVIL, title: 'Stalls <rising> & "more"', state: 'acknowledged', openedAt: Date.UTC(2026, 11, 5, 1, 15) },
    ],
    grafanaUrl: 'https://grafana.example/d/qos?var-region=cn-east&from=1',
    generatedAt: Date.UTC(2026, 11, 5, 2, 0),
    ...over,
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The part of `html` from `start` up to the next `end` after it. */
function section(html: string, start: string, end: string): string {
  const a = html.indexOf(start);
  expect(a, `${start} in the HTML`).toBeGreaterThanOrEqual(0);
  const b = html.indexOf(end, a + start.length);
  return html.slice(a, b < 0 ? undefined : b);
}

/** Each `<tr>` of a table as the (still escaped) text of its cells, tags removed. */
const rows = (table: string): string[][] =>
  table
    .split('<tr>')
    .slice(1)
    .map((r) => [...r.matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()));

describe('renderReadinessEmail', () => {
  const out = renderReadinessEmail(report());

  it('names the event, the tenant and the start in the tenant zone in the subject', () => {
    expect(out.subject).toBe('[qoswatch] Readiness: Double 11 Gala 重大活动保障 — Acme & Sons, starts Sat 5 Dec 20:00 CST');
    const zoned = (timezone: string) => renderReadinessEmail(report({}, { tenant: { id: 'acme', name: 'Acme', timezone } })).subject;
    expect(zoned('Europe/Berlin')).toMatch(/, starts Sat 5 Dec 13:00 CET$/);
    expect(zoned('America/New_York')).toMatch(/, starts Sat 5 Dec 07:00 EST$/);
    expect(zoned('Asia/Kathmandu')).toMatch(/, starts Sat 5 Dec 17:45 UTC\+5:45$/);
    expect(zoned('Not/AZone')).toMatch(/, starts Sat 5 Dec 12:00 UTC$/);
    const injected = renderReadinessEmail(report({}, { name: 'Gala\r\nBcc: someone', tenant: { id: 'x', name: 'X\nY', timezone: 'UTC' } })).subject;
    expect(injected).toBe('[qoswatch] Readiness: Gala Bcc: someone — X Y, starts Sat 5 Dec 12:00 UTC');
  });

  it('summarises the event: name, tenant, regions, window in the tenant zone and duration', () => {
    const summary = rows(section(out.html, '<table role="presentation" cellpadding="0" cellspacing="0" border="0" id="event-summary">', '</table>'));
    expect(summary).toEqual([
      ['Event', 'Double 11 Gala 重大活动保障 (#7)'],
      ['Tenant', 'Acme &#38; Sons'],
      ['Regions', `cn-east, ${esc(EVIL)}`],
      ['Window', 'Sat 5 Dec 2026 20:00 – Sun 6 Dec 02:30 CST (6 h 30 min)'],
      ['Timezone', 'Asia/Shanghai (UTC+08:00)'],
    ]);
    const all = renderReadinessEmail(report({}, { regions: [], endsAt: START + 3 * HOUR + 15 * 60_000 }));
    expect(all.html).toContain('>all regions</td>');
    expect(all.html).toContain('Sat 5 Dec 2026 20:00 – 23:15 CST (3 h 15 min)');
    expect(all.text).toContain('Regions: all regions');
  });

  it('formats durations', () => {
    expect(fmtDuration(45 * 60_000)).toBe('45 min');
    expect(fmtDuration(6 * HOUR)).toBe('6 h');
    expect(fmtDuration(26 * HOUR + 30 * 60_000)).toBe('1 d 2 h 30 min');
    expect(fmtDuration(0)).toBe('0 min');
  });

  it('shows each rule level normal → during the event, and the factor', () => {
    const part = section(out.html, 'Thresholds during the event</h2>', '</table>');
    expect(part).toContain('Thresholds are tightened by factor 0.8 while the event runs');
    expect(rows(part)).toEqual([
      ['Rule', 'Metric', 'Priority', 'Normal', 'During the event'],
      ['stall-high', 'stall_ratio', 'P1', '&#62; 0.05', '&#8594; &#62; 0.04'],
      ['P2', '&#62; 0.03', '&#8594; &#62; 0.024'],
    ]);
    expect(part).toContain('<td rowspan="2"');
    const none = renderReadinessEmail(report({}, { rules: [], factor: 1 }));
    expect(none.html).toContain('Thresholds are not changed while the event runs (factor 1).');
    expect(none.html).toContain("No alert rules apply to the event's regions.");
  });

  it('shows the baselines per region, last 24 h and last 7 days, formatted, with a dash for no data', () => {
    const table = section(out.html, 'id="baselines"', '</table>');
    expect(rows(table)).toEqual([
      ['Region', 'Period', 'Latency p95', 'Packet loss', 'Stall ratio', 'Peak concurrency'],
      ['cn-east', 'Last 24 h', '180 ms', '0.04%', '0.20%', '12,345'],
      ['Last 7 days', '191 ms', '0.05%', '0.21%', '11,000'],
      [esc(EVIL), 'Last 24 h', '1,234 ms', '1.23%', '—', '1,234,567'],
      ['Last 7 days', '—', '—', '—', '—'],
    ]);
    expect(renderReadinessEmail(report({ baselines: [] })).html).toContain("No baseline figures for the event's regions.");
  });

  it('lists who is on call per schedule, with times in the tenant zone, and flags the gaps in red', () => {
    const primary = section(out.html, '<strong>Primary</strong>', '</div>');
    expect(rows(primary)).toEqual([
      ['Alice Wang alice@acme.example', 'Sat 5 Dec 20:00 – Sun 6 Dec 00:00 CST'],
      ['Bob &#60;b&#62;', 'Sun 6 Dec 00:00 – 02:30 CST'],
    ]);
    expect(primary).not.toContain('Nobody on call');
    const secondary = section(out.html, '<strong>Secondary &#38; NOC</strong>', '</div>');
    expect(rows(secondary)).toEqual([
      ['Carol Li carol@acme.example', 'Sat 5 Dec 20:00 – 22:00 CST'],
      ['Dan Zhao dan@acme.example', 'Sat 5 Dec 23:00 – Sun 6 Dec 02:30 CST'],
      ['&#9888; Nobody on call from Sat 5 Dec 22:00 to 23:00 CST'],
    ]);
    const gapCell = /<td[^>]*style="([^"]*)"[^>]*>&#9888; Nobody on call/.exec(secondary);
    expect(gapCell?.[1]).toContain(`color:${RED}`);
    // Summed up at the top as well.
    expect(out.html.indexOf('On-call coverage has 1 gap')).toBeLessThan(out.html.indexOf('Thresholds during the event'));
    expect(out.html).toContain('(Secondary &#38; NOC)');
    const covered = renderReadinessEmail(report({ onCall: [report().onCall[0]!] }));
    expect(covered.html).not.toMatch(/Nobody on call|coverage has/);
    expect(covered.text).not.toMatch(/Nobody on call|WARNING/);
  });

  it('lists the open incidents, or says there are none', () => {
    const list = section(out.html, '<ul id="open-incidents"', '</ul>');
    expect(list.replace(/<[^>]+>/g, '')).toBe(`#42 P1 ${esc(EVIL)} — Stalls &#60;rising&#62; &#38; &#34;more&#34; (acknowledged, opened Sat 5 Dec 09:15 CST)`);
    const tenantWide = renderReadinessEmail(report({ openIncidents: [{ ...report().openIncidents[0]!, region: null }] }));
    expect(tenantWide.text).toContain('#42 P1 no region — Stalls');
    const none = renderReadinessEmail(report({ openIncidents: [] }));
    expect(none.html).toContain('No open incidents.');
    expect(none.html).not.toContain('open-incidents');
    expect(none.text).toMatch(/OPEN INCIDENTS\nNo open incidents\./);
  });

  it('escapes everything that comes from the data', () => {
    expect(out.html).not.toMatch(/<i>|<b>|<rising>|Acme & Sons/);
    expect(out.html).toContain(`<strong>${esc(EVIL)}</strong>`);
    expect(out.html).toContain('<title>[qoswatch] Readiness: Double 11 Gala 重大活动保障 — Acme &#38; Sons, starts Sat 5 Dec 20:00 CST</title>');
    const evil = renderReadinessEmail(report({}, { name: '<script>x</script>', rules: [{ id: 'r"1', metric: "m'1", levels: [{ priority: 'P0', normal: '< 3', during: '< 3.75' }] }] }));
    expect(evil.html).not.toMatch(/<script>|r"1|m'1|< 3/);
    expect(evil.html).toContain('&#60;script&#62;x&#60;/script&#62;');
    expect(evil.html).toContain('&#60; 3.75');
  });

  it('shows region names and incident titles from telemetry as text that mail clients link nothing in, in both parts', () => {
    const region = 'https://evil.com/ack www.evil.com <img src=x onerror=1>';
    const [base] = report().baselines;
    const [inc] = report().openIncidents;
    const m = renderReadinessEmail(report({ baselines: [{ ...base!, region }], openIncidents: [{ ...inc!, region, title: `stall_ratio 3% — ${region}, isp=a@evil.com` }] }, { regions: [region] }));
    for (const [part, reading] of [['html', readHtml(m.html)], ['text', readText(m.text)]] as const) {
      expect(reading.links.filter((u) => !u.startsWith('https://grafana.example/')), part).toEqual([]);
      expect([reading.images, reading.active], part).toEqual([[], []]);
      expect(reading.text, part).toContain(region);
      expect(reading.text, part).toContain('isp=a@evil.com');
    }
  });

  it('links to Grafana only for a web URL', () => {
    expect(out.html).toContain('<a href="https://grafana.example/d/qos?var-region=cn-east&#38;from=1"');
    expect(out.html).toContain('Open in Grafana</a>');
    expect(renderReadinessEmail(report({ grafanaUrl: null })).html).not.toContain('Grafana');
    const js = renderReadinessEmail(report({ grafanaUrl: 'javascript:alert(1)' }));
    expect(js.html).not.toMatch(/javascript:|Grafana/);
    expect(js.text).not.toMatch(/javascript:|Grafana/);
  });

  it('says when it was generated, in the tenant zone', () => {
    expect(out.html).toContain('Generated 2026-12-05 10:00 Asia/Shanghai (UTC+08:00).');
  });

  it('carries the same content in the plain-text part', () => {
    const t = out.text;
    expect(t.split('\n')[0]).toBe('Readiness: Double 11 Gala 重大活动保障 — Acme & Sons, starts Sat 5 Dec 20:00 CST');
    expect(t).toContain('Tenant: Acme & Sons');
    expect(t).toContain(`Regions: cn-east, ${EVIL}`);
    expect(t).toContain('Window: Sat 5 Dec 2026 20:00 – Sun 6 Dec 02:30 CST (6 h 30 min)');
    expect(t).toContain('WARNING: on-call coverage has 1 gap during the event');
    expect(t).toContain('Grafana: https://grafana.example/d/qos?var-region=cn-east&from=1');
    expect(t).toMatch(/THRESHOLDS DURING THE EVENT\nThresholds are tightened by factor 0\.8 while the event runs.*\nstall-high \(stall_ratio\)\n {4}P1: > 0\.05 → > 0\.04\n {4}P2: > 0\.03 → > 0\.024\n/);
    expect(t).toContain('cn-east\n    Last 24 h:   latency p95 180 ms, packet loss 0.04%, stall ratio 0.20%, peak concurrency 12,345\n    Last 7 days: latency p95 191 ms, packet loss 0.05%, stall ratio 0.21%, peak concurrency 11,000');
    expect(t).toContain(`${EVIL}\n    Last 24 h:   latency p95 1,234 ms, packet loss 1.23%, stall ratio —, peak concurrency 1,234,567\n    Last 7 days: latency p95 —, packet loss —, stall ratio —, peak concurrency —`);
    expect(t).toContain('Primary\n    Alice Wang <alice@acme.example>: Sat 5 Dec 20:00 – Sun 6 Dec 00:00 CST\n    Bob <b>: Sun 6 Dec 00:00 – 02:30 CST');
    expect(t).toContain('Secondary & NOC\n    Carol Li <carol@acme.example>: Sat 5 Dec 20:00 – 22:00 CST\n    Dan Zhao <dan@acme.example>: Sat 5 Dec 23:00 – Sun 6 Dec 02:30 CST\n    !! Nobody on call from Sat 5 Dec 22:00 to 23:00 CST');
    expect(t).toContain(`OPEN INCIDENTS\n#42 P1 ${EVIL} — Stalls <rising> & "more" (acknowledged, opened Sat 5 Dec 09:15 CST)`);
    expect(t).toContain('Generated 2026-12-05 10:00 Asia/Shanghai (UTC+08:00).');
    expect(t).not.toMatch(/&#\d+;|<\/(?:td|tr|p|span|strong)>/);
  });
});
