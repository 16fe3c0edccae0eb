import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { type Reading, readChat, readMail } from '../helpers/chat-clients.js';
import { LINK_SECRET, PUBLIC_URL, RUNBOOK, WEBHOOK_SECRET, always, pagingRule, writeOnCall } from '../helpers/paging.js';
import { HttpReceiver, json } from '../helpers/receiver.js';
import { SmtpSink } from '../helpers/smtp.js';

/**
 * Issue 14 item 10: text from telemetry (posted with the public ingest key) reaches every chat provider and email
 * as text — never as a link, image, tag or mention. Hostile region names and an ISP dimension open real incidents
 * in the real app; the pager pages the on-call person on every provider, each to its own loopback receiver that
 * answers as the provider does, and by email to a real SMTP server. Every message is then read the way that
 * provider's client reads it (test/helpers/chat-clients.ts): the only live things in it may be the signed links,
 * the runbook and the configured person's mention, and the hostile text must be there, shown as text.
 */

const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;

/** Region names a public ingest key can post (≤ 64 printable characters, no backslash), one incident each. */
const REGIONS = [
  '[Ack](https://evil.com/ack) ![t](https://evil.com/t.png)',
  '<@U0BOSS> <!channel> <at id=all></at> <@all> <at>U0BOSS</at>',
  '<img src=https://evil.com/t.png onerror=alert(1)>',
  '<a href="https://evil.com/ack">Ack</a> https://evil.com/x',
  '<https://evil.com/ack|Ack> evil.com www.evil.com 10.0.0.1 @all',
];
const ISP = '**[Ack](https://evil.com/isp)** <font color=red>x</font>';
/** Who acknowledges, and their note: people's text, which must not become markup either. */
const BY = '<@U0BOSS> [Ack](https://evil.com/by)';
const NOTE = 'on it\n# Heading\n[Ack](https://evil.com/note) <img src=https://evil.com/n.png> @channel';

/** Alice's handle per provider: the only person a page may mention. */
const HANDLES = { slack: 'U0ALICE', feishu: 'ou_alice', dingtalk: '13800000000', wecom: 'alice.w', teams: 'alice@corp.example', webhook: 'U-alice' } as const;
type Provider = keyof typeof HANDLES;
const CHAT: Provider[] = ['slack', 'feishu', 'dingtalk', 'wecom', 'teams'];

/** How each provider answers a delivered message. */
const OK: Record<Provider, { status: number; body: string }> = {
  slack: { status: 200, body: 'ok' },
  feishu: { status: 200, body: '{"code":0,"msg":"success"}' },
  dingtalk: { status: 200, body: '{"errcode":0,"errmsg":"ok"}' },
  wecom: { status: 200, body: '{"errcode":0,"errmsg":"ok"}' },
  teams: { status: 202, body: '' },
  webhook: { status: 200, body: '' },
};
/** Each provider's documented webhook path. */
const PATH: Record<Provider, string> = {
  slack: '/services/T0/B0/alice',
  feishu: '/open-apis/bot/v2/hook/alice',
  dingtalk: '/robot/send?access_token=alice',
  wecom: '/cgi-bin/webhook/send?key=alice',
  teams: '/workflows/alice/triggers/manual/paths/invoke?sig=alice',
  webhook: '/hooks/alice',
};

const smtp = new SmtpSink();
const rx = Object.fromEntries(Object.keys(HANDLES).map((p) => [p, new HttpReceiver()])) as Record<Provider, HttpReceiver>;
beforeAll(async () => {
  await smtp.start();
  for (const [p, r] of Object.entries(rx)) {
    await r.start();
    r.otherwise = OK[p as Provider];
  }
});
afterAll(async () => {
  for (const r of Object.values(rx)) await r.stop();
  await smtp.stop();
});

const startClosed = appsClosedAfterEach();

