import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { truncate } from '../../src/notify/render.js';
import type { PageMessage } from '../../src/notify/channel.js';
import { slack } from '../../src/notify/channels/slack/index.js';
import { teams } from '../../src/notify/channels/teams/index.js';
import { webhook, webhookSignature } from '../../src/notify/channels/webhook/index.js';

/** A fully populated page: links, mention, runbook, a timeline longer than chat messages show. */
const PAGE: PageMessage = {
  kind: 'opened',
  incidentId: 42,
  priority: 'P1',
  tenant: 'acme',
  region: 'eu-west',
  state: 'open',
  title: 'P1 eu-west: stall_ratio 7.5% (> 0.05)',
  text: 'stall_ratio 7.5% over 5m (> 0.05) on 1,204 sessions & rising <fast>',
  runbook: 'https://wiki.example.com/runbooks/stalls',
  timeline: ['14:00 a', '14:01 b', '14:02 c', '14:03 d', '14:04 e', '14:05 qoswatch opened P1', '14:06 paged alice'],
  ackUrl: 'https://qos.example.com/a/42?sig=ack',
  resolveUrl: 'https://qos.example.com/r/42?sig=res',
  incidentUrl: 'https://qos.example.com/incidents/42',
  mention: 'U024BE7LH',
  key: 'inc-42:opened:alice:slack',
};
/** The same page without any optional part: no links, no mention, no runbook, no region, no timeline. */
const BARE: PageMessage = { ...PAGE, region: undefined, runbook: undefined, timeline: [], ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined, mention: undefined };

const NOW = 1_718_000_000_999; // epoch ms; X-Timestamp is the whole second 1718000000
type Json = any;
const json = (body: string): Json => JSON.parse(body);

