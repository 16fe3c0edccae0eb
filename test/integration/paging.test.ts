import { createHash } from 'node:crypto';
import type { ParsedMail } from 'mailparser';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { type StartOptions, type TestApp, appsClosedAfterEach, postTelemetry } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import {
  type Entry, type OnCallDoc, LINK_SECRET, OPS_HOOK, PUBLIC_URL, RUNBOOK, WEBHOOK_SECRET, WECOM,
  mailLinks, pagingEntries, pagingOnCall, pagingRule, personIn, timeline, useLoopbackServers, writeOnCall,
} from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { type ReceivedRequest, acceptedOnce, header, json, webhookSignatureValid } from '../helpers/receiver.js';

/**
 * Paging end to end (issue 4, PRODUCT.md §3–§5) in the real app with an injected clock: telemetry over HTTP opens
 * an incident, the pager pages the on-call people by email to a real SMTP server (smtp-server, parsed with
 * mailparser) and by chat to a real HTTP receiver, both on loopback. Time only moves when a test moves `now`; each
 * step then runs one evaluation pass and one paging pass (`pager.tick()`: escalations that came due, then the due
 * outbox rows, including retries and fallbacks), so ack timeouts and retry backoff are exact — no sleeps.
 *
 * Fixture (test/helpers/paging.ts): alice is level 1, bob level 2, 5 min ack timeouts, repeat 1; both are paged
 * by email, then the `ops-hook` webhook. P1 pages every channel of a person at once, P2 the first (next on failure).
 */

const S = 1000;
const M = 60 * S;
/** Far from the real clock, so nothing depends on it. */
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const MAIL_FROM = 'qoswatch <pager@qos.example.test>';
/** Stall ratios the rule grades P1 (> 0.2) and P2 (> 0.05). */
const P1 = 0.3;
const P2 = 0.08;

let now = T0;
const { smtp, receiver } = useLoopbackServers();
beforeEach(() => {
  now = T0;
});

const startClosed = appsClosedAfterEach();

/** The app at T0 on the paging fixture (after `edit`), with SMTP, the chat receiver and a 1 h link TTL. */
function start(edit: (doc: OnCallDoc) => void = () => {}, o: Pick<StartOptions, 'dataDir' | 'keepData' | 'env' | 'config'> = {}): Promise<TestApp> {
  const doc = pagingOnCall((p) => receiver.url(p));
  edit(doc);
  return startClosed({
    ...o,
    clock: () => now,
    env: {
      QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc),
      SMTP_URL: smtp.url,
      MAIL_FROM,
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      QOSWATCH_LINK_TTL: '1h',
      QOSWATCH_PAGE_TIMEOUT: '2s',
      ...o.env,
    },
  });
}

/** Moves the clock to T0 + `offset`, sends 30 viewers per region at the given stall ratio, evaluates, pages. */
async function at(t: TestApp, offset: number, regions: Record<string, number> = {}): Promise<void> {
  now = T0 + offset;
  for (const [region, ratio] of Object.entries(regions)) await send(t.url, viewers(region, now, ratio));
  await t.app.alerting.tick(now);
  await t.app.pager.tick();
}

/** Moves the clock to `time` (absolute) and runs one paging pass. */
async function pagerAt(t: TestApp, time: number): Promise<void> {
  now = time;
  await t.app.pager.tick();
}

/** A stall storm in `region` at T0: returns its (one) incident. */
async function storm(t: TestApp, ratio: number, region = 'eu-west'): Promise<any> {
  await at(t, 0, { [region]: ratio });
  const list = (await incidents(t.url)).filter((i) => i.region === region);
  expect(list, `one incident in ${region}`).toHaveLength(1);
  return list[0];
}

