import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseOnCall } from '../../../../src/oncall/config.js';
import { OnCallService } from '../../../../src/oncall/oncall.js';
import type { PageMessage } from '../../../../src/notify/channel.js';
import { EmailSender } from '../../../../src/notify/email.js';
import { type DeliveryDeps, deliveryOf } from '../../../../src/notify/send/deliveries.js';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { HttpReceiver, header, json, webhookSignatureValid } from '../../../helpers/receiver.js';
import { SmtpSink } from '../../../helpers/smtp.js';

/**
 * The deliver stage: which provider sends a row and to which address, against a real SMTP server (smtp-server) and
 * a real HTTP receiver on loopback.
 */

const T0 = Date.UTC(2030, 0, 7, 12);
const SECRET = 'whsec-deliveries-0123456789';
const OPS = '/hooks/ops';
const WECOM = '/cgi-bin/webhook/send';

const smtp = new SmtpSink();
const receiver = new HttpReceiver();
let email: EmailSender;

/** alice has an email and chat handles; bob has no email. ops-hook is a generic webhook, team-wecom a WeCom robot. */
const doc = (channels = true) => ({
  people: [
    { id: 'alice', name: 'Alice', email: 'alice@example.com', chat: { webhook: 'U-alice', wecom: 'alice.w' }, notify: channels ? ['email', 'ops-hook'] : ['email'] },
    { id: 'bob', name: 'Bob', chat: { webhook: 'U-bob' }, ...(channels ? { notify: ['ops-hook'] } : {}) },
  ],
  channels: channels
    ? [
        { id: 'ops-hook', provider: 'webhook', url: receiver.url(OPS), secret: SECRET },
        { id: 'team-wecom', provider: 'wecom', url: receiver.url(`${WECOM}?key=wecom-key-0123456789`) },
      ]
    : [],
});

const page = (key: string, mention?: string): PageMessage => ({
  kind: 'opened', incidentId: 7, priority: 'P1', tenant: 'acme', region: 'eu-west', state: 'open', title: 'P1 eu-west: stall ratio 30%',
  text: 'stall_ratio: 0.3', runbook: undefined, timeline: [], ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined, mention, key,
});

beforeAll(async () => {
  await smtp.start();
  await receiver.start();
  email = new EmailSender(smtp.url, 'qoswatch <pager@qos.example.test>', 5000);
});
afterAll(async () => {
  await receiver.stop();
  await smtp.stop();
});

const to = (i: number) => [smtp.mails[i]?.to].flat().map((a) => a?.text).join(',');