/** Alice is on call on every provider and by email (a P1 pages all at once); DingTalk's team robot too (no mention). */
function onCall(): string {
  return writeOnCall({
    people: [{ id: 'alice', name: 'Alice', email: 'alice@example.com', chat: { ...HANDLES }, notify: ['email', ...Object.keys(HANDLES)] }],
    channels: [
      ...Object.keys(HANDLES).map((p) => ({ id: p, provider: p, url: rx[p as Provider].url(PATH[p as Provider]), ...(p === 'webhook' && { secret: WEBHOOK_SECRET }) })),
      { id: 'team-dingtalk', provider: 'dingtalk', url: rx.dingtalk.url('/robot/send?access_token=team') },
    ],
    schedules: [always('primary', 'alice')],
    escalation_policies: [{ id: 'main', levels: [{ targets: [{ schedule: 'primary' }, { channel: 'team-dingtalk' }], ack_timeout: '5m' }] }],
    default_policy: 'main',
  });
}

const LINK = new RegExp(`^${PUBLIC_URL.replace(/[.]/g, '\\.')}/v1/links/[\\w-]+\\.[\\w-]+$`);
/** Links qoswatch makes: signed ack/resolve links and the rule's runbook. */
const ours = (url: string) => LINK.test(url) || url === RUNBOOK;

/**
 * What is live in a message beyond what qoswatch put there (links and buttons other than its own, any image,
 * mention of anyone but alice, mention of everyone, HTML that runs), one line per finding.
 */
function planted(reading: Reading, where: string, handle?: string): string[] {
  return [
    ...reading.links.filter((u) => !ours(u)).map((u) => `${where}: link ${u}`),
    ...reading.images.map((u) => `${where}: image ${u}`),
    ...reading.mentions.filter((m) => m !== handle).map((m) => `${where}: mention ${m}`),
    ...reading.broadcasts.map((m) => `${where}: mention of everyone ${m}`),
    ...reading.active.map((a) => `${where}: runs ${a}`),
  ];
}

/** The app paging alice everywhere; `env` adds to its settings. */
function start(env: Record<string, string> = {}) {
  return startClosed({
    clock: () => now,
    env: {
      QOSWATCH_RULES_DIR: writeRules([pagingRule({ group_by: ['tenant', 'region', 'isp'] })]),
      QOSWATCH_ONCALL: onCall(),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'qoswatch <pager@qos.example.test>',
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      QOSWATCH_PAGE_TIMEOUT: '2s',
      QOSWATCH_CHAT_RATE: '1000/1s',
      QOSWATCH_EMAIL_RATE: '1000/1s',
      ...env,
    },
  });
}

/** One incident per hostile region (with the hostile ISP), from one request: one evaluation pass opens them all. */
async function hostileIncidents(t: Awaited<ReturnType<typeof start>>): Promise<void> {
  await send(t.url, REGIONS.flatMap((region) => viewers(region, now, 0.3).map((s) => ({ ...s, dims: { isp: ISP } }))));
  await t.app.alerting.tick(now);
  await t.app.pager.tick();
}