const rcpt = (m: ParsedMail) => [m.to].flat().map((a) => a?.text).join(',');
const mailKind = (m: ParsedMail) => /\(incident #\d+ ([^)]+)\)$/.exec(m.subject ?? '')?.[1]?.toLowerCase();
const hooks = (path = OPS_HOOK) => receiver.to(path);

/**
 * Every page received so far as sorted "<channel> <recipient> <kind>" lines: mails by address and the kind in their
 * subject, webhook requests by mention and kind. A retried request appears once per attempt, a double page twice.
 */
function received(): string[] {
  return [
    ...smtp.mails.map((m) => `email ${rcpt(m)} ${mailKind(m)}`),
    ...receiver.requests.filter((r) => r.path.startsWith('/hooks/')).map((r) => `${r.path} ${json(r).mention} ${json(r).kind}`),
  ].sort();
}

/** The pages received since `before` (a snapshot of received()), sorted. */
function since(before: readonly string[]): string[] {
  const left = [...before];
  return received().filter((p) => {
    const i = left.indexOf(p);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Page lines as received() lists them (sorted). */
const pages = (...lines: string[]) => [...lines].sort();

const LINK = new RegExp(`^${PUBLIC_URL.replace(/[.]/g, '\\.')}/v1/links/[\\w-]+\\.[\\w-]+$`);

/**
 * Requests a signed link (GET shows, POST acts) on the app's loopback address instead of its public origin, without
 * following a redirect; `location` is the redirect's target as a path.
 */
async function follow(t: TestApp, link: string, method: 'GET' | 'POST'): Promise<{ status: number; type: string; html: string; location: string | undefined }> {
  expect(link).toMatch(LINK);
  const url = `${t.url}${new URL(link).pathname}`;
  const res = await fetch(url, { method, redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, type: res.headers.get('content-type') ?? '', html: await res.text(), location: location === null ? undefined : new URL(location, url).pathname };
}

/** Changes one character of a token at `index` (in its payload or its signature). */
function alter(link: string, index: (token: string) => number): string {
  const token = link.slice(link.lastIndexOf('/') + 1);
  const i = index(token);
  const swapped = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
  return `${link.slice(0, link.lastIndexOf('/') + 1)}${swapped}`;
}

const withData = (entries: Entry[], kind: string) => entries.filter((e) => e.kind === kind).map((e) => e.data);
/** The `next_at` of the latest retryable failure on the timeline: when the outbox will try that page again. */
async function nextRetry(t: TestApp, id: number): Promise<number> {
  const failed = withData(await pagingEntries(t.url, id), 'page_failed').filter((d) => d?.retrying);
  const nextAt = failed.at(-1)?.next_at;
  expect(nextAt, 'a retry is scheduled').toEqual(expect.any(Number));
  return nextAt as number;
}

describe('an incident opened by telemetry pages the on-call person', () => {
  it('by email (subject, values, runbook, signed links) and by a signed webhook; one page per channel for the whole storm', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    expect(inc).toMatchObject({ priority: 'P1', state: 'open', region: 'eu-west' });
    // The storm goes on: the same incident, no new page (per-incident coalescing).
    await at(t, 10 * S, { 'eu-west': P1 });
    await at(t, 20 * S, { 'eu-west': P1 });
    expect((await incidents(t.url)).map((i) => i.id)).toEqual([inc.id]);
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));

    const [mail] = smtp.mails;
    expect(mail!.subject).toBe(`[P1] eu-west: ${inc.title} (incident #${inc.id} opened)`);
    expect(mail!.from?.text).toContain('pager@qos.example.test');
    expect(rcpt(mail!)).toBe('alice@example.com');
    expect(mail!.text).toContain('stall-ratio: stall_ratio 0.3 (> 0.2, window 60000 ms, 30 samples');
    expect(mail!.text).toContain(`Runbook: ${RUNBOOK}`);
    expect(mail!.text).toMatch(/^Priority: P1$/m);
    expect(mail!.text).toMatch(/^Region: eu-west$/m);
    const links = mailLinks(mail!);
    expect(links.ack).toMatch(LINK);
    expect(links.resolve).toMatch(LINK);
    expect(links.ack).not.toBe(links.resolve);
    expect(mail!.html).toContain(`href="${links.ack}"`);
    expect(mail!.html).toContain(`href="${links.resolve}"`);

    const [hook] = hooks();
    expect(hook!.method).toBe('POST');
    expect(header(hook!, 'content-type')).toBe('application/json');
    expect(webhookSignatureValid(hook!, WEBHOOK_SECRET), 'X-Signature = sha256=HMAC(secret, "<X-Timestamp>.<body>")').toBe(true);
    expect(webhookSignatureValid(hook!, 'another-secret-0123456789')).toBe(false);
    expect(header(hook!, 'x-timestamp'), 'unix seconds of the (injected) clock').toBe(String(Math.floor(T0 / 1000)));
    const body = json(hook!);
    expect(Object.keys(body)).toEqual(['kind', 'key', 'incident', 'links', 'mention', 'storm', 'ticket']);
    expect(body).toEqual({
      kind: 'opened',
      key: header(hook!, 'idempotency-key'),
      incident: {
        id: inc.id, priority: 'P1', state: 'open', tenant: 'default', region: 'eu-west', title: `P1 eu-west: ${inc.title}`,
        text: expect.stringContaining('stall_ratio 0.3 (> 0.2'), runbook: RUNBOOK, timeline: expect.any(Array),
      },
      links: { ack: expect.stringMatching(LINK), resolve: expect.stringMatching(LINK), incident: null },
      mention: 'U-alice',
      storm: null,
      ticket: null,
    });
    expect(body.key).not.toBe('');

    const entries = await pagingEntries(t.url, inc.id);
    expect(entries.map((e) => e.kind)).toEqual(['paged', 'page_delivered', 'page_delivered']);
    expect(entries[0]).toMatchObject({ actor: 'qoswatch', data: { step: 0, round: 0, level: 0, people: ['alice'], channels: [], pages: 2 } });
    expect(withData(entries, 'page_delivered')).toEqual(
      expect.arrayContaining([
        { recipient: 'alice', channel: 'email', kind: 'opened', attempt: 1 },
        { recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 1 },
      ]),
    );
  });
});

describe('escalation', () => {
  it('no ack: nothing more at 4m59s; at 5m level 2 (bob) is paged as escalated; at 10m the policy repeats', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    const first = received();
    expect(first).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));

    await at(t, 5 * M - 1);
    expect(received(), 'level 1 waits its full ack timeout').toEqual(first);
    expect((await pagingEntries(t.url, inc.id)).map((e) => e.kind)).not.toContain('escalated');

    await at(t, 5 * M);
    expect(since(first)).toEqual(pages('email bob@example.com escalated', `${OPS_HOOK} U-bob escalated`));
    expect(smtp.mails.at(-1)!.subject).toBe(`[P1] eu-west: ${inc.title} (incident #${inc.id} ESCALATED)`);
    expect(json(hooks().at(-1)!)).toMatchObject({ kind: 'escalated', incident: { id: inc.id, state: 'open' }, mention: 'U-bob' });
    const escalated = (await pagingEntries(t.url, inc.id)).filter((e) => e.kind === 'escalated');
    expect(escalated).toEqual([expect.objectContaining({ actor: 'qoswatch', data: expect.objectContaining({ step: 1, round: 0, level: 1, people: ['bob'], pages: 2 }) })]);

    // repeat 1: level 1 again after level 2's timeout, then level 2 again; then the policy is done.
    const level2 = received();
    await at(t, 10 * M);
    expect(since(level2)).toEqual(pages('email alice@example.com escalated', `${OPS_HOOK} U-alice escalated`));
    const round1 = received();
    await at(t, 15 * M);
    await at(t, 60 * M);
    expect(since(round1)).toEqual(pages('email bob@example.com escalated', `${OPS_HOOK} U-bob escalated`));
    expect(withData(await pagingEntries(t.url, inc.id), 'escalated').map((d) => [d?.step, d?.round, d?.level])).toEqual([[1, 0, 1], [2, 1, 0], [3, 1, 1]]);
  });

  it('an incident that worsens from P2 to P1 reaches the person on every channel, chat included', async () => {
    // P2 pages the first channel (email); P1 pages every channel at once (PRODUCT.md §3: P1 is chat + email).
    const t = await start();
    const inc = await storm(t, P2);
    expect(received()).toEqual(['email alice@example.com opened']);
    await at(t, 10 * S, { 'eu-west': P1 });
    await at(t, 20 * S, { 'eu-west': P1 });
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body).toMatchObject({ priority: 'P1', state: 'open' });
    expect(smtp.mails.at(-1)!.subject).toMatch(new RegExp(`^\\[P1\\] eu-west: .* \\(incident #${inc.id} priority changed\\)$`));
    expect(hooks().map((r) => [json(r).mention, json(r).incident.id, json(r).incident.priority]), 'alice hears of the P1 on chat too').toEqual([['U-alice', inc.id, 'P1']]);
  });
});

