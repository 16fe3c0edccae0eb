import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PageMessage } from '../../src/notify/channel.js';
import { dingtalk } from '../../src/notify/channels/dingtalk/index.js';
import { feishu } from '../../src/notify/channels/feishu/index.js';
import { wecom } from '../../src/notify/channels/wecom/index.js';
import type { Priority } from '../../src/shared/priority.js';
import { describeZodError } from '../../src/shared/http-errors.js';

const ACK = 'https://qos.example.com/ack/12?sig=a1';
const RESOLVE = 'https://qos.example.com/resolve/12?sig=b2';
const INCIDENT = 'https://qos.example.com/incidents/12';
const TIMELINE = ['14:01 alert fired', '14:02 page sent', '14:03 qoswatch opened', '14:04 email delivered', '14:05 escalated', '14:06 comment', '14:07 priority P1'];

const page = (over: Partial<PageMessage> = {}): PageMessage => ({
  kind: 'opened',
  incidentId: 12,
  priority: 'P1',
  tenant: 'acme',
  region: 'eu-west',
  state: 'open',
  title: 'P1 eu-west: stall_ratio 7.5% (> 0.05)',
  text: 'stall_ratio 7.5% over 5m (threshold 0.05)\nviewers affected: 1204',
  runbook: 'https://wiki.example.com/runbooks/stall',
  timeline: TIMELINE,
  ackUrl: ACK,
  resolveUrl: RESOLVE,
  incidentUrl: INCIDENT,
  mention: undefined,
  key: 'page-12-opened',
  ...over,
});
const noLinks = { ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined };

/** The JSON body of a request, loosely typed for assertions. */
const bodyOf = (body: string): any => JSON.parse(body);

/** The messages of a failed parse, one line naming each field (as the on-call loader reports them). */
function problems(schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, value: unknown): string {
  const r = schema.safeParse(value);
  expect(r.success).toBe(false);
  return describeZodError(r.error as Parameters<typeof describeZodError>[0]);
}

