import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { barChartPng, hBarChartPng, hBarChartSize, parseHexColor } from '../../src/reports/png-chart.js';
import { chartedRegions, renderQosReport } from '../../src/reports/qos-report-email.js';
import type { HourFigures, QosReport, RegionFigures, RegionReport, RegionStatus } from '../../src/reports/qos-report-model.js';
import { readHtml, readText } from '../helpers/chat-clients.js';

const FROM = Date.UTC(2026, 10, 30, 23); // 2026-12-01 00:00 Europe/Berlin
const HOUR = 3_600_000;
const GREEN = '#2da44e', AMBER = '#d29922', RED = '#cf222e', NEUTRAL = '#57606a';
const EVIL = 'lab <b>& co';

const figures = (latencyP95Ms: number | null, packetLoss: number | null, stallRatio: number | null, peakConcurrency: number | null): RegionFigures => ({
  latencyP95Ms, packetLoss, stallRatio, peakConcurrency, samples: 8640,
});

/** 24 hours; `stall(h)` gives each hour's stall ratio. */
function hours(stall: (h: number) => number | null): HourFigures[] {
  return Array.from({ length: 24 }, (_, h) => ({
    start: FROM + h * HOUR,
    label: `2026-12-01 ${String(h).padStart(2, '0')}:00`,
    stallRatio: stall(h),
    latencyP95Ms: 200 + h,
    packetLoss: 0.001,
  }));
}

function region(name: string, rank: number, status: RegionStatus, reasons: string[], current: RegionFigures, previous: RegionFigures | null, change: RegionReport['change'], hourly: HourFigures[]): RegionReport {
  const worstHours = [...hourly].filter((h) => h.stallRatio !== null).sort((a, b) => b.stallRatio! - a.stallRatio!).slice(0, 3);
  return { region: name, rank, status, reasons, current, previous, change, hourly, worstHours, incidents: { P0: 0, P1: status === 'attention' ? 1 : 0, P2: 0, P3: 1 } };
}

const NO_CHANGE = { latencyP95Ms: null, packetLoss: null, stallRatio: null, peakConcurrency: null };

const REGIONS: RegionReport[] = [
  region('us-east', 1, 'good', [], figures(180.4, 0.0004, 0.002, 12345), figures(190, 0.0005, 0.0021, 11000), { latencyP95Ms: -0.05, packetLoss: -0.2, stallRatio: -0.047619, peakConcurrency: 0.1223 }, hours(() => 0.002)),
  // No data a week earlier: every change is null.
  region('eu-west', 2, 'watch', ['Stall ratio 1.20% is above the 1.00% watch level.'], figures(240, 0.002, 0.012, 9876), null, NO_CHANGE, hours((h) => (h === 3 ? null : 0.01 + (h % 5) * 0.001))),
  region(EVIL, 3, 'attention', ['Latency p95 <900 ms> & rising.'], figures(910, 0.004, 0.021, 2500), figures(700, 0.004, 0.02, 2600), { latencyP95Ms: 0.3, packetLoss: 0, stallRatio: 0.05, peakConcurrency: -0.0385 }, hours(() => 0.021)),
  region('ap-south', 4, 'attention', ['Stall ratio 4.10% is above the 3.00% attention level.', 'Packet loss doubled week over week.'], figures(1234.4, 0.01234, 0.041, 1_234_567), figures(987.5, 0.006, 0.0456, 1_100_000), { latencyP95Ms: 0.25, packetLoss: 1.0567, stallRatio: -0.1, peakConcurrency: 0.1223 }, hours((h) => (h === 20 ? 0.08 : h === 21 ? 0.06 : h === 19 ? 0.05 : 0.03))),
];