describe('the signed links in a page', () => {
  it('GET confirms without acting, POST acknowledges and stops escalation, everyone paged hears of it; a second POST and altered or expired links change nothing', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    const aliceMail = smtp.mails[0]!;
    const { ack, resolve } = mailLinks(aliceMail);
    await at(t, 5 * M); // bob is paged too
    const paged = received();
    expect(paged).toEqual(pages('email alice@example.com opened', 'email bob@example.com escalated', `${OPS_HOOK} U-alice opened`, `${OPS_HOOK} U-bob escalated`));

    await at(t, 6 * M);
    const confirm = await follow(t, ack!, 'GET');
    expect(confirm.status, `GET of the ack link (${new URL(ack!).pathname.length} characters of path) → ${confirm.html.slice(0, 200)}`).toBe(200);
    expect(confirm.type).toMatch(/^text\/html/);
    expect(confirm.html).toContain(`Acknowledge incident #${inc.id}?`);
    expect(confirm.html).toContain('eu-west');
    expect(confirm.html).toContain('as alice');
    expect(confirm.html).toMatch(/<form method="post">/);
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.state, 'a GET (a mail scanner) must not acknowledge').toBe('open');

    // POST acts and sends the browser back to the link's page (303), which now shows the result.
    const done = await follow(t, ack!, 'POST');
    expect(done.status, done.html.slice(0, 200)).toBe(303);
    expect(done.location).toBe(new URL(ack!).pathname);
    expect(done.html).toContain(`Incident #${inc.id} acknowledged`);
    const result = await follow(t, ack!, 'GET');
    expect(result.status).toBe(200);
    expect(result.type).toMatch(/^text\/html/);
    expect(result.html).toContain(`<h1>Incident #${inc.id} acknowledged</h1>`);
    expect(result.html).toContain('Acknowledged by alice (you) at 2030-01-07 12:06:00 UTC');
    expect(result.html).not.toContain('<form');
    const acked = (await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body;
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice', acknowledged_at: new Date(T0 + 6 * M).toISOString() });
    expect((await timeline(t.url, inc.id)).filter((e) => e.kind === 'acknowledged')).toEqual([expect.objectContaining({ actor: 'alice', data: { note: 'via signed link' } })]);

    // Everyone already paged (alice and bob, on each channel that delivered) hears of the ack…
    await t.app.pager.tick();
    expect(since(paged)).toEqual(
      pages('email alice@example.com acknowledged', 'email bob@example.com acknowledged', `${OPS_HOOK} U-alice acknowledged`, `${OPS_HOOK} U-bob acknowledged`),
    );
    const ackMail = smtp.mails.find((m) => rcpt(m) === 'bob@example.com' && mailKind(m) === 'acknowledged')!;
    expect(ackMail.subject).toBe(`[P1] eu-west: ${inc.title} (incident #${inc.id} acknowledged)`);
    expect(ackMail.text).toContain('Acknowledged by alice: via signed link');
    expect(mailLinks(ackMail).ack, 'no ack link once acknowledged').toBeUndefined();
    expect(mailLinks(ackMail).resolve).toMatch(LINK);
    const ackHook = hooks().find((r) => json(r).kind === 'acknowledged' && json(r).mention === 'U-bob')!;
    expect(json(ackHook)).toMatchObject({ incident: { id: inc.id, state: 'acknowledged' }, links: { ack: null, resolve: expect.stringMatching(LINK) } });

    // …and escalation has stopped: the rest of the policy (10, 15 min) pages nobody.
    const afterAck = received();
    for (const m of [10, 15, 20, 30]) await at(t, m * M);
    expect(received()).toEqual(afterAck);
    expect(withData(await pagingEntries(t.url, inc.id), 'escalated')).toHaveLength(1);

    // Posting again (a resubmitted form) changes nothing and lands on the same page.
    const again = await follow(t, ack!, 'POST');
    expect(again.status).toBe(303);
    expect(again.html).toMatch(/Nothing to do: incident \d+ is acknowledged/);
    expect(again.location).toBe(new URL(ack!).pathname);

    // A token with one character of its signature changed, or of its claim (payload), is refused as altered.
    for (const altered of [alter(ack!, (tok) => tok.indexOf('.') + 1), alter(ack!, (tok) => tok.indexOf('.') + 10), alter(resolve!, () => 5)]) {
      for (const method of ['GET', 'POST'] as const) {
        const r = await follow(t, altered, method);
        expect(r.status, `${method} ${altered}`).toBe(403);
        expect(r.type).toMatch(/^text\/html/);
        expect(r.html).toMatch(/altered/);
      }
    }
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.state).toBe('acknowledged');

    // The links of the first page were signed at T0 with a 1 h TTL: still good a moment before, expired at T0 + 1 h.
    now = T0 + 60 * M - 1;
    expect((await follow(t, resolve!, 'GET')).status).toBe(200);
    now = T0 + 60 * M;
    for (const method of ['GET', 'POST'] as const) {
      const r = await follow(t, resolve!, method);
      expect(r.status, method).toBe(403);
      expect(r.html).toMatch(/expired/);
    }
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.state, 'an expired link does not resolve').toBe('acknowledged');
  });
  it('a link sent before its incident reopened no longer acts on it (410, saying why); the page after the reopen does', async () => {
    const t = await start();
    const inc = await storm(t, P2);
    const before = mailLinks(smtp.mails[0]!);
    now = T0 + M;
    expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/mitigate`, { by: 'carol' })).status).toBe(200);
    // It gets worse while mitigated by hand: reopened, and paged again.
    const paged = smtp.mails.length;
    await at(t, 2 * M, { 'eu-west': P1 });
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body).toMatchObject({ state: 'open', reopened: 1 });
    const after = mailLinks(smtp.mails.slice(paged).find((m) => rcpt(m) === 'alice@example.com' && mailKind(m) === 'opened')!);

    now = T0 + 3 * M;
    for (const [method, link] of [['POST', before.ack], ['GET', before.ack], ['POST', before.resolve]] as const) {
      const r = await follow(t, link!, method);
      expect(r.status, `${method} of a link from before the reopen`).toBe(410);
      expect(r.html).toContain('Link from before a reopen');
      expect(r.html).toContain('use the link in that newer page');
    }
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.state, 'the old links changed nothing').toBe('open');
    expect((await follow(t, after.ack!, 'POST')).status).toBe(303);
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice' });
  });

  it('a POST takes whatever body a client sends (browser form, multipart, text, none) and reads none of it; pages are not cached or framed', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    const { ack } = mailLinks(smtp.mails[0]!);
    const url = `${t.url}${new URL(ack!).pathname}`;
    const page = await fetch(url);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const form = new FormData();
    form.set('confirm', 'yes');
    const bodies: RequestInit[] = [
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' },
      { body: form },
      { headers: { 'content-type': 'text/plain' }, body: 'ack' },
      {},
    ];
    for (const init of bodies) {
      const r = await fetch(url, { method: 'POST', redirect: 'manual', ...init });
      expect(r.status, `${JSON.stringify(init.headers ?? {})} → ${await r.text()}`).toBe(303);
    }
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice' });
    const big = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `x=${'a'.repeat(10_000)}`, redirect: 'manual' });
    expect(big.status).toBe(413);
  });
});

describe('email failures', () => {
  it('SMTP refuses the recipient for good (550): page_fallback, and the page arrives on the next channel (P2)', async () => {
    const t = await start();
    smtp.refuse = { code: 550, message: 'mailbox unavailable' };
    const inc = await storm(t, P2);
    expect(inc.priority).toBe('P2');
    expect(received()).toEqual([`${OPS_HOOK} U-alice opened`]);
    expect(json(hooks()[0]!)).toMatchObject({ kind: 'opened', incident: { id: inc.id, priority: 'P2' }, links: { ack: expect.stringMatching(LINK) } });
    expect(webhookSignatureValid(hooks()[0]!, WEBHOOK_SECRET)).toBe(true);

    const entries = await pagingEntries(t.url, inc.id);
    expect(entries.map((e) => e.kind)).toEqual(['paged', 'page_failed', 'page_fallback', 'page_delivered']);
    expect(entries[0]!.data).toMatchObject({ people: ['alice'], pages: 1 });
    expect(entries[1]!.data).toMatchObject({ recipient: 'alice', channel: 'email', kind: 'opened', attempt: 1, retrying: false, reason: expect.stringContaining('550') });
    expect(JSON.stringify(entries[1]!.data)).not.toContain('smtp-pass-123456');
    expect(entries[2]!.data).toEqual({ recipient: 'alice', from: 'email', to: 'ops-hook', kind: 'opened' });
    expect(entries[3]!.data).toEqual({ recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 1 });

    // Nothing is retried or sent again later.
    smtp.refuse = undefined;
    for (const m of [1, 2, 4]) await at(t, m * M);
    expect(received()).toEqual([`${OPS_HOOK} U-alice opened`]);
  });

  it('a fallback of an acknowledged page still says who acknowledged it (P2)', async () => {
    const t = await start();
    const inc = await storm(t, P2);
    expect(received()).toEqual(['email alice@example.com opened']);
    smtp.refuse = { code: 550, message: 'mailbox unavailable' };
    now = T0 + M;
    expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: 'bob', note: 'on it' })).status).toBe(200);
    await t.app.pager.tick();
    expect(withData(await pagingEntries(t.url, inc.id), 'page_fallback')).toEqual([{ recipient: 'alice', from: 'email', to: 'ops-hook', kind: 'acknowledged' }]);
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice acknowledged`));
    // The email that failed said "Acknowledged by bob: on it"; the page that replaces it must say so too.
    expect(json(hooks()[0]!).incident.text).toContain('Acknowledged by bob: on it');
  });

  it('SMTP down (connection refused): chat pages at once, the email is retried with backoff and delivered once SMTP is back (P1)', async () => {
    const t = await start();
    const port = smtp.port;
    await smtp.stop();
    const inc = await storm(t, P1);
    expect(received(), 'alice is reached on chat while SMTP is down').toEqual([`${OPS_HOOK} U-alice opened`]);
    let failed = withData(await pagingEntries(t.url, inc.id), 'page_failed');
    expect(failed).toEqual([expect.objectContaining({ recipient: 'alice', channel: 'email', attempt: 1, retrying: true, reason: expect.stringContaining('ECONNREFUSED') })]);
    // Backoff with equal jitter from a 1 s base: the first retry 0.5–1 s later, the second 1–2 s.
    const retry1 = await nextRetry(t, inc.id);
    expect(retry1 - T0).toBeGreaterThanOrEqual(500);
    expect(retry1 - T0).toBeLessThanOrEqual(1000);
    await pagerAt(t, retry1 - 1);
    expect(withData(await pagingEntries(t.url, inc.id), 'page_failed'), 'not retried before its time').toHaveLength(1);
    await pagerAt(t, retry1);
    failed = withData(await pagingEntries(t.url, inc.id), 'page_failed');
    expect(failed.map((d) => [d?.attempt, d?.retrying])).toEqual([[1, true], [2, true]]);
    const retry2 = await nextRetry(t, inc.id);
    expect(retry2 - retry1).toBeGreaterThanOrEqual(1000);
    expect(retry2 - retry1).toBeLessThanOrEqual(2000);

    await smtp.start(port);
    await pagerAt(t, retry2);
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));
    expect(smtp.mails[0]!.subject).toBe(`[P1] eu-west: ${inc.title} (incident #${inc.id} opened)`);
    const entries = await pagingEntries(t.url, inc.id);
    expect(entries.map((e) => e.kind)).not.toContain('page_fallback');
    expect(withData(entries, 'page_delivered')).toEqual(
      expect.arrayContaining([{ recipient: 'alice', channel: 'email', kind: 'opened', attempt: 3 }, { recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 1 }]),
    );
    for (const m of [1, 2, 4]) await pagerAt(t, retry2 + m * M);
    expect(received(), 'exactly one email (and nothing else before level 2 at 5 min)').toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));
  });

  it('SMTP down (P2): the first failure brings in the next channel at once, and the email still arrives when SMTP is back', async () => {
    const t = await start();
    const port = smtp.port;
    await smtp.stop();
    let restarted = false;
    try {
      const inc = await storm(t, P2);
      expect(received(), 'chat now, not after the retry schedule').toEqual([`${OPS_HOOK} U-alice opened`]);
      const entries = await pagingEntries(t.url, inc.id);
      expect(withData(entries, 'page_failed').map((d) => [d?.channel, d?.attempt, d?.retrying])).toEqual([['email', 1, true]]);
      expect(withData(entries, 'page_fallback')).toEqual([{ recipient: 'alice', from: 'email', to: 'ops-hook', kind: 'opened' }]);
      await smtp.start(port);
      restarted = true;
      await pagerAt(t, await nextRetry(t, inc.id));
      expect(smtp.mails.map((m) => `${rcpt(m)} ${mailKind(m)}`)).toEqual(['alice@example.com opened']);
      expect(withData(await pagingEntries(t.url, inc.id), 'page_fallback'), 'one fallback per page, however often the email fails').toHaveLength(1);
    } finally {
      if (!restarted) await smtp.start(port);
    }
  });
});

