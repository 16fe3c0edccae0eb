import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageMessage } from '../../src/notify/channel.js';
import { EmailSender, renderEmail } from '../../src/notify/email.js';
import { freePort } from '../helpers/ports.js';
import { SmtpSink } from '../helpers/smtp.js';

const page: PageMessage = {
  kind: 'opened', incidentId: 12, priority: 'P1', tenant: 'acme', region: 'eu-west', state: 'open',
  title: 'P1 eu-west: stall_ratio 7.5% (> 0.05)', text: 'stall_ratio 7.5% over 1m (threshold > 0.05), 1204 samples, 320 sessions',
  runbook: 'https://wiki.example.com/runbooks/stall', timeline: ['12:00:00 qoswatch opened', '12:00:00 qoswatch alert_fired <stall>'],
  ackUrl: 'https://qos.example.com/v1/links/ack-token', resolveUrl: 'https://qos.example.com/v1/links/resolve-token', incidentUrl: undefined,
  mention: undefined, key: '12:0:0:anna:email',
};

describe('email over a real SMTP server (smtp-server, parsed with mailparser)', () => {
  const smtp = new SmtpSink();
  beforeAll(() => smtp.start());
  afterAll(() => smtp.stop());

  it('delivers HTML and text with the priority, region, values, runbook, timeline and signed links', async () => {
    const sender = new EmailSender(smtp.url, 'qoswatch <alerts@qos.example.com>', 2000);
    expect(await sender.send('anna@example.com', page)).toEqual({ ok: true });
    sender.close();
    const m = smtp.mails.at(-1)!;
    expect(m.subject).toBe('[P1] eu-west: stall_ratio 7.5% (> 0.05) (incident #12 opened)');
    expect(m.from?.text).toContain('alerts@qos.example.com');
    expect((m.to as { text: string }).text).toBe('anna@example.com');
    expect(m.messageId).toBe('<12.0.0.anna.email@qoswatch>');
    expect(m.text).toContain('1204 samples, 320 sessions');
    expect(m.text).toContain('Runbook: https://wiki.example.com/runbooks/stall');
    expect(m.text).toContain('Acknowledge: https://qos.example.com/v1/links/ack-token');
    expect(m.html).toContain('href="https://qos.example.com/v1/links/resolve-token"');
    expect(m.html).toContain('&#60;stall&#62;'); // timeline text is escaped in HTML
  });

  it('an SMTP 5xx refusal is permanent, a 4xx is retryable, and the password never shows', async () => {
    const sender = new EmailSender(smtp.url, 'alerts@qos.example.com', 2000);
    smtp.refuse = { code: 550, message: 'no such user' };
    const refused = await sender.send('ghost@example.com', page);
    smtp.refuse = { code: 451, message: 'try again later' };
    const later = await sender.send('anna@example.com', page);
    smtp.refuse = undefined;
    sender.close();
    expect(refused).toMatchObject({ ok: false, retryable: false });
    expect(later).toMatchObject({ ok: false, retryable: true });
    for (const v of [refused, later]) expect(JSON.stringify(v)).not.toContain('smtp-pass-123456');
  });

  it('a server that is down is a retryable failure', async () => {
    const sender = new EmailSender(`smtp://u:secret-pass-999@127.0.0.1:${await freePort()}`, 'alerts@qos.example.com', 1000);
    const v = await sender.send('anna@example.com', page);
    sender.close();
    expect(v).toMatchObject({ ok: false, retryable: true });
    expect(JSON.stringify(v)).not.toContain('secret-pass-999');
  });

  it('renders every kind in the subject', () => {
    expect(renderEmail({ ...page, kind: 'escalated' }).subject).toContain('(incident #12 ESCALATED)');
    expect(renderEmail({ ...page, kind: 'resolved', region: undefined }).subject).toMatch(/^\[P1\] acme: /);
  });
});