function report(over: Partial<QosReport> = {}): QosReport {
  return {
    kind: 'daily',
    tenant: { id: 'acme', name: 'Acme & Sons', timezone: 'Europe/Berlin', tier: 'gold' },
    period: { from: FROM, to: FROM + 24 * HOUR, label: 'Tue 1 Dec 2026' },
    regions: REGIONS,
    needsAttention: [
      { region: 'ap-south', reasons: REGIONS[3]!.reasons },
      { region: EVIL, reasons: REGIONS[2]!.reasons },
      { region: 'eu-west', reasons: REGIONS[1]!.reasons },
    ],
    incidents: { total: 5, byPriority: { P0: 0, P1: 2, P2: 0, P3: 3 } },
    sla: {
      tickets: 7,
      targets: [
        { target: 'response', met: 5, missed: 1, breached: 1, meanMs: 750_000 },
        { target: 'resolve', met: 3, missed: 0, breached: 2, meanMs: null },
      ],
    },
    grafanaUrl: 'https://grafana.example/d/qos?var-tenant=acme&from=1',
    generatedAt: Date.UTC(2026, 11, 2, 6, 0),
    ...over,
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** RGB of pixel (x, y) as "#rrggbb". */
function pixel(png: PNG, x: number, y: number): string {
  expect(x >= 0 && x < png.width && y >= 0 && y < png.height, `(${x},${y}) inside ${png.width}×${png.height}`).toBe(true);
  const i = (y * png.width + x) * 4;
  return `#${[png.data[i]!, png.data[i + 1]!, png.data[i + 2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
const row = (png: PNG, y: number) => Array.from({ length: png.width }, (_, x) => pixel(png, x, y));
const column = (png: PNG, x: number, y0 = 0, y1 = png.height) => Array.from({ length: y1 - y0 }, (_, i) => pixel(png, x, y0 + i));

/** The part of `html` from `start` up to the next `end` after it. */
function section(html: string, start: string, end: string): string {
  const a = html.indexOf(start);
  expect(a, `${start} in the HTML`).toBeGreaterThanOrEqual(0);
  const b = html.indexOf(end, a + start.length);
  return html.slice(a, b < 0 ? undefined : b);
}

describe('barChartPng', () => {
  // 4 bars in 40 px: 10 px slots with a 2 px gap, so bar i covers columns 10i+1 … 10i+8; the plot is rows 0..19, baseline row 20.
  const bars = [
    { value: 10, color: '#ff0000' },
    { value: null, color: '#00ff00' },
    { value: 5, color: '#0000ff' },
    { value: 0, color: '#ff00ff' },
  ];
  const png = PNG.sync.read(barChartPng(bars, { width: 40, height: 21, max: 10, threshold: { value: 7.5, color: '#000000' } }));

  it('has the declared size and a white background with a light baseline at the bottom', () => {
    expect([png.width, png.height]).toEqual([40, 21]);
    expect(pixel(png, 0, 0)).toBe('#ffffff');
    expect(new Set(row(png, 20))).toEqual(new Set(['#d0d7de']));
  });

  it('draws a bar at max from the baseline to the top row, in its colour', () => {
    expect(new Set(column(png, 1, 6, 20))).toEqual(new Set(['#ff0000'])); // row 5 carries the threshold dashes
    expect(new Set(column(png, 6, 0, 20))).toEqual(new Set(['#ff0000'])); // column 6 falls between two dashes
    expect(pixel(png, 0, 10)).toBe('#ffffff'); // the gap before it
    expect(pixel(png, 9, 10)).toBe('#ffffff'); // and after it
  });

  it('draws half of max as half the plot height', () => {
    expect(new Set(column(png, 25, 10, 20))).toEqual(new Set(['#0000ff']));
    expect(pixel(png, 25, 9)).toBe('#ffffff');
  });

  it('draws a null as a short grey stub, never in the bar colour, and a zero as nothing', () => {
    expect(column(png, 15, 0, 20)).toEqual([...Array(18).fill('#ffffff'), '#afb8c1', '#afb8c1']);
    const all = Array.from({ length: png.height }, (_, y) => row(png, y)).flat();
    expect(all).not.toContain('#00ff00');
    expect(all).not.toContain('#ff00ff');
    expect(new Set(column(png, 35, 6, 20))).toEqual(new Set(['#ffffff']));
  });

  it('draws the threshold as a dashed line on the row where a bar of that value would end, over the bars', () => {
    // 7.5 / 10 of 20 rows = 15 rows tall, so its top is row 20 − 15 = 5.
    const line = row(png, 5);
    expect(line.slice(0, 12)).toEqual(['#000000', '#000000', '#000000', '#000000', '#ff0000', '#ff0000', '#ff0000', '#ff0000', '#000000', '#000000', '#000000', '#000000']);
    expect(line.slice(12, 16)).toEqual(Array(4).fill('#ffffff')); // an off-dash over the empty null slot
    for (const y of [4, 6]) expect(row(png, y)).not.toContain('#000000');
  });

  it('scales to the largest value by default, clamps values above max, and is deterministic', () => {
    const auto = PNG.sync.read(barChartPng([{ value: 2, color: '#ff0000' }, { value: 1, color: '#0000ff' }], { width: 20, height: 11 }));
    expect(pixel(auto, 5, 0)).toBe('#ff0000');
    expect(pixel(auto, 15, 4)).toBe('#ffffff');
    expect(pixel(auto, 15, 5)).toBe('#0000ff');
    const over = PNG.sync.read(barChartPng([{ value: 50, color: '#ff0000' }], { width: 10, height: 11, max: 1 }));
    expect(pixel(over, 5, 0)).toBe('#ff0000');
    const args = [bars, { width: 40, height: 21, max: 10 }] as const;
    expect(barChartPng(...args).equals(barChartPng(...args))).toBe(true);
  });

  it('refuses a bad colour or size', () => {
    expect(() => barChartPng([{ value: 1, color: 'red' }], { width: 10, height: 10 })).toThrow(/hex colour/);
    expect(() => barChartPng([], { width: 0, height: 10 })).toThrow(RangeError);
    expect(parseHexColor('#0aF')).toEqual([0x00, 0xaa, 0xff]);
  });
});

describe('hBarChartPng', () => {
  // Rows of 10 px with 4 px bars centred (rows 3..6 of each); plot columns 1..49, baseline column 0.
  const opts = { width: 50, rowHeight: 10, barHeight: 4, max: 1, threshold: { value: 0.6, color: '#000000' } };
  const bars = [{ value: 1, color: '#ff0000' }, { value: null, color: '#00ff00' }, { value: 0.4, color: '#0000ff' }];
  const png = PNG.sync.read(hBarChartPng(bars, opts));

  it('is rows × rowHeight tall', () => {
    expect(hBarChartSize(3, opts)).toEqual({ width: 50, height: 30 });
    expect([png.width, png.height]).toEqual([50, 30]);
  });

  it('draws each bar in its row, as long as its value', () => {
    expect(new Set(row(png, 4).slice(1, 29))).toEqual(new Set(['#ff0000'])); // max reaches the right edge…
    expect(pixel(png, 49, 4)).toBe('#ff0000');
    expect(pixel(png, 10, 2)).toBe('#ffffff'); // …inside its row only
    expect(pixel(png, 10, 7)).toBe('#ffffff');
    expect(pixel(png, 20, 24)).toBe('#0000ff'); // 0.4 × 49 ≈ 20 columns
    expect(pixel(png, 21, 24)).toBe('#ffffff');
    expect(row(png, 14).slice(0, 4)).toEqual(['#d0d7de', '#afb8c1', '#afb8c1', '#ffffff']); // null: a grey stub
    expect(new Set(column(png, 0))).toEqual(new Set(['#d0d7de']));
  });

  it('draws the threshold as a dashed vertical line', () => {
    // 0.6 × 49 ≈ 29.
    // Dashes on rows 0..3 and 8..11; between them the first bar (rows 3..6) shows through.
    expect(column(png, 29, 0, 12)).toEqual([...Array(4).fill('#000000'), '#ff0000', '#ff0000', '#ff0000', '#ffffff', ...Array(4).fill('#000000')]);
    expect(column(png, 28)).not.toContain('#000000');
  });
});

describe('renderQosReport', () => {
  const out = renderQosReport(report());
  const decoded = new Map(out.attachments.map((a) => [a.cid, PNG.sync.read(a.content)]));

  it('says what, who and when in the subject', () => {
    expect(out.subject).toBe('[qoswatch] Daily QoS report — Acme & Sons — Tue 1 Dec 2026');
    expect(renderQosReport(report({ kind: 'weekly', period: { from: FROM, to: FROM + 7 * 24 * HOUR, label: 'week of 30 Nov 2026' } })).subject).toBe(
      '[qoswatch] Weekly QoS report — Acme & Sons — week of 30 Nov 2026',
    );
    expect(renderQosReport(report({ tenant: { id: 'x', name: 'Evil\r\nBcc: someone', timezone: 'UTC', tier: 'gold' } })).subject).not.toMatch(/[\r\n]/);
  });

  it('references every attachment exactly once by cid, with the size of the PNG it carries', () => {
    const imgs = [...out.html.matchAll(/<img src="cid:([^"]+)" width="(\d+)" height="(\d+)" alt="([^"]+)"/g)];
    const cids = imgs.map((m) => m[1]!);
    expect([...out.html.matchAll(/cid:/g)].length).toBe(imgs.length);
    expect(new Set(cids).size).toBe(cids.length);
    expect([...cids].sort()).toEqual(out.attachments.map((a) => a.cid).sort());
    // The ranking chart, and an hourly chart for each of the three regions that are not good.
    expect(out.attachments).toHaveLength(4);
    for (const m of imgs) {
      const png = decoded.get(m[1]!)!;
      expect([png.width, png.height]).toEqual([Number(m[2]), Number(m[3])]);
      expect(m[4]!.length).toBeGreaterThan(10);
    }
    for (const a of out.attachments) {
      expect(a.contentType).toBe('image/png');
      expect(a.filename).toMatch(/^[\w.-]+\.png$/);
    }
  });

  it('ranks best to worst in the table and in the ranking chart, by rank', () => {
    const table = section(out.html, 'Ranking, best to worst', '<h2');
    const at = ['us-east', 'eu-west', esc(EVIL), 'ap-south'].map((n) => table.indexOf(`<strong>${n}</strong>`));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // The array order does not matter, the rank does.
    expect(renderQosReport(report({ regions: [...REGIONS].reverse() })).html).toBe(out.html);
    // Ranking chart: row i (22 px each) is region rank i + 1, in its status colour.
    const chart = decoded.get(out.attachments.find((a) => a.filename === 'stall-ranking.png')!.cid)!;
    expect([0, 1, 2, 3].map((i) => pixel(chart, 1, i * 22 + 11))).toEqual([GREEN, AMBER, RED, RED]);
  });

  it('draws hourly charts for the regions that are not good, worst first, with the worst hours highlighted', () => {
    const hourly = out.attachments.filter((a) => a.filename.startsWith('stall-hourly-'));
    expect(hourly.map((a) => a.filename)).toEqual(['stall-hourly-1-ap-south.png', 'stall-hourly-2-lab__b___co.png', 'stall-hourly-3-eu-west.png']);
    const png = decoded.get(hourly[0]!.cid)!;
    // ap-south: hour 20 (8.00%) is the top of a 0..10% scale; the worst-hour colour sits in its slot, not in hour 0's.
    const slotX = (h: number) => Math.floor(((h + 0.5) * png.width) / 24);
    const bottom = png.height - 2;
    expect(pixel(png, slotX(20), bottom)).toBe('#bc4c00');
    expect(pixel(png, slotX(0), bottom)).toBe('#54aeff');
    expect(pixel(png, slotX(20), Math.round(0.2 * (png.height - 1)) + 1)).toBe('#bc4c00');
    expect(pixel(png, slotX(20), Math.round(0.2 * (png.height - 1)) - 2)).toBe('#ffffff');
    expect(out.html).toContain('bar height: 0 to 10.00%');
  });

  it('picks up to 5 regions that are not good for hourly charts, or the worst 3 when all are good', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ ...REGIONS[3]!, region: `r${i}`, rank: i + 1 }));
    expect(chartedRegions(report({ regions: many })).map((r) => r.region)).toEqual(['r6', 'r5', 'r4', 'r3', 'r2']);
    const good = REGIONS.map((r) => ({ ...r, status: 'good' as const, reasons: [] }));
    const allGood = renderQosReport(report({ regions: good, needsAttention: [] }));
    expect(chartedRegions(report({ regions: good })).map((r) => r.rank)).toEqual([4, 3, 2]);
    expect(allGood.attachments).toHaveLength(4);
    expect(allGood.html).toContain('All 4 regions are fine.');
    expect(allGood.html).not.toContain('Needs attention');
    expect(allGood.text).toContain('All 4 regions are fine.');
  });

  it('lists the regions that need attention first, worst first, with their reasons', () => {
    const list = section(out.html, '<ul id="needs-attention"', '</ul>');
    const at = ['ap-south', esc(EVIL), 'eu-west'].map((n) => list.indexOf(`<strong>${n}</strong>`));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(list).toContain('Packet loss doubled week over week.');
    expect(list).toContain('Latency p95 &#60;900 ms&#62; &#38; rising.');
    expect(list).not.toContain('us-east');
    expect(out.html.indexOf('Needs attention')).toBeLessThan(out.html.indexOf('Ranking, best to worst'));
  });

  it('shows week-over-week changes: an increase in latency is red, a decrease in stall ratio green, concurrency neutral, none a dash', () => {
    const table = section(out.html, 'Ranking, best to worst', '<h2');
    const rowOf = (name: string) => table.split('<tr>').find((r) => r.includes(`<strong>${name}</strong>`))!;
    const change = (r: string, text: string) => new RegExp(`<span style="color:(#[0-9a-f]{6})[^"]*">${text}</span>`).exec(r)?.[1];
    const ap = rowOf('ap-south');
    expect(ap).toContain('1,234 ms');
    expect(change(ap, '▲ 25.00%')).toBe(RED); // latency up: worse
    expect(change(ap, '▲ 105.67%')).toBe(RED); // loss up: worse
    expect(change(ap, '▼ 10.00%')).toBe(GREEN); // stall down: better
    expect(change(ap, '▲ 12.23%')).toBe(NEUTRAL); // concurrency: neither
    expect(ap).toContain('1,234,567');
    expect(change(rowOf('us-east'), '▼ 5.00%')).toBe(GREEN);
    expect(change(rowOf(esc(EVIL)), '0.00%')).toBe(NEUTRAL);
    const eu = rowOf('eu-west'); // no previous period
    expect(eu.match(/>—<\/span>/g)).toHaveLength(4);
    expect(eu).not.toMatch(/[▲▼]/);
    expect(ap).toContain(`color:${RED};font-weight:bold;white-space:nowrap">&#9679; Attention`);
    expect(eu).toContain(`color:${AMBER};font-weight:bold;white-space:nowrap">&#9679; Watch`);
  });

  it('escapes names and reasons from the data everywhere in the HTML', () => {
    expect(out.html).not.toContain('<b>');
    expect(out.html).not.toContain('Acme & Sons');
    expect(out.html).toContain('Acme &#38; Sons');
    expect(out.html).toContain(`<strong>3. ${esc(EVIL)}</strong>`);
    expect(out.html).toContain(`alt="Hourly stall ratio for ${esc(EVIL)},`);
    expect(out.html).toContain('href="https://grafana.example/d/qos?var-tenant=acme&#38;from=1"');
    expect(renderQosReport(report({ grafanaUrl: null })).html).not.toContain('Grafana');
    expect(renderQosReport(report({ grafanaUrl: 'javascript:alert(1)' })).html).not.toContain('javascript:');
  });

  it('shows region names from telemetry as text that mail clients link nothing in, in both parts', () => {
    const name = 'https://evil.com/ack www.evil.com a@evil.com <img src=x onerror=1>';
    const regions = REGIONS.map((r) => (r.region === EVIL ? { ...r, region: name } : r));
    const m = renderQosReport(report({ regions, needsAttention: report().needsAttention.map((n) => (n.region === EVIL ? { ...n, region: name } : n)) }));
    for (const [part, reading] of [['html', readHtml(m.html)], ['text', readText(m.text)]] as const) {
      expect(reading.links.filter((u) => !u.startsWith('https://grafana.example/')), part).toEqual([]);
      expect(reading.images.filter((u) => !u.startsWith('cid:')), part).toEqual([]);
      expect(reading.active, part).toEqual([]);
      expect(reading.text, part).toContain(name);
    }
  });

  it('shows incidents, SLA outcomes, worst hours and the method, with the time in the tenant zone', () => {
    const incidents = section(out.html, 'Incidents</h2>', '</table>');
    expect(incidents.match(/<td[^>]*>(?:<strong>)?(\d+)/g)!.map((c) => c.replace(/<[^>]+>/g, ''))).toEqual(['0', '2', '0', '3', '5']);
    const sla = section(out.html, 'SLA</h2>', '</table>');
    expect(sla).toContain('Tickets: 7');
    expect(sla).toMatch(/Response<\/td>.*>5<\/td>.*>1<\/td>.*>1<\/td>.*>12\.5 min<\/td>/);
    expect(sla).toMatch(/Resolve<\/td>.*>3<\/td>.*>0<\/td>.*>2<\/td>.*>—<\/td>/);
    expect(out.html).toContain('2026-12-01 20:00</td><td align="right" style="padding:6px 8px;border-bottom:1px solid #d0d7de;font-size:13px;color:#24292f;vertical-align:top">8.00%');
    expect(out.html).toContain('latency p95: 95th percentile of the 10-second window p95s; loss and stall ratio: ratios of sums over the period');
    expect(out.html).toContain('Generated 2026-12-02 07:00 Europe/Berlin (UTC+01:00).');
  });

  it('renders a week of hourly bars, and a report with no regions', () => {
    const week = Array.from({ length: 168 }, (_, h) => ({ start: FROM + h * HOUR, label: `h${h}`, stallRatio: h === 100 ? 0.2 : 0.01, latencyP95Ms: 200, packetLoss: 0 }));
    const weekly = renderQosReport(report({ kind: 'weekly', regions: [{ ...REGIONS[3]!, hourly: week, worstHours: [week[100]!] }], needsAttention: [] }));
    const chart = weekly.attachments.find((a) => a.filename.startsWith('stall-hourly-'))!;
    const png = PNG.sync.read(chart.content);
    expect([png.width, png.height]).toEqual([560, 90]);
    expect(pixel(png, Math.floor((100.5 * 560) / 168), 0)).toBe('#bc4c00'); // 20% on a 0..20% scale
    const empty = renderQosReport(report({ regions: [], needsAttention: [] }));
    expect(empty.attachments).toEqual([]);
    expect(empty.html).not.toContain('cid:');
    expect(empty.html).toContain('No region reported data in this period.');
  });

  it('carries the same figures in the plain-text part', () => {
    const t = out.text;
    expect(t.split('\n')[0]).toBe('Daily QoS report — Acme & Sons — Tue 1 Dec 2026');
    expect(t).toMatch(/NEEDS ATTENTION\n- ap-south \(Attention\)\n {4}Stall ratio 4\.10% is above/);
    expect(t).toContain(`- ${EVIL} (Attention)`);
    expect(t).toContain('4. ap-south — Attention');
    expect(t).toMatch(/Latency p95: +1,234 ms {2}\(▲ 25\.00%\)/);
    expect(t).toMatch(/Packet loss: +1\.23% {2}\(▲ 105\.67%\)/);
    expect(t).toMatch(/Stall ratio: +4\.10% {2}\(▼ 10\.00%\)/);
    expect(t).toMatch(/Peak concurrency: +1,234,567 {2}\(▲ 12\.23%\)/);
    expect(t).toMatch(/2\. eu-west — Watch\n {4}Latency p95: +240 ms {2}\(—\)/);
    expect(t).toContain('worst hour 2026-12-01 20:00: stall 8.00%, latency p95 220 ms, loss 0.10%');
    expect(t).toContain('P0 0 · P1 2 · P2 0 · P3 3 · total 5');
    expect(t).toContain('Response: met 5, missed 1, breached 1, mean 12.5 min');
    expect(t).toContain('Grafana: https://grafana.example/d/qos?var-tenant=acme&from=1');
    expect(t).toContain('ratios of sums over the period');
    expect(t).toContain('Generated 2026-12-02 07:00 Europe/Berlin (UTC+01:00).');
    expect(t).not.toMatch(/&#\d+;|<\/(?:td|tr|p|span|strong)>/);
  });
});