describe('chat endpoint failures', () => {
  it('a webhook answering 500, then 200: retried with the same Idempotency-Key and body, delivered once', async () => {
    const t = await start();
    receiver.answer(OPS_HOOK, { status: 500, body: 'upstream down' });
    const inc = await storm(t, P1);
    expect(hooks()).toHaveLength(1);
    const failed = withData(await pagingEntries(t.url, inc.id), 'page_failed');
    expect(failed).toEqual([{ recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 1, retrying: true, reason: 'HTTP 500: upstream down', next_at: expect.any(Number) }]);

    await pagerAt(t, await nextRetry(t, inc.id));
    const [first, second] = hooks() as [ReceivedRequest, ReceivedRequest];
    expect(hooks()).toHaveLength(2);
    expect(header(second, 'idempotency-key')).toBe(header(first, 'idempotency-key'));
    expect(second.body, 'the page is fixed when enqueued: a retry sends the same message').toBe(first.body);
    expect(webhookSignatureValid(first, WEBHOOK_SECRET) && webhookSignatureValid(second, WEBHOOK_SECRET)).toBe(true);
    expect(acceptedOnce(hooks())).toEqual([second]);
    const entries = await pagingEntries(t.url, inc.id);
    expect(withData(entries, 'page_delivered')).toEqual(expect.arrayContaining([{ recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 2 }]));
    expect(entries.map((e) => e.kind)).not.toContain('page_fallback');
    for (const m of [1, 5]) await at(t, m * M - 1);
    expect(received(), 'the two attempts of one page, nothing more').toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`, `${OPS_HOOK} U-alice opened`));
  });

  it('a webhook answering 400 is a permanent failure: the P2 page falls back to email', async () => {
    const t = await start((doc) => (personIn(doc, 'alice').notify = ['ops-hook', 'email']));
    receiver.answer(OPS_HOOK, { status: 400, body: 'bad request' });
    const inc = await storm(t, P2);
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));
    const entries = await pagingEntries(t.url, inc.id);
    expect(entries.map((e) => e.kind)).toEqual(['paged', 'page_failed', 'page_fallback', 'page_delivered']);
    expect(entries[1]!.data).toMatchObject({ channel: 'ops-hook', retrying: false, reason: 'HTTP 400: bad request' });
    expect(entries[2]!.data).toEqual({ recipient: 'alice', from: 'ops-hook', to: 'email', kind: 'opened' });
  });

  describe('a provider that reports failures in the body of an HTTP 200 (WeCom group robot)', () => {
    const wecomFirst = (doc: OnCallDoc) => (personIn(doc, 'alice').notify = ['team-wecom', 'email']);
    const wecomReply = (errcode: number, errmsg: string) => ({ status: 200, body: JSON.stringify({ errcode, errmsg }) });
    const robot = () => receiver.to(WECOM);

    it('errcode 45009 (rate limited) in a 200 is retried; errcode 0 is a delivery', async () => {
      const t = await start(wecomFirst);
      receiver.answer(WECOM, wecomReply(45009, 'api freq out of limit'), wecomReply(0, 'ok'));
      const inc = await storm(t, P2);
      expect(robot()).toHaveLength(1);
      expect(robot()[0]!.url).toBe(`${WECOM}?key=wecom-key-0123456789`);
      const content = json(robot()[0]!).markdown.content as string;
      expect(content).toContain('<@alice.w>');
      expect(content).toContain(`P2 eu-west: ${inc.title}`);
      expect(content).toMatch(new RegExp(`\\[Acknowledge\\]\\(${PUBLIC_URL.replace(/[.]/g, '\\.')}/v1/links/`));
      expect(withData(await pagingEntries(t.url, inc.id), 'page_failed')).toEqual([
        expect.objectContaining({ channel: 'team-wecom', attempt: 1, retrying: true, reason: expect.stringContaining('errcode 45009') }),
      ]);

      // The retryable failure brings in alice's next channel (email) at once; the robot is retried and delivers too.
      expect(smtp.mails.map((m) => `${rcpt(m)} ${mailKind(m)}`)).toEqual(['alice@example.com opened']);
      await pagerAt(t, await nextRetry(t, inc.id));
      expect(robot()).toHaveLength(2);
      expect(robot()[1]!.body).toBe(robot()[0]!.body);
      const entries = await pagingEntries(t.url, inc.id);
      expect(entries.map((e) => e.kind)).toEqual(['paged', 'page_failed', 'page_fallback', 'page_delivered', 'page_delivered']);
      expect(entries[4]!.data).toEqual({ recipient: 'alice', channel: 'team-wecom', kind: 'opened', attempt: 2 });
      expect(smtp.mails, 'one email: the fallback is not repeated by the retry').toHaveLength(1);
    });

    it('errcode 93000 (invalid webhook) in a 200 is permanent: the page falls back to email', async () => {
      const t = await start(wecomFirst);
      receiver.answer(WECOM, wecomReply(93000, 'invalid webhook url'));
      const inc = await storm(t, P2);
      expect(robot()).toHaveLength(1);
      const entries = await pagingEntries(t.url, inc.id);
      expect(entries.map((e) => e.kind)).toEqual(['paged', 'page_failed', 'page_fallback', 'page_delivered']);
      expect(entries[1]!.data).toMatchObject({ channel: 'team-wecom', retrying: false, reason: expect.stringContaining('errcode 93000') });
      expect(JSON.stringify(entries[1]!.data), 'the robot key is a credential').not.toContain('wecom-key-0123456789');
      expect(t.logs.join('\n'), 'nor does it reach the log').not.toContain('wecom-key-0123456789');
      expect(entries[2]!.data).toEqual({ recipient: 'alice', from: 'team-wecom', to: 'email', kind: 'opened' });
      expect(smtp.mails.map((m) => `${rcpt(m)} ${mailKind(m)}`)).toEqual(['alice@example.com opened']);
      for (const m of [1, 2]) await at(t, m * M - 1);
      expect(robot()).toHaveLength(1);
    });
  });
});

describe('silences', () => {
  const silence = async (t: TestApp, region: string) => {
    const r = await api(t.url, 'POST', '/v1/silences', { matchers: { region }, comment: 'planned CDN switch', by: 'ops' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  };

  it('a silenced incident is recorded but not paged (not_paged: silenced), nor escalated; an unsilenced one pages', async () => {
    const t = await start();
    await silence(t, 'eu-west');
    await at(t, 0, { 'eu-west': P1, 'us-east': P1 });
    const byRegion = Object.fromEntries((await incidents(t.url)).map((i) => [i.region, i]));
    expect(byRegion['eu-west']).toMatchObject({ state: 'open', priority: 'P1', silenced: true });
    expect(byRegion['us-east']).toMatchObject({ state: 'open', priority: 'P1', silenced: false });
    const eu = byRegion['eu-west'].id as number;
    const us = byRegion['us-east'].id as number;

    expect(await pagingEntries(t.url, eu)).toEqual([expect.objectContaining({ kind: 'not_paged', actor: 'qoswatch', data: { reason: expect.stringMatching(/^silenced/) } })]);
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));
    expect(smtp.mails[0]!.subject).toContain(`incident #${us} opened`);
    expect(hooks().every((r) => json(r).incident.id === us)).toBe(true);

    for (const m of [5, 10, 15]) await at(t, m * M);
    expect(smtp.mails.filter((m) => m.subject?.includes(`#${eu} `))).toEqual([]);
    expect(hooks().filter((r) => json(r).incident.id === eu)).toEqual([]);
    expect((await pagingEntries(t.url, eu)).map((e) => e.kind)).toEqual(['not_paged']);
  });

  it('a resolve reaches everyone paged even after a silence started in between (and the silence stops escalation)', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    const paged = received();
    expect(paged).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));

    now = T0 + M;
    await silence(t, 'eu-west');
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body).toMatchObject({ state: 'open', silenced: true });
    await at(t, 5 * M);
    expect(received(), 'bob is not paged while the incident is silenced').toEqual(paged);

    now = T0 + 6 * M;
    const r = await api(t.url, 'POST', `/v1/incidents/${inc.id}/resolve`, { by: 'carol', note: 'CDN switched back' });
    expect(r.status).toBe(200);
    await t.app.pager.tick();
    expect(since(paged)).toEqual(pages('email alice@example.com resolved', `${OPS_HOOK} U-alice resolved`));
    const mail = smtp.mails.at(-1)!;
    expect(mail.subject).toBe(`[P1] eu-west: ${inc.title} (incident #${inc.id} resolved)`);
    expect(mail.text).toContain('Resolved by carol: CDN switched back');
    expect(mailLinks(mail)).toEqual({ ack: undefined, resolve: undefined });
    expect(json(hooks().at(-1)!)).toMatchObject({ kind: 'resolved', incident: { id: inc.id, state: 'resolved' }, links: { ack: null, resolve: null }, mention: 'U-alice' });
    const delivered = withData(await pagingEntries(t.url, inc.id), 'page_delivered').filter((d) => d?.kind === 'resolved');
    expect(delivered.map((d) => d?.channel).sort()).toEqual(['email', 'ops-hook']);
  });
});