/** The messages of a schema's rejection, each prefixed by the path, as the on-call file check prints them. */
function rejection(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): string {
  const r = schema.safeParse(value);
  expect(r.success, `accepted ${JSON.stringify(value)}`).toBe(false);
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('slack', () => {
  const config = slack.configSchema.parse({ url: 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX' });

  it('posts JSON with a fallback text and Block Kit blocks to the webhook URL', () => {
    const req = slack.request(config, PAGE, NOW);
    expect(req.url).toBe(config.url);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    const body = json(req.body);
    expect(Object.keys(body)).toEqual(['text', 'blocks']);
    expect(body.text).toBe('<@U024BE7LH> P1 eu-west: stall_ratio 7.5% (&gt; 0.05)');
    expect(body.blocks.map((b: Json) => b.type)).toEqual(['header', 'section', 'context', 'section', 'section', 'actions']);
    const [header, summary, context, runbook, timeline] = body.blocks;
    expect(header.text).toEqual({ type: 'plain_text', text: PAGE.title, emoji: true });
    // mrkdwn: the mention first, then the text with &, < and > escaped as Slack requires, verbatim (nothing linked)
    expect(summary.text).toEqual({ type: 'mrkdwn', text: '<@U024BE7LH> stall_ratio 7.5% over 5m (&gt; 0.05) on 1,204 sessions &amp; rising &lt;fast&gt;', verbatim: true });
    expect(context.elements.map((e: Json) => e.text)).toEqual(['*Incident:* #42', '*Priority:* P1', '*Tenant:* acme', '*Region:* eu-west', '*State:* open']);
    expect(context.elements.every((e: Json) => e.type === 'mrkdwn' && e.verbatim === true)).toBe(true);
    expect(runbook.text.text).toBe('*Runbook:* <https://wiki.example.com/runbooks/stalls>');
    // the last five timeline entries, oldest first
    expect(timeline.text.text).toBe('*Timeline*\n14:02 c\n14:03 d\n14:04 e\n14:05 qoswatch opened P1\n14:06 paged alice');
  });

  it('links a runbook URL explicitly (verbatim text links nothing by itself) and shows any other runbook as text', () => {
    const runbook = (r: string) => json(slack.request(config, { ...BARE, runbook: r }, NOW).body).blocks.find((b: Json) => b.text?.text?.startsWith('*Runbook:*')).text;
    expect(runbook('https://wiki.example.com/a|b&c')).toEqual({ type: 'mrkdwn', text: '*Runbook:* <https://wiki.example.com/a%7Cb&amp;c>', verbatim: true });
    expect(runbook('ask <!channel> & see wiki')).toEqual({ type: 'mrkdwn', text: '*Runbook:* ask &lt;!channel&gt; &amp; see wiki', verbatim: true });
  });

  it('has Acknowledge / Resolve / Open incident url buttons when the links exist', () => {
    const actions = json(slack.request(config, PAGE, NOW).body).blocks.at(-1);
    expect(actions.elements).toEqual([
      { type: 'button', action_id: 'qoswatch_ack', text: { type: 'plain_text', text: 'Acknowledge' }, url: PAGE.ackUrl, style: 'primary' },
      { type: 'button', action_id: 'qoswatch_resolve', text: { type: 'plain_text', text: 'Resolve' }, url: PAGE.resolveUrl },
      { type: 'button', action_id: 'qoswatch_incident', text: { type: 'plain_text', text: 'Open incident' }, url: PAGE.incidentUrl },
    ]);
    const onlyAck = json(slack.request(config, { ...BARE, ackUrl: PAGE.ackUrl }, NOW).body).blocks.at(-1);
    expect(onlyAck.elements.map((e: Json) => e.text.text)).toEqual(['Acknowledge']);
  });

  it('has no buttons, mention, runbook, region or timeline when the page has none', () => {
    const req = slack.request(config, BARE, NOW);
    const body = json(req.body);
    expect(body.blocks.map((b: Json) => b.type)).toEqual(['header', 'section', 'context']);
    expect(req.body).not.toContain('<@');
    expect(body.blocks[1].text.text).toBe('stall_ratio 7.5% over 5m (&gt; 0.05) on 1,204 sessions &amp; rising &lt;fast&gt;');
    expect(body.blocks[2].elements.map((e: Json) => e.text)).toEqual(['*Incident:* #42', '*Priority:* P1', '*Tenant:* acme', '*State:* open']);
  });

  it('keeps within Block Kit limits (header ≤ 150 characters) and skips an empty section', () => {
    const body = json(slack.request(config, { ...BARE, title: 'x'.repeat(400), text: '' }, NOW).body);
    expect(body.blocks[0].text.text).toHaveLength(150);
    expect(body.blocks[0].text.text.endsWith('…')).toBe(true);
    expect(body.blocks.map((b: Json) => b.type)).toEqual(['header', 'context']);
  });

  it('succeeds only on HTTP 200 with the body "ok"', () => {
    expect(slack.check(200, 'ok')).toEqual({ ok: true });
    expect(slack.check(200, '')).toMatchObject({ ok: false, retryable: false });
    expect(slack.check(204, '')).toMatchObject({ ok: false, retryable: false });
    expect(slack.check(200, '<html>proxy login</html>')).toMatchObject({ ok: false, retryable: false });
  });

  // Slack's documented incoming-webhook errors, with the status it sends them with
  it.each([
    [400, 'invalid_payload'],
    [400, 'no_text'],
    [400, 'user_not_found'],
    [400, 'too_many_attachments'],
    [400, 'no_service_id'],
    [400, 'no_team'],
    [403, 'action_prohibited'],
    [403, 'posting_to_general_channel_denied'],
    [403, 'invalid_token'],
    [404, 'channel_not_found'],
    [404, 'no_service'],
    [404, 'team_disabled'],
    [410, 'channel_is_archived'],
  ])('HTTP %i %s is a permanent failure naming the error', (status, code) => {
    const v = slack.check(status, code);
    expect(v).toMatchObject({ ok: false, retryable: false });
    expect(!v.ok && v.reason).toContain(code);
  });

  it.each(['invalid_payload', 'channel_is_archived', 'action_prohibited', 'invalid_token', 'no_service', 'team_disabled'])('HTTP 200 with the body %s is a failure', (code) => {
    const v = slack.check(200, code);
    expect(v).toMatchObject({ ok: false, retryable: false });
    expect(!v.ok && v.reason).toContain(code);
  });

  it.each([
    [429, 'rate_limited', true],
    [500, 'rollup_error', true],
    [502, '', true],
    [503, 'Service Unavailable', true],
    [400, 'something_new', false],
    [401, '', false],
    [413, '', false],
  ])('HTTP %i %j → retryable %s', (status, body, retryable) => {
    expect(slack.check(status, body)).toMatchObject({ ok: false, retryable });
  });

  it('lists the webhook URL as its secret', () => {
    expect(slack.secrets(config)).toEqual([config.url]);
  });

  it('rejects bad configs with a message naming the field', () => {
    expect(rejection(slack.configSchema, {})).toMatch(/^url: url is required/);
    expect(rejection(slack.configSchema, { url: 'http://hooks.slack.com/services/T/B/x' })).toMatch(/^url: url must use https \(plain http only to a loopback address/);
    expect(rejection(slack.configSchema, { url: 'hooks.slack.com/services/T/B/x' })).toMatch(/^url: url must be an https URL/);
    expect(rejection(slack.configSchema, { url: 42 })).toMatch(/^url: url must/);
    expect(rejection(slack.configSchema, { url: config.url, channel: '#ops' })).toContain('"channel"');
  });
});

describe('teams', () => {
  const config = teams.configSchema.parse({
    url: 'https://prod-12.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SiGnAtUrE0123456789',
  });
  const TEAMS_PAGE: PageMessage = { ...PAGE, mention: 'alice@example.com' };

  it('posts a message with one Adaptive Card 1.4 attachment', () => {
    const req = teams.request(config, TEAMS_PAGE, NOW);
    expect(req.url).toBe(config.url);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    const body = json(req.body);
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    const [att] = body.attachments;
    expect(att.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(att.contentUrl).toBeNull();
    expect(att.content).toMatchObject({ $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4' });

    const blocks = att.content.body as Json[];
    /** A RichTextBlock's runs as [text, the run's other properties]. */
    const runs = (b: Json) => (b.type === 'RichTextBlock' ? b.inlines.map(({ type, text, ...more }: Json) => (type === 'TextRun' ? [text, more] : [type])) : [b.type]);
    // What qoswatch did not write is in TextRuns, which Teams does not read as Markdown
    expect(runs(blocks[0])).toEqual([[PAGE.title, { size: 'Medium', weight: 'Bolder', color: 'Attention' }]]);
    expect(blocks.slice(2).map(runs)).toEqual([
      [[PAGE.text, {}]],
      [['Incident: ', { weight: 'Bolder' }], ['#42', {}]],
      [['Priority: ', { weight: 'Bolder' }], ['P1', {}]],
      [['Tenant: ', { weight: 'Bolder' }], ['acme', {}]],
      [['Region: ', { weight: 'Bolder' }], ['eu-west', {}]],
      [['State: ', { weight: 'Bolder' }], ['open', {}]],
      // the runbook URL is a link
      [['Runbook: ', { weight: 'Bolder' }], [PAGE.runbook, { underline: true, selectAction: { type: 'Action.OpenUrl', url: PAGE.runbook } }]],
      ['TextBlock'],
      ...['14:02 c', '14:03 d', '14:04 e', '14:05 qoswatch opened P1', '14:06 paged alice'].map((l) => [[l, { isSubtle: true }]]),
    ]);
    expect(blocks.find((b) => b.type === 'TextBlock' && b.text === '**Timeline**')).toBeDefined();
    expect(JSON.stringify(blocks)).not.toContain('14:01 b');
  });

  it('shows each line of the text in its own block, and a runbook that is not one URL as text', () => {
    const card = json(teams.request(config, { ...BARE, text: 'line one\nline two', runbook: 'page the [CDN](x) on-call' }, NOW).body).attachments[0].content;
    const texts = card.body.filter((b: Json) => b.type === 'RichTextBlock').map((b: Json) => b.inlines.map((i: Json) => i.text).join(''));
    expect(texts).toEqual(expect.arrayContaining(['line one', 'line two', 'Runbook: page the [CDN](x) on-call']));
    expect(JSON.stringify(card)).not.toContain('selectAction');
  });

  it('has Action.OpenUrl Acknowledge / Resolve / Open incident actions when the links exist', () => {
    const card = json(teams.request(config, TEAMS_PAGE, NOW).body).attachments[0].content;
    expect(card.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Acknowledge', url: PAGE.ackUrl },
      { type: 'Action.OpenUrl', title: 'Resolve', url: PAGE.resolveUrl },
      { type: 'Action.OpenUrl', title: 'Open incident', url: PAGE.incidentUrl },
    ]);
    const onlyResolve = json(teams.request(config, { ...BARE, resolveUrl: PAGE.resolveUrl }, NOW).body).attachments[0].content;
    expect(onlyResolve.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Resolve', url: PAGE.resolveUrl }]);
  });

  it('mentions with <at>handle</at> in the card text and a matching msteams mention entity', () => {
    const card = json(teams.request(config, TEAMS_PAGE, NOW).body).attachments[0].content;
    expect(card.msteams.entities).toEqual([{ type: 'mention', text: '<at>alice@example.com</at>', mentioned: { id: 'alice@example.com', name: 'alice@example.com' } }]);
    // Teams only resolves an entity whose text appears in the card
    expect(card.body.some((b: Json) => b.type === 'TextBlock' && b.text.includes('<at>alice@example.com</at>'))).toBe(true);
  });

  it('has no actions, mention, runbook, region or timeline when the page has none', () => {
    const req = teams.request(config, { ...BARE, priority: 'P3' }, NOW);
    const card = json(req.body).attachments[0].content;
    expect(card.actions).toEqual([]);
    expect(card.msteams).toBeUndefined();
    expect(req.body).not.toContain('<at>');
    expect(card.body.map((b: Json) => b.type)).toEqual(Array(6).fill('RichTextBlock'));
    expect(card.body[0].inlines[0].color).toBeUndefined();
    expect(card.body.slice(2).map((b: Json) => b.inlines[0].text)).toEqual(['Incident: ', 'Priority: ', 'Tenant: ', 'State: ']);
  });

  it.each([
    [202, ''],
    [200, ''],
    [200, '1'], // the retired O365 connector's success body
    [202, '{"status":"accepted"}'],
  ])('HTTP %i %j is a success', (status, body) => {
    expect(teams.check(status, body)).toEqual({ ok: true });
  });

  it.each([
    [202, '{"error":{"code":"WorkflowTriggerIsNotEnabled","message":"The workflow is disabled."}}', false],
    [200, '{"error":{"code":"InvalidTemplate","message":"Unable to process template language expressions."}}', false],
    [200, '{"error":{"code":"TooManyRequests","message":"Rate limit is exceeded."}}', true],
    [200, 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId MS-CV=abc', true],
    [200, 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 400 with ContextId MS-CV=abc', false],
  ])('HTTP %i with the error body %j is a failure (retryable %s)', (status, body, retryable) => {
    const v = teams.check(status, body);
    expect(v).toMatchObject({ ok: false, retryable });
    if (body.startsWith('{')) expect(!v.ok && v.reason).toContain(json(body).error.code);
  });

  it.each([
    [429, '', true],
    [500, '', true],
    [502, '{"error":{"code":"BadGateway"}}', true],
    [503, '', true],
    [400, '{"error":{"code":"InvalidRequestContent","message":"bad JSON"}}', false],
    [401, '{"error":{"code":"DirectApiAuthorizationRequired"}}', false],
    [404, '{"error":{"code":"WorkflowNotFound"}}', false],
    [204, '', false],
  ])('HTTP %i %j → failure, retryable %s', (status, body, retryable) => {
    expect(teams.check(status, body)).toMatchObject({ ok: false, retryable });
  });

  it('lists the workflow URL as its secret', () => {
    expect(teams.secrets(config)).toEqual([config.url]);
  });

  it('rejects bad configs with a message naming the field', () => {
    expect(rejection(teams.configSchema, {})).toMatch(/^url: url is required/);
    expect(rejection(teams.configSchema, { url: 'http://prod-12.westeurope.logic.azure.com/workflows/x' })).toMatch(/^url: url must use https \(plain http only to a loopback address/);
    expect(rejection(teams.configSchema, { url: 'not a url' })).toMatch(/^url: url must be an https URL/);
    expect(rejection(teams.configSchema, { url: config.url, webhook: 'x' })).toContain('"webhook"');
  });
});

describe('webhook', () => {
  const SECRET = 'whsec-0123456789abcdef';
  const config = webhook.configSchema.parse({ url: 'https://hooks.example.com/qoswatch/tok_3f9a8b7c6d5e', secret: SECRET, headers: { Authorization: 'Bearer abc.def.ghi' } });

  it('posts a stable JSON document of the page', () => {
    const req = webhook.request(config, PAGE, NOW);
    expect(req.url).toBe(config.url);
    // byte for byte: fields in this order, so receivers and their signature checks see one stable document
    expect(req.body).toBe(
      JSON.stringify({
        kind: 'opened',
        key: 'inc-42:opened:alice:slack',
        incident: {
          id: 42,
          priority: 'P1',
          state: 'open',
          tenant: 'acme',
          region: 'eu-west',
          title: PAGE.title,
          text: PAGE.text,
          runbook: PAGE.runbook,
          timeline: PAGE.timeline,
        },
        links: { ack: PAGE.ackUrl, resolve: PAGE.resolveUrl, incident: PAGE.incidentUrl },
        mention: 'U024BE7LH',
        storm: null,
        ticket: null,
      }),
    );
  });

  it('passes a storm page`s incidents on as `storm`', () => {
    const incidents = [
      { id: 7, priority: 'P1' as const, state: 'open', title: 'stall_ratio 30% (> 0.2) — eu-west', regions: ['eu-west'] },
      { id: 9, priority: 'P1' as const, state: 'acknowledged', title: "alert groups beyond the tenant's 25 open incidents", regions: ['r-1', 'r-2'] },
    ];
    const body = json(webhook.request(config, { ...PAGE, incidentId: 0, region: undefined, storm: { id: 3, incidents } }, NOW).body);
    expect(body.incident).toMatchObject({ id: 0, region: null });
    expect(body.storm).toEqual({ id: 3, incidents });
  });

  it('keeps every field, as null, when the page has no value for it', () => {
    const body = json(webhook.request(config, BARE, NOW).body);
    expect(body.incident).toMatchObject({ region: null, runbook: null, timeline: [] });
    expect(body.links).toEqual({ ack: null, resolve: null, incident: null });
    expect(body.mention).toBeNull();
    expect(body.storm).toBeNull();
  });

  it('signs "<timestamp>.<body>" with HMAC-SHA256 and sends the idempotency key', () => {
    const req = webhook.request(config, PAGE, NOW);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['X-Timestamp']).toBe('1718000000');
    expect(req.headers['Idempotency-Key']).toBe(PAGE.key);
    expect(req.headers.Authorization).toBe('Bearer abc.def.ghi');
    // verified as a receiver would: an independent HMAC over the raw body
    const expected = createHmac('sha256', SECRET).update(`1718000000.${req.body}`).digest('hex');
    expect(req.headers['X-Signature']).toBe(`sha256=${expected}`);
    // another timestamp, secret or body does not verify
    expect(createHmac('sha256', SECRET).update(`1718000001.${req.body}`).digest('hex')).not.toBe(expected);
    expect(createHmac('sha256', 'another-secret-0123456789').update(`1718000000.${req.body}`).digest('hex')).not.toBe(expected);
    expect(createHmac('sha256', SECRET).update(`1718000000.${req.body.replace('"P1"', '"P2"')}`).digest('hex')).not.toBe(expected);
  });

  it('matches a fixed signature vector (computed with `openssl dgst -sha256 -hmac`)', () => {
    // printf '%s' '1700000000.{"kind":"opened"}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef' -hex
    expect(webhookSignature(SECRET, 1_700_000_000, '{"kind":"opened"}')).toBe('a4a4e0677d4f780dedd619d55218eec76fccc88d16b93a736a2828d82eea6b63');
  });

  it('re-signs a retry of the same page with its new timestamp and the same idempotency key', () => {
    const first = webhook.request(config, PAGE, NOW);
    const retry = webhook.request(config, PAGE, NOW + 30_000);
    expect(retry.body).toBe(first.body);
    expect(retry.headers['Idempotency-Key']).toBe(first.headers['Idempotency-Key']);
    expect(retry.headers['X-Timestamp']).toBe('1718000030');
    expect(retry.headers['X-Signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(`1718000030.${retry.body}`).digest('hex')}`);
  });

  it.each([200, 201, 202, 204])('HTTP %i is a success', (status) => {
    expect(webhook.check(status, '')).toEqual({ ok: true });
  });

  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [301, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [410, false],
    [422, false],
  ])('HTTP %i → failure, retryable %s', (status, retryable) => {
    const v = webhook.check(status, 'nope');
    expect(v).toMatchObject({ ok: false, retryable });
    expect(!v.ok && v.reason).toBe(`HTTP ${status}: nope`);
  });

  it('lists the URL, the secret and the configured header values as secrets', () => {
    expect(webhook.secrets(config)).toEqual([config.url, SECRET, 'Bearer abc.def.ghi']);
    expect(webhook.secrets(webhook.configSchema.parse({ url: 'https://hooks.example.com/x', secret: SECRET }))).toEqual(['https://hooks.example.com/x', SECRET]);
  });

  it('accepts https anywhere and plain http only on loopback', () => {
    for (const url of ['https://hooks.example.com/x', 'http://127.0.0.1:8080/hook', 'http://localhost:9000/', 'http://[::1]:8080/hook']) {
      expect(webhook.configSchema.safeParse({ url, secret: SECRET }).success, url).toBe(true);
    }
    expect(rejection(webhook.configSchema, { url: 'http://hooks.example.com/x', secret: SECRET })).toMatch(/^url: url must use https \(plain http only to a loopback address/);
    expect(rejection(webhook.configSchema, { url: 'ftp://hooks.example.com/x', secret: SECRET })).toMatch(/^url: url must be an https URL \(the webhook endpoint\)/);
  });

  it('rejects bad configs with a message naming the field', () => {
    expect(rejection(webhook.configSchema, { secret: SECRET })).toMatch(/^url: url is required/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/' })).toMatch(/^secret: secret is required/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: 'short' })).toMatch(/^secret: secret must be at least 16 characters/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: { 'X-Signature': 'forged' } })).toMatch(/^headers: the X-Signature header is set by qoswatch and cannot be configured in headers/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: { 'idempotency-key': 'k' } })).toMatch(/^headers: the idempotency-key header is set by qoswatch/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: { 'X-Evil': 'a\r\nHost: b' } })).toMatch(/^headers\.X-Evil: header values in headers may not contain line breaks/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: { 'bad name': 'x' } })).toMatch(/^headers\.bad name: a header name in headers may only contain/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: { 'X-Num': 1 } })).toMatch(/^headers\.X-Num: header values in headers must be strings/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, headers: ['Authorization: x'] })).toMatch(/^headers: headers must map header names to values/);
    expect(rejection(webhook.configSchema, { url: 'https://h.example.com/', secret: SECRET, hmac: 'x' })).toContain('"hmac"');
  });
});

describe('truncate', () => {
  it('never cuts an emoji (a surrogate pair) in half', () => {
    expect(truncate('😀'.repeat(10), 5)).toBe('😀😀😀😀…');
    expect(truncate('short', 5)).toBe('short');
  });
});