describe('feishu', () => {
  const url = 'https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd';
  /** 1599360473 is the timestamp the Feishu custom-bot guide uses as its example. */
  const now = 1599360473_900;

  it('sends an interactive card: coloured header, text and facts as plain text, the last 5 timeline lines, link and runbook buttons', () => {
    const req = feishu.request({ url }, page(), now);
    expect(req.url).toBe(url);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    const body = bodyOf(req.body);
    expect(body.msg_type).toBe('interactive');
    expect(body).not.toHaveProperty('timestamp');
    expect(body).not.toHaveProperty('sign');
    expect(body.card.header).toEqual({ title: { tag: 'plain_text', content: 'P1 eu-west: stall_ratio 7.5% (> 0.05)' }, template: 'orange' });
    const [text, facts, timelineHead, timeline, action, ...rest] = body.card.elements;
    expect(rest).toEqual([]);
    // What qoswatch did not write is plain_text, which Feishu never renders as markup
    expect(text).toEqual({ tag: 'div', text: { tag: 'plain_text', content: 'stall_ratio 7.5% over 5m (threshold 0.05)\nviewers affected: 1204' } });
    expect(facts).toEqual({
      tag: 'div',
      fields: ['Incident: #12', 'Priority: P1', 'Tenant: acme', 'Region: eu-west', 'State: open'].map((content) => ({ is_short: true, text: { tag: 'plain_text', content } })),
    });
    expect(timelineHead).toEqual({ tag: 'div', text: { tag: 'lark_md', content: '**Timeline**' } });
    expect(timeline).toEqual({ tag: 'div', text: { tag: 'plain_text', content: TIMELINE.slice(2).join('\n') } });
    expect(action).toEqual({
      tag: 'action',
      actions: [
        { tag: 'button', text: { tag: 'plain_text', content: 'Acknowledge' }, type: 'primary', url: ACK },
        { tag: 'button', text: { tag: 'plain_text', content: 'Resolve' }, type: 'default', url: RESOLVE },
        { tag: 'button', text: { tag: 'plain_text', content: 'Open incident' }, type: 'default', url: INCIDENT },
        { tag: 'button', text: { tag: 'plain_text', content: 'Runbook' }, type: 'default', url: 'https://wiki.example.com/runbooks/stall' },
      ],
    });
  });

  it.each<[Priority, string]>([
    ['P0', 'red'],
    ['P1', 'orange'],
    ['P2', 'yellow'],
    ['P3', 'blue'],
  ])('%s → header template %s', (priority, template) => {
    expect(bodyOf(feishu.request({ url }, page({ priority }), now).body).card.header.template).toBe(template);
  });

  it('has no action element without links, only the buttons whose link exists, and no runbook/timeline when absent', () => {
    const bare = bodyOf(feishu.request({ url }, page({ ...noLinks, runbook: undefined, timeline: [] }), now).body);
    expect(bare.card.elements.map((e: { tag: string }) => e.tag)).toEqual(['div', 'div']);
    const ackOnly = bodyOf(feishu.request({ url }, page({ ...noLinks, ackUrl: ACK, runbook: undefined }), now).body);
    expect(ackOnly.card.elements.at(-1).actions.map((b: { text: { content: string } }) => b.text.content)).toEqual(['Acknowledge']);
  });

  it('shows a runbook that is not one URL as plain text, without a button', () => {
    const body = bodyOf(feishu.request({ url }, page({ ...noLinks, runbook: 'call the CDN on-call, see [wiki](x)' }), now).body);
    expect(body.card.elements).toContainEqual({ tag: 'div', text: { tag: 'plain_text', content: 'Runbook: call the CDN on-call, see [wiki](x)' } });
    expect(body.card.elements.map((e: { tag: string }) => e.tag)).not.toContain('action');
  });

  it('mentions with <at id=…> (open_id or user_id) or <at email=…> first, and not at all without a handle', () => {
    const first = (mention: string | undefined) => bodyOf(feishu.request({ url }, page({ mention }), now).body).card.elements[0].text;
    expect(first('ou_7d8a6e6df7621556ce0d21922b676706ccs')).toEqual({ tag: 'lark_md', content: '<at id=ou_7d8a6e6df7621556ce0d21922b676706ccs></at>' });
    expect(first('oncall@example.com')).toEqual({ tag: 'lark_md', content: '<at email=oncall@example.com></at>' });
    expect(first(undefined)).toEqual({ tag: 'plain_text', content: expect.stringMatching(/^stall_ratio/) });
  });

  it('puts text it did not write in plain_text, where <at id=all> and Markdown links are text', () => {
    const body = bodyOf(feishu.request({ url }, page({ text: 'a <at id=all></at> [b](https://x) b' }), now).body);
    expect(body.card.elements[0].text).toEqual({ tag: 'plain_text', content: 'a <at id=all></at> [b](https:\u200B/\u200B/x) b' });
  });

  it('signs with timestamp (unix seconds, a string) and sign = base64(HMAC-SHA256 keyed "timestamp\\nsecret" over nothing)', () => {
    const secret = 'test-secret';
    const body = bodyOf(feishu.request({ url, secret }, page(), now).body);
    expect(body.timestamp).toBe('1599360473');
    const independent = createHmac('sha256', Buffer.from(`1599360473\n${secret}`, 'utf8')).update(Buffer.alloc(0)).digest('base64');
    expect(body.sign).toBe(independent);
    // The guide gives the algorithm (and the timestamp above), not a signature: this value was computed apart with
    // `printf '' | openssl dgst -sha256 -mac HMAC -macopt key:"$(printf '1599360473\ntest-secret')" -binary | base64`.
    expect(body.sign).toBe('wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=');
    expect(body.msg_type).toBe('interactive');
  });

  it.each<[string, number, string, boolean]>([
    ['code 0 (the documented success body)', 200, '{"code":0,"msg":"success","data":{},"Extra":null,"StatusCode":0,"StatusMessage":"success"}', true],
    ['code 0 alone', 200, '{"code":0,"data":{},"msg":"success"}', true],
    ['the legacy StatusCode 0 alone', 200, '{"Extra":null,"StatusCode":0,"StatusMessage":"success"}', true],
  ])('check: %s is a success', (_name, status, body) => {
    expect(feishu.check(status, body)).toEqual({ ok: true });
  });

  it.each<[string, number, string, boolean, RegExp]>([
    ['19021 sign match fail, HTTP 200', 200, '{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}', false, /code 19021: sign match fail.*signature check failed/],
    ['9499 bad request, HTTP 200', 200, '{"code":9499,"data":{},"msg":"Bad Request"}', false, /code 9499: Bad Request/],
    ['9499 bad request, HTTP 400', 400, '{"code":9499,"msg":"Bad Request"}', false, /HTTP 400, Feishu code 9499/],
    ['11232 frequency limited, HTTP 200', 200, '{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}', true, /code 11232: frequency limited/],
    ['a legacy non-zero StatusCode', 200, '{"StatusCode":19024,"StatusMessage":"Key Words Not Found"}', false, /code 19024: Key Words Not Found/],
    ['an undocumented code', 200, '{"code":123,"msg":"odd"}', false, /code 123: odd/],
    ['HTTP 429 without a body', 429, '', true, /^HTTP 429$/],
    ['HTTP 500', 500, 'internal error', true, /^HTTP 500: internal error/],
    ['HTTP 502 from a proxy', 502, '<html>bad gateway</html>', true, /^HTTP 502/],
    ['HTTP 404', 404, 'not found', false, /^HTTP 404/],
    ['HTTP 200 that is not JSON', 200, '<html>captive portal</html>', false, /without a Feishu reply/],
    ['HTTP 200 with JSON lacking a code', 200, '{}', false, /without a Feishu reply/],
    ['HTTP 503 whose body still says code 0', 503, '{"code":0}', true, /^HTTP 503/],
  ])('check: %s → failure, retryable %s', (_name, status, body, retryable, reason) => {
    const v = feishu.check(status, body);
    expect(v).toMatchObject({ ok: false, retryable });
    expect(!v.ok && v.reason).toMatch(reason);
  });

  it('secrets: the webhook URL and the signing secret', () => {
    expect(feishu.secrets({ url, secret: 's3cr3t' })).toEqual([url, 's3cr3t']);
    expect(feishu.secrets({ url })).toEqual([url]);
  });

  it('configSchema accepts Feishu and Lark webhooks, with or without a secret', () => {
    expect(feishu.configSchema.parse({ url, secret: 'abc' })).toEqual({ url, secret: 'abc' });
    const lark = 'https://open.larksuite.com/open-apis/bot/v2/hook/abc-123';
    expect(feishu.configSchema.parse({ url: lark })).toEqual({ url: lark });
  });

  it.each<[string, unknown, RegExp]>([
    ['a missing url', {}, /^url: url is required \(the bot webhook, https:\/\/open\.feishu\.cn/],
    ['an http url', { url: 'http://open.feishu.cn/open-apis/bot/v2/hook/x' }, /^url: url must use https \(plain http only to a loopback address/],
    ['not a url', { url: 'open.feishu.cn/hook' }, /^url: url must be an https URL/],
    ['an http url elsewhere (one problem, not two)', { url: 'http://example.com/x' }, /^url: url must use https[^;]*$/],
    ['another path', { url: 'https://open.feishu.cn/open-apis/bot/v2/x' }, /^url: url must be the bot webhook/],
    ['a Feishu URL that is not a bot hook', { url: 'https://open.feishu.cn/open-apis/im/v1/messages' }, /^url: url must be the bot webhook/],
    ['a hook without its token', { url: 'https://open.feishu.cn/open-apis/bot/v2/hook/' }, /^url: url must be the bot webhook/],
    ['an empty secret', { url, secret: '' }, /^secret: secret must not be empty/],
    ['a numeric secret', { url, secret: 42 }, /^secret: secret must be a string/],
    ['an unknown field', { url, token: 'x' }, /^token: unknown field$/],
  ])('configSchema rejects %s, naming the field', (_name, value, message) => {
    expect(problems(feishu.configSchema, value)).toMatch(message);
  });
});

describe('dingtalk', () => {
  const url = 'https://oapi.dingtalk.com/robot/send?access_token=8f1e2d3c4b5a69788796a5b4c3d2e1f0';
  const now = 1700000000000;

  it('sends an actionCard with the markdown text and one button per link, side by side', () => {
    const req = dingtalk.request({ url }, page(), now);
    expect(req.url).toBe(url);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    const body = bodyOf(req.body);
    expect(Object.keys(body).sort()).toEqual(['actionCard', 'msgtype']);
    expect(body.msgtype).toBe('actionCard');
    const card = body.actionCard;
    expect(card.title).toBe('P1 eu-west: stall_ratio 7.5% (> 0.05)');
    expect(card.btnOrientation).toBe('1');
    expect(card.btns).toEqual([
      { title: 'Acknowledge', actionURL: ACK },
      { title: 'Resolve', actionURL: RESOLVE },
      { title: 'Open incident', actionURL: INCIDENT },
    ]);
    expect(card.text).toBe(
      [
        '### P1 eu-west: stall_ratio 7.5% (> 0.05)',
        'stall_ratio 7.5% over 5m (threshold 0.05)\n\nviewers affected: 1204',
        '- **Incident:** #12\n- **Priority:** P1\n- **Tenant:** acme\n- **Region:** eu-west\n- **State:** open',
        '**Runbook:** [https://wiki.example.com/runbooks/stall](https://wiki.example.com/runbooks/stall)',
        `**Timeline**\n\n${TIMELINE.slice(2).map((l) => `- ${l}`).join('\n')}`,
      ].join('\n\n'),
    );
  });

  it('sends markdown with the links inline when it mentions someone (DingTalk notifies mentions only there)', () => {
    const body = bodyOf(dingtalk.request({ url }, page({ mention: '13800000001' }), now).body);
    expect(body.msgtype).toBe('markdown');
    expect(body.at).toEqual({ atMobiles: ['13800000001'] });
    expect(body.markdown.text).toContain('@13800000001');
    expect(body.markdown.text.endsWith(`[Acknowledge](${ACK}) · [Resolve](${RESOLVE}) · [Open incident](${INCIDENT})`)).toBe(true);
    const bare = bodyOf(dingtalk.request({ url }, page({ mention: 'user123', ...noLinks, runbook: undefined }), now).body);
    expect(bare).toMatchObject({ msgtype: 'markdown', at: { atUserIds: ['user123'] } });
    expect(bare.markdown.text).not.toContain('](');
  });

  it('has only the buttons whose link exists', () => {
    const body = bodyOf(dingtalk.request({ url }, page({ ...noLinks, resolveUrl: RESOLVE }), now).body);
    expect(body.actionCard.btns).toEqual([{ title: 'Resolve', actionURL: RESOLVE }]);
  });

  it('sends markdown (no actionCard, no buttons) when the page has no links', () => {
    const body = bodyOf(dingtalk.request({ url }, page(noLinks), now).body);
    expect(Object.keys(body).sort()).toEqual(['markdown', 'msgtype']);
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.title).toBe('P1 eu-west: stall_ratio 7.5% (> 0.05)');
    expect(body.markdown.text).toMatch(/^### P1 eu-west/);
    expect(body.markdown.text).toContain('viewers affected: 1204');
    expect(JSON.stringify(body)).not.toContain('btns');
  });

  it.each<[string, string, object]>([
    ['a mobile number', '13800000000', { atMobiles: ['13800000000'] }],
    ['a mobile number with a country code', '+86-13800000000', { atMobiles: ['+86-13800000000'] }],
    ['a user id', 'manager7140', { atUserIds: ['manager7140'] }],
  ])('mentions %s in `at` and as @handle in the text (actionCard and markdown)', (_name, handle, at) => {
    for (const p of [page({ mention: handle }), page({ ...noLinks, mention: handle })]) {
      const body = bodyOf(dingtalk.request({ url }, p, now).body);
      expect(body.at).toEqual(at);
      const text = body.actionCard?.text ?? body.markdown.text;
      expect(text.split('\n\n')[1]).toBe(`@${handle}`);
    }
  });

  it('has no `at` and no @ without a handle', () => {
    const body = bodyOf(dingtalk.request({ url }, page(), now).body);
    expect(body).not.toHaveProperty('at');
    expect(body.actionCard.text).not.toContain('@');
  });

  it('signs by appending &timestamp=<ms>&sign=<urlencoded base64(HMAC-SHA256(key=secret, "timestamp\\nsecret"))>', () => {
    const secret = 'SEC3f0b9d2a7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a';
    const req = dingtalk.request({ url, secret }, page(), now);
    const independent = createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(`${now}\n${secret}`, 'utf8')).digest('base64');
    expect(req.url).toBe(`${url}&timestamp=1700000000000&sign=${encodeURIComponent(independent)}`);
    const parsed = new URL(req.url);
    expect(parsed.searchParams.get('access_token')).toBe('8f1e2d3c4b5a69788796a5b4c3d2e1f0');
    expect(parsed.searchParams.get('sign')).toBe(independent);
    expect(req.url.split('sign=')[1]).not.toMatch(/[+/=]/);
    // The signature goes in the URL only: the body is the plain message.
    expect(Object.keys(bodyOf(req.body)).sort()).toEqual(['actionCard', 'msgtype']);
  });

  it('reproduces a published vector: timestamp 1700000000000, secret "secret"', () => {
    // DingTalk's guide shows the algorithm with the current time; this fixed pair and its result are the test vector
    // of the third-party `dingding` crate (docs.rs/crate/dingding/0.1.1/source/src/signature.rs).
    const req = dingtalk.request({ url, secret: 'secret' }, page(), 1700000000000);
    expect(req.url).toBe(`${url}&timestamp=1700000000000&sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D`);
  });

  it('leaves the URL alone without a secret', () => {
    expect(dingtalk.request({ url }, page(), now).url).toBe(url);
  });

  it('check: errcode 0 is a success', () => {
    expect(dingtalk.check(200, '{"errcode":0,"errmsg":"ok"}')).toEqual({ ok: true });
  });

  it.each<[string, number, string, boolean, RegExp]>([
    ['310000 keywords not in content, HTTP 200', 200, '{"errcode":310000,"errmsg":"keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}', false, /errcode 310000: keywords not in content.*security settings/],
    ['310000 sign not match, HTTP 200', 200, '{"errcode":310000,"errmsg":"sign not match"}', false, /errcode 310000: sign not match/],
    ['130101 send too fast, HTTP 200', 200, '{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}', true, /errcode 130101: send too fast/],
    ['-1 system busy, HTTP 200', 200, '{"errcode":-1,"errmsg":"系统繁忙"}', true, /errcode -1: 系统繁忙/],
    ['300001 invalid token, HTTP 200', 200, '{"errcode":300001,"errmsg":"token is not exist"}', false, /errcode 300001: token is not exist/],
    ['HTTP 429', 429, 'Too Many Requests', true, /^HTTP 429: Too Many Requests/],
    ['HTTP 500', 500, '', true, /^HTTP 500$/],
    ['HTTP 503', 503, 'unavailable', true, /^HTTP 503/],
    ['HTTP 403', 403, 'forbidden', false, /^HTTP 403/],
    ['HTTP 200 that is not JSON', 200, 'ok', false, /without a DingTalk reply: "ok"/],
    ['HTTP 200 with a string errcode', 200, '{"errcode":"0"}', false, /without a DingTalk reply/],
  ])('check: %s → failure, retryable %s', (_name, status, body, retryable, reason) => {
    const v = dingtalk.check(status, body);
    expect(v).toMatchObject({ ok: false, retryable });
    expect(!v.ok && v.reason).toMatch(reason);
  });

  it('secrets: the webhook URL (its access token) and the signing secret', () => {
    expect(dingtalk.secrets({ url, secret: 'SECabc' })).toEqual([url, 'SECabc']);
    expect(dingtalk.secrets({ url })).toEqual([url]);
  });

  it('configSchema accepts a robot webhook with or without a SEC… secret', () => {
    expect(dingtalk.configSchema.parse({ url, secret: 'SECabc123' })).toEqual({ url, secret: 'SECabc123' });
    expect(dingtalk.configSchema.parse({ url })).toEqual({ url });
  });

  it.each<[string, unknown, RegExp]>([
    ['a missing url', {}, /^url: url is required \(the robot webhook, https:\/\/oapi\.dingtalk\.com\/robot\/send\?access_token=…\)$/],
    ['an http url', { url: 'http://oapi.dingtalk.com/robot/send?access_token=abc' }, /^url: url must use https \(plain http only to a loopback address/],
    ['a url without access_token', { url: 'https://oapi.dingtalk.com/robot/send' }, /^url: url must be the robot webhook/],
    ['an empty access_token', { url: 'https://oapi.dingtalk.com/robot/send?access_token=' }, /^url: url must be the robot webhook/],
    ['no access token', { url: 'https://oapi.dingtalk.com/robot/send' }, /^url: url must be the robot webhook/],
    ['a url already signed', { url: `${url}&timestamp=1&sign=x` }, /^url: url must not carry timestamp or sign/],
    ['a secret that is not SEC…', { url, secret: '8f1e2d3c4b5a' }, /^secret: secret must be the robot’s signing secret, which starts with "SEC"/],
    ['an unknown field', { url, keyword: 'alert' }, /^keyword: unknown field$/],
  ])('configSchema rejects %s, naming the field', (_name, value, message) => {
    expect(problems(dingtalk.configSchema, value)).toMatch(message);
  });
});

describe('wecom', () => {
  const url = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
  const now = 1700000000000;
  const content = (p: PageMessage): string => {
    const body = bodyOf(wecom.request({ url }, p, now).body);
    expect(Object.keys(body).sort()).toEqual(['markdown', 'msgtype']);
    expect(body.msgtype).toBe('markdown');
    expect(Object.keys(body.markdown)).toEqual(['content']);
    return body.markdown.content;
  };
  const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

  it('sends markdown: coloured title, mention, text, facts, runbook and ack/resolve links, the last 5 timeline lines', () => {
    const req = wecom.request({ url }, page({ mention: 'zhangsan' }), now);
    expect(req.url).toBe(url);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(content(page({ mention: 'zhangsan' }))).toBe(
      [
        '## <font color="warning">P1 eu-west: stall_ratio 7.5% (> 0.05)</font>',
        '<@zhangsan>',
        'stall_ratio 7.5% over 5m (threshold 0.05)',
        'viewers affected: 1204',
        '> Incident: <font color="comment">#12</font>',
        '> Priority: <font color="comment">P1</font>',
        '> Tenant: <font color="comment">acme</font>',
        '> Region: <font color="comment">eu-west</font>',
        '> State: <font color="comment">open</font>',
        'Runbook: [https://wiki.example.com/runbooks/stall](https://wiki.example.com/runbooks/stall)',
        ...TIMELINE.slice(2).map((l) => `> <font color="comment">${l}</font>`),
        `[Acknowledge](${ACK}) · [Resolve](${RESOLVE}) · [Open incident](${INCIDENT})`,
      ].join('\n'),
    );
  });

  it.each<[Priority, string]>([
    ['P0', 'warning'],
    ['P1', 'warning'],
    ['P2', 'comment'],
    ['P3', 'comment'],
  ])('%s → title colour %s', (priority, colour) => {
    expect(content(page({ priority })).split('\n')[0]).toBe(`## <font color="${colour}">P1 eu-west: stall_ratio 7.5% (> 0.05)</font>`);
  });

  it('has no links without URLs, only the links that exist, no mention without a handle, a plain runbook as text', () => {
    const bare = content(page({ ...noLinks, runbook: 'restart the edge pool' }));
    expect(bare).not.toMatch(/\]\(/);
    expect(bare).not.toContain('<@');
    expect(bare).toContain('\nRunbook: restart the edge pool\n');
    expect(content(page({ ...noLinks, ackUrl: ACK })).split('\n').at(-1)).toBe(`[Acknowledge](${ACK})`);
  });

  describe('4096-byte limit', () => {
    const cjk = '卡顿率超过阈值'.repeat(400); // 2800 characters, 8400 bytes, on one line
    const emoji = '🔥'.repeat(2000); // 4000 characters (surrogate pairs), 8000 bytes

    it.each<[string, Partial<PageMessage>]>([
      ['one long line of CJK', { text: cjk }],
      ['one long line of emoji', { text: emoji }],
      ...[0, 1, 2, 3].map((shift): [string, Partial<PageMessage>] => [`CJK and emoji, shifted by ${shift}`, { text: `${'a'.repeat(shift)}${cjk}${emoji}` }]),
      ['many lines', { text: Array.from({ length: 400 }, (_, i) => `line ${i}: 卡顿`).join('\n') }],
      ['long timeline lines', { timeline: Array.from({ length: 5 }, (_, i) => `14:0${i} ${'延迟'.repeat(400)}`) }],
      ['a long title and mention', { title: 'P1 '.repeat(1000), mention: 'u'.repeat(1000), text: cjk }],
    ])('keeps %s within 4096 bytes, whole characters, the title, mention and links', (_name, over) => {
      const c = content(page({ mention: 'zhangsan', ...over }));
      expect(utf8(c)).toBeLessThanOrEqual(4096);
      expect(Buffer.from(c, 'utf8').toString('utf8')).toBe(c); // no lone surrogate (it would not survive UTF-8)
      expect(c).toMatch(/^## <font color="warning">/);
      expect(c).toMatch(/\n<@(zhangsan|u+…?)>\n/);
      expect(c.split('\n').at(-1)).toBe(`[Acknowledge](${ACK}) · [Resolve](${RESOLVE}) · [Open incident](${INCIDENT})`);
      expect(c).toContain('…');
      expect(c.match(/<font /g)?.length).toBe(c.match(/<\/font>/g)?.length); // no tag left open by a cut
    });

    it('does not cut a message that fits', () => {
      const c = content(page());
      expect(utf8(c)).toBeLessThan(4096);
      expect(c).not.toContain('…');
    });

    it('uses the room: a long text is cut close to the limit, not far below it', () => {
      expect(utf8(content(page({ text: cjk })))).toBeGreaterThan(4096 - 8);
    });
  });

  it('check: errcode 0 is a success', () => {
    expect(wecom.check(200, '{"errcode":0,"errmsg":"ok"}')).toEqual({ ok: true });
  });

  it.each<[string, number, string, boolean, RegExp]>([
    ['93000 invalid webhook url, HTTP 200', 200, '{"errcode":93000,"errmsg":"invalid webhook url, hint: [1700000000_1_abc], from ip: 1.2.3.4"}', false, /errcode 93000: invalid webhook url.*wrong key/],
    ['45009 api freq out of limit, HTTP 200', 200, '{"errcode":45009,"errmsg":"api freq out of limit, hint: [1700000000_1_abc]"}', true, /errcode 45009: api freq out of limit/],
    ['-1 system busy, HTTP 200', 200, '{"errcode":-1,"errmsg":"system busy"}', true, /errcode -1: system busy/],
    ['40058 invalid content, HTTP 200', 200, '{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}', false, /errcode 40058: markdown\.content exceed/],
    ['HTTP 429', 429, '', true, /^HTTP 429$/],
    ['HTTP 502', 502, 'bad gateway', true, /^HTTP 502: bad gateway/],
    ['HTTP 400', 400, 'bad request', false, /^HTTP 400/],
    ['HTTP 200 that is not JSON', 200, '', false, /without a WeCom reply/],
    ['HTTP 200 with a JSON array', 200, '[]', false, /without a WeCom reply/],
  ])('check: %s → failure, retryable %s', (_name, status, body, retryable, reason) => {
    const v = wecom.check(status, body);
    expect(v).toMatchObject({ ok: false, retryable });
    expect(!v.ok && v.reason).toMatch(reason);
  });

  it('secrets: the webhook URL (its key is the credential)', () => {
    expect(wecom.secrets({ url })).toEqual([url]);
  });

  it('configSchema accepts a group robot webhook', () => {
    expect(wecom.configSchema.parse({ url })).toEqual({ url });
  });

  it.each<[string, unknown, RegExp]>([
    ['a missing url', {}, /^url: url is required \(the group robot webhook, https:\/\/qyapi\.weixin\.qq\.com\/cgi-bin\/webhook\/send\?key=…\)$/],
    ['an http url', { url: 'http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc' }, /^url: url must use https \(plain http only to a loopback address/],
    ['a url without key', { url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' }, /^url: url must be the group robot webhook/],
    ['another path', { url: 'https://qyapi.weixin.qq.com/cgi-bin/message/send?key=abc' }, /^url: url must be the group robot webhook/],
    ['no key', { url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' }, /^url: url must be the group robot webhook/],
    ['a secret (WeCom robots have none)', { url, secret: 'x' }, /^secret: unknown field$/],
  ])('configSchema rejects %s, naming the field', (_name, value, message) => {
    expect(problems(wecom.configSchema, value)).toMatch(message);
  });
});

describe('endpoint URLs: the documented path is enforced, the host is not', () => {
  // Self-hosted Lark, egress proxies and loopback test receivers use other hosts with the same path.
  const cases = [
    ['feishu', feishu, '/open-apis/bot/v2/hook/tok123'],
    ['dingtalk', dingtalk, '/robot/send?access_token=tok123'],
    ['wecom', wecom, '/cgi-bin/webhook/send?key=tok123'],
  ] as const;
  it.each(cases)('%s accepts a relay on loopback (http) or another https host', (_name, provider, path) => {
    for (const base of ['http://127.0.0.1:8080', 'http://localhost:9000', 'https://relay.example.com']) {
      expect(provider.configSchema.safeParse({ url: `${base}${path}` }).success, `${base}${path}`).toBe(true);
    }
  });
});