describe('crash safety of the hand-off from incidents to the pager', () => {
  it('an opened entry handled twice (a replay) starts one escalation: same generation, no new page keys, no second page', async () => {
    const t = await start();
    const inc = await storm(t, P1);
    const paged = received();
    const keys = (await t.app.pager.outbox.ofIncident(inc.id)).map((r) => r.key);
    const generation = () => (t.app.stateDb!.prepare('SELECT generation FROM escalations WHERE incident_id = ?').get(inc.id) as { generation: number }).generation;
    expect(generation()).toBe(0);
    const entry = (await t.app.incidents.timeline(inc.id)).find((e) => e.kind === 'opened')!;
    await t.app.pager.onEvent({ type: 'opened', incident: (await t.app.incidents.get(inc.id))!, entry });
    await t.app.pager.tick();
    expect(generation()).toBe(0);
    expect((await t.app.pager.outbox.ofIncident(inc.id)).map((r) => r.key)).toEqual(keys);
    expect(received()).toEqual(paged);
    expect(withData(await pagingEntries(t.url, inc.id), 'paged')).toHaveLength(1);
  });

  it('a second sender on the same state db leaves a page another is sending alone until its claim runs out, then sends it with the same key', async () => {
    // A sends alice's webhook page and the receiver holds the request open; B starts over the same files meanwhile.
    // The claim lasts 3 × QOSWATCH_PAGE_TIMEOUT (30 s here) of the injected clock.
    receiver.answer(OPS_HOOK, 'hold');
    const env = { QOSWATCH_PAGE_TIMEOUT: '10s' };
    const a = await start(undefined, { keepData: true, env });
    await send(a.url, viewers('eu-west', now, P1));
    await a.app.alerting.tick(now);
    const sending = a.app.pager.tick();
    await waitFor('A`s webhook request, held open', () => hooks()[0]);
    const [inc] = await incidents(a.url);

    const b = await start(undefined, { dataDir: a.dataDir, env });
    await pagerAt(b, T0 + 29_999);
    expect(hooks(), 'B leaves the claimed page alone').toHaveLength(1);
    await pagerAt(b, T0 + 30_000);
    expect(hooks(), 'once the claim ran out, B sends it again').toHaveLength(2);
    const [first, again] = hooks() as [ReceivedRequest, ReceivedRequest];
    expect(header(again, 'idempotency-key')).toBe(header(first, 'idempotency-key'));
    expect(again.body).toBe(first.body);
    const row = async () => (await b.app.pager.outbox.ofIncident(inc.id)).find((r) => r.channel === 'ops-hook')!;
    expect(await row()).toMatchObject({ state: 'delivered', attempts: 2 });

    // A's request is answered at last (an error): A lost its claim, so its outcome does not overwrite B's.
    receiver.release({ status: 500, body: 'late' });
    await sending;
    expect(await row()).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(acceptedOnce(hooks()).map((r) => json(r).mention)).toEqual(['U-alice']);
  });

  it('an incident committed just before a crash, whose event never reached the pager, is paged after the restart', async () => {
    // Incident events reach the pager in memory, after the alerting transaction has committed the incident. kill -9
    // between the two leaves an open incident in SQLite with no escalation and no outbox row. Stopping the pager
    // (it unsubscribes from the event bus) before the storm leaves exactly that state on disk, deterministically.
    const first = await start(undefined, { keepData: true });
    await first.app.pager.stop();
    const inc = await storm(first, P1);
    expect(inc).toMatchObject({ state: 'open', silenced: false });
    expect(received()).toEqual([]);
    const lag = async (t: TestApp) => metricValue(await metricsText(t.url), 'qoswatch_timeline_follower_lag{consumer="pager"}');
    expect(await lag(first), 'the stopped pager is behind the timeline').toBeGreaterThan(0);
    await first.close();

    const again = await start(undefined, { dataDir: first.dataDir });
    await again.app.pager.tick();
    // Its own notes (paged, page_delivered) come after what it handled: its next wake (a poll at most) passes them.
    await waitFor('the pager caught up after the restart', async () => ((await lag(again)) === 0 ? true : undefined), 5000);
    await at(again, S);
    expect(received(), 'pending pages are sent after a restart: nothing is lost').toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));
  });
});

