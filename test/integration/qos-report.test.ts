import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { api } from '../helpers/alerting.js';
import { ADMIN_TOKEN, startApp } from '../helpers/app.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from '../helpers/influxd.js';
import { useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

const DB = 'reports';
const ns = (iso: string) => `${BigInt(Date.parse(iso)) * 1_000_000n}`;
const region = (r: string, iso: string, f: { stall: number; play: number; lost: number; expected: number; p95: number; conc: number; samples: number }) =>
  `qos_region,region=${r},tenant=acme stall_ms=${f.stall},play_ms=${f.play},packets_lost=${f.lost},packets_expected=${f.expected},latency_p95=${f.p95},concurrency=${f.conc}i,samples=${f.samples}i ${ns(iso)}`;

/**
 * Tenant acme in Asia/Shanghai gets its daily report at 08:00. The run due 2026-11-24 08:00 +08:00 covers
 * 2026-11-23 00:00–24:00 +08:00 = 2026-11-22T16:00Z–2026-11-23T16:00Z.
 */
const FIXTURE = [
  // cn-east, in the period: 10:00 and 20:00 local. Σstall 10 000 / Σ(play + stall) 200 000 = 5 % (the windows' own
  // ratios are 1 % and 9 %); loss 40 / 20 000 = 0.2 %; p95 of the window p95s (nearest rank of [500, 900]) = 900.
  region('cn-east', '2026-11-23T02:00:00Z', { stall: 1000, play: 99_000, lost: 10, expected: 10_000, p95: 500, conc: 1000, samples: 100 }),
  region('cn-east', '2026-11-23T12:00:00Z', { stall: 9000, play: 91_000, lost: 30, expected: 10_000, p95: 900, conc: 3000, samples: 100 }),
  // cn-east a week earlier: 2 000 / 100 000 = 2 % → +150 % week over week.
  region('cn-east', '2026-11-16T02:00:00Z', { stall: 2000, play: 98_000, lost: 0, expected: 10_000, p95: 400, conc: 2000, samples: 100 }),
  // cn-east after the period (00:30 local on the 24th): must not count.
  region('cn-east', '2026-11-23T16:30:00Z', { stall: 90_000, play: 10_000, lost: 5000, expected: 10_000, p95: 9000, conc: 9000, samples: 100 }),
  // cn-north: 0.1 % stall, no loss, 300 ms — good.
  region('cn-north', '2026-11-23T06:00:00Z', { stall: 100, play: 99_900, lost: 0, expected: 10_000, p95: 300, conc: 500, samples: 50 }),
];

describe.skipIf(!HAVE_INFLUXD)('scheduled QoS reports (real InfluxDB 1.x, real SMTP server)', () => {
  const influx = useInfluxServer();
  const { smtp } = useLoopbackServers();

  it('sends a missed daily report once at the next start, with hand-computed figures and inline PNG charts', async () => {
    await influx().createDb(DB);
    const w = await fetch(`${influx().url}/write?db=${DB}&precision=ns`, { method: 'POST', body: FIXTURE.join('\n') });
    expect(w.status).toBe(204);
    const dataDir = tempDir('qoswatch-reports');
    let now = Date.parse('2026-11-23T04:00:00Z'); // 12:00 local on the reported day
    const start = () =>
      startApp({
        dataDir,
        clock: () => now,
        config: {
          default_tenant: 'acme',
          tenants: [{ id: 'acme', name: 'Acme Live', tier: 'enterprise', timezone: 'Asia/Shanghai', reports: { daily: { at: '08:00', to: ['noc@acme.example', 'boss@acme.example'] } } }],
        },
        env: { INFLUX_API: 'v1', INFLUX_URL: influx().url, INFLUX_DB: DB, SMTP_URL: smtp.url, QOSWATCH_GRAFANA_URL: 'https://grafana.example.test/' },
      });

    // First start (the schedule is first seen now): an incident and a ticket during the day, nothing to catch up.
    let t = await start();
    try {
      const insert = t.app.stateDb!.prepare("INSERT INTO incidents (group_key, tenant, region, title, state, priority, opened_at, updated_at) VALUES (?, 'acme', 'cn-east', 'stall', 'resolved', ?, ?, ?)");
      insert.run('g1', 'P1', now, now);
      insert.run('g2', 'P0', Date.parse('2026-11-23T17:00:00Z'), now); // the next day: not in the report
      const ticket = await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', title: 'viewers stall in cn-east', priority: 'P1' });
      expect(ticket.status).toBe(201);
      now += 10 * 60_000; // acknowledged after 10 min: within enterprise P1's 4 h response
      expect((await api(t.url, 'POST', `/v1/tickets/${ticket.body.id}/state`, { to: 'acknowledged' })).status).toBe(200);
      await t.app.reports.idle();
      expect(smtp.mails).toHaveLength(0);
    } finally {
      await t.close();
    }

    // The service is down through 08:00 on the 24th; it starts again at 09:30 local and sends the missed report.
    now = Date.parse('2026-11-24T01:30:00Z');
    t = await start();
    try {
      const mail = await waitFor('the report email', () => smtp.mails[0]);
      expect(mail.subject).toContain('Daily QoS report');
      expect(mail.subject).toContain('Acme Live');
      expect(mail.subject).toContain('Mon 23 Nov 2026');
      expect((mail.to as { value: { address: string }[] }).value.map((a) => a.address)).toEqual(['noc@acme.example', 'boss@acme.example']);
      const html = String(mail.html);
      const text = mail.text!;
      // Figures: ratios of sums over the period, the later window excluded.
      for (const part of [html, text]) {
        expect(part).toContain('5.00%'); // cn-east stall ratio
        expect(part).toContain('0.20%'); // cn-east loss
        expect(part).toContain('0.10%'); // cn-north stall ratio
        expect(part).toContain('3,000'); // cn-east peak concurrency
        expect(part).toContain('▲ 150.00%'); // stall ratio week over week
        expect(part).not.toContain('9,000'); // the after-period window's concurrency
      }
      expect(html).toMatch(/900\s*ms/);
      // Ranking best first, and the attention list names cn-east with why.
      expect(text.slice(text.indexOf('RANKING'))).toMatch(/1\. cn-north — Good[\s\S]*2\. cn-east — Attention/);
      expect(text).toMatch(/cn-east[^\n]*\n?[^\n]*stall ratio 5\.00 % is at or over the 2\.00 % alert threshold/);
      expect(text).toMatch(/1 P0\/P1 incident/);
      expect(text).toContain('2026-11-23 20:00'); // the worst hour (9 % stall)
      expect(html).toContain(`https://grafana.example.test/d/qoswatch-overview?var-tenant=acme&#38;from=${Date.parse('2026-11-22T16:00:00Z')}&#38;to=${Date.parse('2026-11-23T16:00:00Z')}`);
      // Inline PNG charts: related parts with a Content-ID, each shown by an <img> (mailparser swaps cid: links for
      // the data they point at), and each a PNG that decodes.
      const images = [...html.matchAll(/<img [^>]*src="data:image\/png;base64,([^"]+)"/g)].map((m) => m[1]);
      expect(images.length).toBeGreaterThanOrEqual(2);
      expect(mail.attachments).toHaveLength(images.length);
      for (const a of mail.attachments) {
        expect(a.related).toBe(true);
        expect(a.cid).toMatch(/@qoswatch$/);
        expect(images).toContain(a.content.toString('base64'));
        expect(a.contentType).toBe('image/png');
        expect(a.contentDisposition).toBe('inline');
        const png = PNG.sync.read(a.content);
        expect(png.width).toBeGreaterThan(100);
      }
      const runs = await waitFor('the run recorded as sent', async () => {
        const r = await api(t.url, 'GET', '/v1/reports/runs?tenant=acme');
        return r.body.runs[0]?.status === 'sent' ? r.body.runs : undefined;
      });
      expect(runs).toEqual([expect.objectContaining({ kind: 'daily', due_at: '2026-11-24T00:00:00.000Z', status: 'sent', attempts: 1, error: null })]);

      // The same report as JSON through the API (the SLA outcome of the ticket: response met).
      const json = await api(t.url, 'GET', '/v1/reports/qos?tenant=acme&kind=daily');
      expect(json.status).toBe(200);
      expect(json.body.regions.map((r: { region: string; status: string }) => `${r.region}:${r.status}`)).toEqual(['cn-north:good', 'cn-east:attention']);
      expect(json.body.sla.targets.find((x: { target: string }) => x.target === 'response')).toMatchObject({ met: 1, missed: 0, breached: 0, meanMs: 600_000 });
      // Not mitigated 21.5 h after opening: enterprise P1's 8 h restore target is breached.
      expect(json.body.sla.targets.find((x: { target: string }) => x.target === 'restore')).toMatchObject({ met: 0, missed: 0, breached: 1, meanMs: null });
      expect(json.body.incidents.byPriority).toEqual({ P0: 0, P1: 1, P2: 0, P3: 0 });
      // The HTML preview carries its charts as data: URIs (no attachments outside an email).
      const preview = await fetch(`${t.url}/v1/reports/qos?tenant=acme&format=html`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(preview.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await preview.text();
      expect(page).not.toContain('cid:');
      expect(page.match(/src="data:image\/png;base64,/g)?.length).toBe(images.length);
      expect((await api(t.url, 'GET', '/v1/reports/qos?tenant=nobody')).status).toBe(404);
      expect((await api(t.url, 'GET', '/v1/reports/qos?kind=hourly')).body.message).toMatch(/kind/);
    } finally {
      await t.close();
    }

    // Restarted again the same morning: that period was sent, nothing goes out twice.
    now += 60_000;
    t = await start();
    try {
      await t.app.reports.idle();
      expect(smtp.mails).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('records a failed send and retries it at the next start', async () => {
    await influx().createDb(`${DB}2`);
    const dataDir = tempDir('qoswatch-reports');
    let now = Date.parse('2026-11-23T23:00:00Z');
    const start = () =>
      startApp({
        dataDir, clock: () => now,
        config: { default_tenant: 'acme', tenants: [{ id: 'acme', timezone: 'Asia/Shanghai', reports: { daily: { at: '08:00', to: ['noc@acme.example'] } } }] },
        env: { INFLUX_API: 'v1', INFLUX_URL: influx().url, INFLUX_DB: `${DB}2`, SMTP_URL: smtp.url },
      });
    let t = await start();
    await t.close();
    now = Date.parse('2026-11-24T01:00:00Z');
    smtp.refuse = { code: 451, message: 'try again later' };
    t = await start();
    try {
      await t.app.reports.idle();
      const runs = (await api(t.url, 'GET', '/v1/reports/runs?tenant=acme')).body.runs;
      expect(runs).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, error: expect.stringContaining('451') })]);
      expect(runs[0].error).not.toContain('smtp-pass-123456');
    } finally {
      await t.close();
    }
    smtp.refuse = undefined;
    t = await start();
    try {
      await waitFor('the retried report', () => smtp.mails[0]);
      await t.app.reports.idle();
      expect((await api(t.url, 'GET', '/v1/reports/runs?tenant=acme')).body.runs).toEqual([expect.objectContaining({ status: 'sent', attempts: 2 })]);
    } finally {
      await t.close();
    }
  });

  it('answers 503 naming InfluxDB when the report cannot be read', async () => {
    const t = await startApp({ env: { INFLUX_API: 'v1', INFLUX_URL: 'http://127.0.0.1:9', INFLUX_DB: DB, INFLUX_TIMEOUT: '1s' } });
    try {
      const r = await api(t.url, 'GET', '/v1/reports/qos');
      expect(r.status).toBe(503);
      expect(r.body.message).toMatch(/cannot read the report's figures: cannot reach InfluxDB/);
    } finally {
      await t.close();
    }
  });
});