describe.each(BACKENDS)('deliveryOf on $name', (backend) => {
  let store: StateStore;
  let close = async () => {};
  beforeEach(async () => {
    ({ store, close } = await backend.open());
    smtp.mails.length = 0;
    receiver.reset();
  });
  afterEach(() => close());

  const oncall = (channels = true) => OnCallService.load(store.overrides, parseOnCall(stringify(doc(channels)), 'oncall.yaml', T0));
  const deps = async (o: Partial<DeliveryDeps> = {}): Promise<DeliveryDeps> => ({ oncall: await oncall(), email, clock: () => T0, timeoutMs: 5000, ...o });

  describe('deliveryOf: refusals are permanent failures with a reason', () => {
    it('email without SMTP configured', async () => {
      const d = deliveryOf({ recipient: 'alice', channel: 'email' }, await deps({ email: undefined }));
      expect(d.provider).toBe('email');
      expect(await d.send(page('7:g1:s0:alice:email'))).toEqual({ ok: false, retryable: false, reason: 'email is not configured (SMTP_URL)' });
    });

    it('email to a person without an address (or no longer in the file): nothing is sent', async () => {
      for (const who of ['bob', 'carol']) {
        const d = deliveryOf({ recipient: who, channel: 'email' }, await deps());
        expect(d.provider).toBe('email');
        expect(await d.send(page(`7:g1:s0:${who}:email`))).toEqual({ ok: false, retryable: false, reason: `${who} has no email address` });
      }
      expect(smtp.mails).toEqual([]);
    });

    it("a channel removed from the on-call file: provider 'unknown', nothing is sent", async () => {
      const d = deliveryOf({ recipient: 'bob', channel: 'ops-hook' }, await deps({ oncall: await oncall(false) }));
      expect(d.provider).toBe('unknown');
      expect(await d.send(page('7:g1:s0:bob:ops-hook', 'U-bob'))).toEqual({ ok: false, retryable: false, reason: 'channel ops-hook is no longer configured' });
      expect(receiver.requests).toEqual([]);
    });
  });

  describe('deliveryOf: sending', () => {
    it("email goes to the person's address over SMTP", async () => {
      const d = deliveryOf({ recipient: 'alice', channel: 'email' }, await deps());
      expect(d.provider).toBe('email');
      expect(await d.send(page('7:g1:s0:alice:email'))).toEqual({ ok: true });
      expect(smtp.mails).toHaveLength(1);
      expect(to(0)).toBe('alice@example.com');
      expect(smtp.mails[0]!.subject).toContain('stall ratio 30%');
      expect(smtp.mails[0]!.messageId).toBe('<7.g1.s0.alice.email@qoswatch>');
    });

    it('a mailto: recipient is sent to that address (not looked up as a person)', async () => {
      const d = deliveryOf({ recipient: 'mailto:noc@customer.example', channel: 'email' }, await deps());
      expect(d.provider).toBe('email');
      expect(await d.send(page('ticket:T-1:update:1:mailto:noc@customer.example:email'))).toEqual({ ok: true });
      expect(smtp.mails.map((_, i) => to(i))).toEqual(['noc@customer.example']);
    });

    it('an SMTP refusal (550) comes back as a permanent failure', async () => {
      smtp.refuse = { code: 550, message: 'no such user' };
      try {
        const v = await deliveryOf({ recipient: 'alice', channel: 'email' }, await deps()).send(page('7:g1:s0:alice:email'));
        expect(v).toMatchObject({ ok: false, retryable: false });
        expect(smtp.mails).toEqual([]);
      } finally {
        smtp.refuse = undefined;
      }
    });

    it("a chat channel reports its provider id and the page reaches the endpoint, signed, with the row's key", async () => {
      expect(deliveryOf({ recipient: '#team-wecom', channel: 'team-wecom' }, await deps()).provider).toBe('wecom');
      const d = deliveryOf({ recipient: 'alice', channel: 'ops-hook' }, await deps());
      expect(d.provider).toBe('webhook');
      expect(await d.send(page('7:g1:s0:alice:ops-hook', 'U-alice'))).toEqual({ ok: true });
      const [r, ...more] = receiver.to(OPS);
      expect(more).toEqual([]);
      expect(webhookSignatureValid(r!, SECRET)).toBe(true);
      expect(header(r!, 'idempotency-key')).toBe('7:g1:s0:alice:ops-hook');
      expect(header(r!, 'x-timestamp')).toBe(String(T0 / 1000));
      expect(json(r!)).toMatchObject({ kind: 'opened', key: '7:g1:s0:alice:ops-hook', mention: 'U-alice', incident: { id: 7, title: 'P1 eu-west: stall ratio 30%' } });
    });

    it("the endpoint's answer is the verdict: 500 retryable, 400 not", async () => {
      receiver.answer(OPS, { status: 500, body: 'boom' }, { status: 400, body: 'bad' });
      const d = deliveryOf({ recipient: 'alice', channel: 'ops-hook' }, await deps());
      expect(await d.send(page('k1'))).toEqual({ ok: false, retryable: true, reason: 'HTTP 500: boom' });
      expect(await d.send(page('k2'))).toEqual({ ok: false, retryable: false, reason: 'HTTP 400: bad' });
      expect(receiver.to(OPS)).toHaveLength(2);
    });
  });
});