describe('a storm: many incidents of one tenant at once', () => {
  const stormMails = () => smtp.mails.filter((m) => /: storm #\d+, /.test(m.subject ?? ''));
  const stormHooks = (path = OPS_HOOK) => receiver.to(path).filter((r) => json(r).storm !== null);
  const ownMails = () => smtp.mails.filter((m) => /\(incident #\d+ /.test(m.subject ?? ''));
  const incidentOf = (m: ParsedMail) => Number(/\(incident #(\d+) /.exec(m.subject ?? '')?.[1]);
  /** Four regions stalling at once (P1, one request): the first two page on their own, the other two as a storm. */
  async function four(t: TestApp): Promise<{ own: number[]; members: number[] }> {
    await send(t.url, ['r-1', 'r-2', 'r-3', 'r-4'].flatMap((r) => viewers(r, now, P1)));
    await at(t, 0);
    const list = await incidents(t.url);
    expect(list).toHaveLength(4);
    const own = ownMails().map(incidentOf).sort();
    expect(own, 'the first incidents page at once, on their own').toHaveLength(2);
    return { own, members: list.map((i) => i.id as number).filter((id) => !own.includes(id)).sort() };
  }

  it('pages once for the rest, listing them; joiners come in one update per interval; one link acknowledges them all', async () => {
    const t = await start();
    const { own, members } = await four(t);
    expect(stormMails()).toHaveLength(1);
    expect(stormHooks()).toHaveLength(1);
    const [mail] = stormMails() as [ParsedMail];
    const stormId = Number(/storm #(\d+)/.exec(mail.subject!)![1]);
    expect(mail.subject).toBe(`[P1] default: storm #${stormId}, 2 incidents at once (opened)`);
    expect(rcpt(mail)).toBe('alice@example.com');
    for (const id of members) expect(mail.text).toMatch(new RegExp(`^#${id} P1 open: stall_ratio 30% \\(> 0\\.2\\) — r-\\d$`, 'm'));
    expect(mail.text).toMatch(/^Storm: #\d+$/m);
    const hook = json(stormHooks()[0]!);
    expect(hook).toMatchObject({ kind: 'opened', incident: { id: 0, tenant: 'default', priority: 'P1', state: 'open' }, links: { ack: expect.stringMatching(LINK), resolve: null }, mention: 'U-alice' });
    expect(hook.storm).toEqual({ id: stormId, incidents: members.map((id) => ({ id, priority: 'P1', state: 'open', title: expect.stringMatching(/^stall_ratio 30%/), regions: [expect.stringMatching(/^r-\d$/)] })) });
    for (const [i, id] of members.entries()) {
      const entries = await pagingEntries(t.url, id);
      expect(entries.map((e) => e.kind)).toEqual(['grouped', 'paged', 'page_delivered', 'page_delivered']);
      const reason = i === 0 ? '3 incidents of tenant default within 5m' : `storm #${stormId} of tenant default is going on`;
      expect(entries[0]!.data).toEqual({ storm: stormId, policy: 'main', reason });
      expect(entries[1]!.data).toMatchObject({ storm: stormId, step: 0, people: ['alice'], pages: 2 });
      expect(entries[2]!.data).toMatchObject({ storm: stormId, recipient: 'alice', kind: 'opened' });
    }

    // A fifth region 10 s later joins the storm: no page of its own, one update once the storm interval (1 min) is up.
    await at(t, 10 * S, { 'r-5': P1 });
    const fifth = (await incidents(t.url)).find((i) => i.region === 'r-5')!.id as number;
    await at(t, M - 1);
    expect([ownMails().length, stormMails().length, stormHooks().length]).toEqual([2, 1, 1]);
    await at(t, M);
    expect([ownMails().length, stormMails().length, stormHooks().length]).toEqual([2, 2, 2]);
    const update = stormMails()[1]!;
    expect(update.subject).toBe(`[P1] default: storm #${stormId}, 3 incidents at once (updated)`);
    expect(update.text).toContain(`#${fifth} P1 open: `);

    // The storm's ack link: GET lists every incident of it, POST acknowledges the open ones as alice.
    const { ack } = mailLinks(update);
    const confirm = await follow(t, ack!, 'GET');
    expect(confirm.status).toBe(200);
    for (const id of [...members, fifth]) expect(confirm.html).toContain(`<td>#${id}</td>`);
    expect(confirm.html).toContain('Acknowledge all 3 open as alice');
    expect((await incidents(t.url)).filter((i) => i.state !== 'open'), 'a GET acknowledges nothing').toEqual([]);
    now = T0 + M + 5 * S;
    const done = await follow(t, ack!, 'POST');
    expect(done.status, done.html).toBe(303);
    expect(done.html).toContain('3 incidents acknowledged');
    expect(done.location, 'back to the link`s page').toBe(new URL(ack!).pathname);
    const after = await follow(t, ack!, 'GET');
    expect(after.html).toContain('Nothing left to acknowledge');
    expect(after.html).not.toContain('<form');
    expect(after.html.split('<td>acknowledged (alice)</td>').length - 1, 'each of the three, by alice').toBe(3);
    for (const id of [...members, fifth]) expect((await api(t.url, 'GET', `/v1/incidents/${id}`)).body).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice' });
    for (const id of own) expect((await api(t.url, 'GET', `/v1/incidents/${id}`)).body.state, 'incidents paged on their own are not in it').toBe('open');
    // Everyone the storm paged hears of it at once, in one page per channel.
    await t.app.pager.tick();
    expect(stormMails().map((m) => /\((\w+)\)$/.exec(m.subject!)?.[1])).toEqual(['opened', 'updated', 'acknowledged']);
    expect(stormMails()[2]!.text).toContain('Acknowledged by alice: 3 incidents');
    expect(mailLinks(stormMails()[2]!).ack, 'nothing left to acknowledge').toBeUndefined();
    expect(stormHooks().map((r) => json(r).kind)).toEqual(['opened', 'updated', 'acknowledged']);
    const again = await follow(t, ack!, 'POST');
    expect([again.status, again.html]).toEqual([303, expect.stringContaining('Nothing to do: no incident of storm')]);
    expect(stormMails(), 'a second post changes nothing').toHaveLength(3);

    // Escalation: the incidents paged on their own reach bob at 5 min; the acknowledged storm does not.
    await at(t, 5 * M);
    const toBob = smtp.mails.filter((m) => rcpt(m) === 'bob@example.com');
    expect(toBob.map((m) => [incidentOf(m), mailKind(m)]).sort()).toEqual(own.map((id) => [id, 'escalated']));
  });

  it('escalates as one page, and tells the end of it once', async () => {
    const t = await start();
    const { members } = await four(t);
    await at(t, 5 * M);
    const toBob = smtp.mails.filter((m) => rcpt(m) === 'bob@example.com');
    expect(toBob.filter((m) => /: storm #/.test(m.subject!)).map((m) => m.subject)).toEqual([expect.stringMatching(/2 incidents at once \(ESCALATED\)$/)]);
    expect(stormHooks().map((r) => [json(r).mention, json(r).kind])).toEqual([['U-alice', 'opened'], ['U-bob', 'escalated']]);
    for (const id of members) expect((await pagingEntries(t.url, id)).map((e) => e.kind)).toContain('escalated');

    // Resolved one by one within the interval: one page at its end, to everyone the storm paged.
    for (const [i, id] of members.entries()) {
      now = T0 + 5 * M + (i + 1) * 10 * S;
      expect((await api(t.url, 'POST', `/v1/incidents/${id}/resolve`, { by: 'carol', note: 'CDN fixed' })).status).toBe(200);
      await t.app.pager.tick();
    }
    expect(stormMails().filter((m) => m.subject!.endsWith('(resolved)'))).toEqual([]);
    await at(t, 6 * M);
    expect(stormMails().filter((m) => m.subject!.endsWith('(resolved)')).map(rcpt).sort()).toEqual(['alice@example.com', 'bob@example.com']);
    expect(stormHooks().filter((r) => json(r).kind === 'resolved').map((r) => json(r).mention).sort()).toEqual(['U-alice', 'U-bob']);
    for (const m of [10, 15, 30]) await at(t, m * M);
    expect(stormMails(), 'nothing more once it is over').toHaveLength(4);
  });
});

describe('the page budget of a tenant', () => {
  const BETA_KEY = 'beta-ingest-key-0123456789';
  const config = {
    tenants: [{ id: 'default' }, { id: 'beta', ingest_keys: [{ id: 'beta-key', sha256: createHash('sha256').update(BETA_KEY).digest('hex') }] }],
  };

  it('holds what is over it (recorded, counted, sent as the budget allows); other tenants page as usual', async () => {
    const t = await start(undefined, { env: { QOSWATCH_TENANT_PAGE_BUDGET: '2/2m' }, config });
    const first = await storm(t, P1, 'eu-west');
    expect(received()).toEqual(pages('email alice@example.com opened', `${OPS_HOOK} U-alice opened`));

    // The budget is spent: the next incident joins a storm (grouped), whose pages wait.
    await at(t, 10 * S, { 'us-east': P1 });
    const second = (await incidents(t.url)).find((i) => i.region === 'us-east')!;
    expect(received(), 'nothing more now').toHaveLength(2);
    const entries = await pagingEntries(t.url, second.id);
    expect(entries.map((e) => e.kind)).toEqual(['grouped', 'paged', 'page_held', 'page_held']);
    expect(entries[0]!.data?.reason).toBe('tenant default is over its page budget');
    expect(entries[2]!.data?.reason).toMatch(/^tenant default has sent its page budget \(2 per 2m\)/);
    expect(await metricsText(t.url)).toContain('qoswatch_pages_held_total{tenant="default"} 2');

    // Another tenant's P1 at the same time pages at once.
    now = T0 + 20 * S;
    const r = await postTelemetry(t.url, { samples: viewers('ap-south', now, P1) }, { authorization: `Bearer ${BETA_KEY}` });
    expect(r.status).toBe(202);
    await t.app.alerting.tick(now);
    await t.app.pager.tick();
    expect(hooks().map((h) => json(h).incident.tenant)).toEqual(['default', 'beta']);

    // Two minutes after the first pages, the held ones go out; nothing was dropped, nothing sent twice.
    await pagerAt(t, T0 + 2 * M);
    expect(stormHooks().map((h) => json(h).storm.incidents.map((i: { id: number }) => i.id))).toEqual([[second.id]]);
    expect(smtp.mails.filter((m) => /: storm #/.test(m.subject!))).toHaveLength(1);
    expect((await pagingEntries(t.url, second.id)).filter((e) => e.kind === 'page_delivered')).toHaveLength(2);
    expect(await metricsText(t.url)).toContain('qoswatch_pages_held_total{tenant="default"} 2');
    expect(first.id).not.toBe(second.id);
  });

  function stormHooks() {
    return hooks().filter((h) => json(h).storm !== null);
  }
});