describe('hostile telemetry pages every provider as text', () => {
  it('region and ISP names, and the acknowledger’s name and note, arrive as text on Slack, Feishu, DingTalk, WeCom, Teams, the webhook and email', async () => {
    // Each incident pages on its own here (no storm: that is the next test), so each page carries one of them.
    const t = await start({ QOSWATCH_STORM_THRESHOLD: '10000' });
    await hostileIncidents(t);
    const opened = await incidents(t.url);
    expect(opened.map((i) => i.region).sort()).toEqual([...REGIONS].sort());

    now += 60_000;
    for (const inc of opened) expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: BY, note: NOTE })).status).toBe(200);
    await t.app.pager.tick();

    // Every incident was paged and its acknowledgement reported on each channel: 2 messages × 5 incidents.
    const pages = REGIONS.length * 2;
    for (const p of Object.keys(HANDLES) as Provider[]) expect(rx[p].requests.filter((r) => r.url === PATH[p]), p).toHaveLength(pages);
    expect(rx.dingtalk.requests.filter((r) => r.url.endsWith('access_token=team'))).toHaveLength(pages);
    expect(smtp.mails).toHaveLength(pages);

    const seen = (reading: Reading, where: string) => {
      for (const s of [...REGIONS, ISP].filter((x) => reading.text.includes(x))) shown.add(`${where} ${s}`);
      return reading;
    };
    const shown = new Set<string>();
    const found = new Set<string>();
    const hidden = new Set<string>();
    for (const p of CHAT) {
      for (const r of rx[p].requests) {
        const team = r.url.endsWith('access_token=team');
        const where = `${p}${team ? ' (team robot)' : ''} ${json(r).msgtype ?? ''}`.trim();
        const reading = seen(readChat(p, r.body), p);
        for (const f of planted(reading, where, team ? undefined : HANDLES[p])) found.add(f);
        // qoswatch's own links and alice's mention stay live
        expect(reading.links.some((u) => LINK.test(u)), `${where}: a signed link`).toBe(true);
        if (!team) expect(reading.mentions, `${where}: alice is mentioned`).toContain(HANDLES[p]);
        if (/Acknowledged by/.test(reading.text)) {
          for (const line of [BY, ...NOTE.split('\n')]) if (!reading.text.includes(line)) hidden.add(`${where} does not show ${line}`);
        } else expect(reading.links, `${where}: the runbook`).toContain(RUNBOOK);
      }
    }
    for (const m of smtp.mails) {
      const { html, text } = readMail(m);
      for (const f of [...planted(seen(html, 'email html'), 'email HTML'), ...planted(seen(text, 'email text'), 'email text')]) found.add(f);
      expect(html.links.some((u) => LINK.test(u)) && text.links.some((u) => LINK.test(u)), 'the signed links in both parts').toBe(true);
    }
    // Each hostile string is shown, as the text it is, by every client.
    for (const where of [...CHAT, 'email html', 'email text']) for (const s of [...REGIONS, ISP]) if (!shown.has(`${where} ${s}`)) hidden.add(`${where} does not show ${s}`);
    expect({ planted: [...found].sort(), hidden: [...hidden].sort() }).toEqual({ planted: [], hidden: [] });

    // The generic webhook is data: the fields carry the strings exactly, each in its own field, for receivers to escape.
    for (const r of rx.webhook.requests) {
      const body = json(r);
      expect(REGIONS).toContain(body.incident.region);
      expect(body.incident.title).toContain(`${body.incident.region}, isp=${ISP}`);
      expect(Object.values(body.links).every((u) => u === null || LINK.test(u as string))).toBe(true);
      expect(body.mention).toBe(HANDLES.webhook);
      if (body.kind === 'acknowledged') expect(body.incident.text).toContain(`Acknowledged by ${BY}: ${NOTE}`);
    }
  });

  it('a storm page lists the hostile regions as text on every provider and email', async () => {
    for (const r of Object.values(rx)) r.requests.length = 0;
    smtp.mails.length = 0;
    const t = await start();
    await hostileIncidents(t);
    // The first two incidents page on their own; the other three as one storm page listing them.
    const members = (await incidents(t.url)).sort((a, b) => a.id - b.id).slice(2);
    const storm = rx.webhook.requests.map(json).filter((b) => b.storm !== null);
    expect(storm.map((b) => b.storm.incidents.map((i: { regions: string[] }) => i.regions[0]))).toEqual([members.map((i) => i.region)]);
    const found: string[] = [];
    const hidden: string[] = [];
    const check = (reading: Reading, where: string, handle?: string) => {
      found.push(...planted(reading, where, handle));
      if (reading.text.includes('storm #')) hidden.push(...members.filter((i) => !reading.text.includes(i.region)).map((i) => `${where} does not show ${i.region}`));
      return reading.text.includes('storm #');
    };
    for (const p of CHAT) {
      const storms = rx[p].requests.filter((r) => check(readChat(p, r.body), p, r.url.endsWith('access_token=team') ? undefined : HANDLES[p]));
      expect(storms.length, `${p}: storm pages`).toBeGreaterThan(0);
    }
    const mails = smtp.mails.filter((m) => {
      const { html, text } = readMail(m);
      return [check(html, 'email HTML'), check(text, 'email text')].every(Boolean);
    });
    expect(mails).toHaveLength(1);
    expect({ planted: found.sort(), hidden: hidden.sort() }).toEqual({ planted: [], hidden: [] });
  });
});
