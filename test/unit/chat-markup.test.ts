import { describe, expect, it } from 'vitest';
import type { PageMessage } from '../../src/notify/channel.js';
import { dingtalk } from '../../src/notify/channels/dingtalk/index.js';
import { feishu } from '../../src/notify/channels/feishu/index.js';
import { slack } from '../../src/notify/channels/slack/index.js';
import { teams } from '../../src/notify/channels/teams/index.js';
import { webhook } from '../../src/notify/channels/webhook/index.js';
import { wecom } from '../../src/notify/channels/wecom/index.js';
import { renderEmail } from '../../src/notify/email.js';
import { type Reading, readChat, readHtml, readText } from '../helpers/chat-clients.js';

/**
 * Issue 14 item 10, per provider: a page whose every field qoswatch did not write is hostile (region and dimension
 * values from telemetry, a note and a name from people) is read the way the provider's client reads it
 * (test/helpers/chat-clients.ts). Live in it may be only the signed links, the runbook and the recipient's own
 * mention; every hostile string must be shown, as text.
 */

const HOSTILE = [
  '[Ack](https://evil.com/ack) ![t](https://evil.com/t.png)',
  '<@U0BOSS> <!channel> <!here|here> <at id=all></at> <@all>',
  '<img src=https://evil.com/t.png onerror=alert(1)>',
  '<a href="https://evil.com/ack">Ack</a> <https://evil.com/x|Ack>',
  'https://evil.com/x evil.com www.evil.com 10.0.0.1 a@evil.com',
  '**bold** <font color=red>red</font> <at>U0BOSS</at> @all @channel',
];
const NOTE_LINES = ['# Heading', '> quote', '- item', '1. first', '[ref]: https://evil.com/ref', '---'];
const ACK = 'https://qos.example.com/v1/links/ack.sig';
const RESOLVE = 'https://qos.example.com/v1/links/resolve.sig';
const RUNBOOK = 'https://wiki.example.com/runbooks/stall';
const ours = new Set([ACK, RESOLVE, RUNBOOK]);

/** A page about the region `region`, as the pager renders one: the region in the title, facts and timeline. */
const hostilePage = (region: string, mention: string | undefined): PageMessage => ({
  kind: 'acknowledged',
  incidentId: 7,
  priority: 'P1',
  tenant: 'acme',
  region,
  state: 'acknowledged',
  title: `P1 ${region}: stall_ratio 30% (> 0.2) — ${region}, isp=${region}`,
  text: `Acknowledged by ${region}: ${NOTE_LINES.join('\n')}\nstall-ratio: stall_ratio 0.3 (> 0.2, window 60000 ms)`,
  runbook: RUNBOOK,
  timeline: [`12:00:00 qoswatch opened: stall_ratio 30% (> 0.2) — ${region}`, `12:01:00 ${region} acknowledged`],
  ackUrl: ACK,
  resolveUrl: RESOLVE,
  incidentUrl: undefined,
  mention,
  key: 'k',
});

/** Live things qoswatch did not put there, one line each. */
function planted(r: Reading, handle: string | undefined): string[] {
  return [
    ...r.links.filter((u) => !ours.has(u)).map((u) => `link ${u}`),
    ...r.images.map((u) => `image ${u}`),
    ...r.mentions.filter((m) => m !== handle).map((m) => `mention ${m}`),
    ...r.broadcasts.map((m) => `mention of everyone ${m}`),
    ...r.active.map((a) => `runs ${a}`),
  ];
}

/** Everything hostile is shown as the text it is. */
function expectShown(r: Reading, region: string): void {
  expect(r.text).toContain(region);
  for (const line of NOTE_LINES) expect(r.text).toContain(line);
}

const CHAT = [
  ['slack', slack, { url: 'https://hooks.slack.com/services/T0/B0/x' }, 'U0ALICE'],
  ['feishu', feishu, { url: 'https://open.feishu.cn/open-apis/bot/v2/hook/x' }, 'ou_alice'],
  ['dingtalk', dingtalk, { url: 'https://oapi.dingtalk.com/robot/send?access_token=x' }, '13800000000'],
  ['wecom', wecom, { url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x' }, 'alice.w'],
  ['teams', teams, { url: 'https://prod.westeurope.logic.azure.com/workflows/x' }, 'alice@corp.example'],
] as const;

describe.each(CHAT)('%s shows text qoswatch did not write as text', (id, provider, config, handle) => {
  it.each(HOSTILE)('region %s', (region) => {
    for (const mention of [handle, undefined]) {
      const reading = readChat(id, provider.request(config as never, hostilePage(region, mention), 0).body);
      expect(planted(reading, mention), `with mention ${mention}`).toEqual([]);
      expectShown(reading, region);
      // qoswatch's own links stay live, and the recipient is mentioned
      expect(reading.links).toEqual(expect.arrayContaining([ACK, RESOLVE]));
      expect(reading.links.includes(RUNBOOK) || reading.text.includes(RUNBOOK)).toBe(true);
      if (mention !== undefined) expect(reading.mentions).toContain(mention);
    }
  });

  it('links the runbook that is one URL', () => {
    expect(readChat(id, provider.request(config as never, hostilePage('eu-west', handle), 0).body).links).toContain(RUNBOOK);
  });
});

describe('email shows text qoswatch did not write as text, in the HTML and the text part', () => {
  it.each(HOSTILE)('region %s', (region) => {
    const m = renderEmail(hostilePage(region, undefined));
    for (const [part, reading] of [['html', readHtml(m.html)], ['text', readText(m.text)]] as const) {
      expect(planted(reading, undefined), part).toEqual([]);
      expectShown(reading, region);
      expect(reading.links, part).toEqual(expect.arrayContaining([ACK, RESOLVE, RUNBOOK]));
    }
    expect(readText(m.subject).links, 'subject').toEqual([]);
    expect(m.subject.replace(/\u200B/g, '')).toContain(region);
  });
});

describe('the generic webhook is data', () => {
  it.each(HOSTILE)('carries region %s exactly, each value in its own field', (region) => {
    const page = hostilePage(region, 'U-alice');
    const body = JSON.parse(webhook.request({ url: 'https://hooks.example.com/x', secret: 'whsec-0123456789abcdef' }, page, 0).body);
    expect(body.incident).toMatchObject({ region, title: page.title, text: page.text, timeline: page.timeline, runbook: RUNBOOK });
    expect(body.links).toEqual({ ack: ACK, resolve: RESOLVE, incident: null });
    expect(body.mention).toBe('U-alice');
  });
});
