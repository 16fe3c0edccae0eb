import nodemailer, { type Transporter } from 'nodemailer';
import type { PageMessage, Verdict } from './channel.js';
import { redact } from './deliver.js';
import { inert } from './markup.js';
import { escapeHtml, facts, links, runbookUrl } from './render.js';

const KIND_WORDS: Record<PageMessage['kind'], string> = {
  opened: 'opened', priority_changed: 'priority changed', escalated: 'ESCALATED', acknowledged: 'acknowledged',
  mitigated: 'mitigated', resolved: 'resolved', sla_warning: 'SLA warning', updated: 'updated',
};

const esc = escapeHtml;
/** Text qoswatch did not write (telemetry, people's notes) in HTML: escaped, and nothing in it linked by a mail client. */
const text = (s: string) => esc(inert(s));

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Subject with priority, region and summary; body with values, runbook, timeline so far and the signed links. Mail
 * clients link URLs, host and e-mail addresses in text (plain and HTML): text qoswatch did not write is inert().
 */
export function renderEmail(page: PageMessage): RenderedEmail {
  const where = page.region ?? page.tenant;
  const subject = inert(`[${page.priority}] ${where}: ${page.title.replace(/^P\d\s+\S+:\s*/, '')}`) + ` (${page.ticket ? `ticket ${page.ticket} ` : page.incidentId ? `incident #${page.incidentId} ` : ''}${KIND_WORDS[page.kind]})`;
  const ls = links(page);
  const runbook = runbookUrl(page);
  const plain = [
    inert(page.title),
    '',
    inert(page.text),
    '',
    ...facts(page).map(([k, v]) => `${k}: ${inert(v)}`),
    ...(page.runbook ? ['', `Runbook: ${page.runbook}`] : []),
    ...(page.timeline.length ? ['', 'Timeline:', ...page.timeline.map((l) => `  ${inert(l)}`)] : []),
    ...(ls.length ? ['', ...ls.map((l) => `${l.label}: ${l.url}`)] : []),
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<h2>${text(page.title)}</h2>
<p>${text(page.text).replace(/\n/g, '<br>')}</p>
<table>${facts(page).map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${text(v)}</td></tr>`).join('')}</table>
${page.runbook ? `<p>Runbook: ${runbook ? `<a href="${esc(runbook)}">${esc(runbook)}</a>` : esc(page.runbook)}</p>` : ''}
${page.timeline.length ? `<h3>Timeline</h3><ul>${page.timeline.map((l) => `<li>${text(l)}</li>`).join('')}</ul>` : ''}
${ls.map((l) => `<a href="${esc(l.url)}" style="display:inline-block;padding:8px 16px;margin-right:8px;background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px">${esc(l.label)}</a>`).join('')}
</body></html>`;
  return { subject, text: plain, html };
}

const messageIdOf = (key: string) => `<${key.replace(/[^\w.-]/g, '.')}@qoswatch>`;

/** Email over SMTP (SMTP_URL) with nodemailer; the Message-ID comes from the outbox key, so a resend is recognisable. */
export class EmailSender {
  private readonly transport: Transporter;
  private readonly secrets: string[];

  constructor(
    smtpUrl: string,
    private readonly from: string,
    timeoutMs: number,
  ) {
    this.transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs });
    const u = new URL(smtpUrl);
    this.secrets = [smtpUrl, ...(u.password ? [decodeURIComponent(u.password)] : [])];
  }

  async send(to: string, page: PageMessage): Promise<Verdict> {
    const m = renderEmail(page);
    try {
      await this.transport.sendMail({ from: this.from, to, subject: m.subject, text: m.text, html: m.html, messageId: messageIdOf(page.key) });
      return { ok: true };
    } catch (err) {
      const e = err as Error & { responseCode?: number };
      // SMTP 5xx is a permanent refusal (bad address, policy); 4xx and connection trouble are worth retrying.
      const permanent = e.responseCode !== undefined && e.responseCode >= 500;
      return { ok: false, retryable: !permanent, reason: this.reason(err) };
    }
  }

  /**
   * Sends a rendered report (HTML, text, inline images) to its recipients; throws with a redacted reason.
   * The Message-ID is derived from `key`, so a retried period is recognisable as the same report.
   */
  async sendReport(to: readonly string[], m: { subject: string; text: string; html: string; attachments: readonly { cid: string; filename: string; contentType: string; content: Buffer }[] }, key: string): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.from, to: [...to], subject: m.subject, text: m.text, html: m.html, messageId: messageIdOf(key),
        attachments: m.attachments.map((a) => ({ cid: a.cid, filename: a.filename, contentType: a.contentType, content: a.content, contentDisposition: 'inline' as const })),
      });
    } catch (err) {
      throw new Error(this.reason(err));
    }
  }

  /** Why a send failed, with the SMTP URL and password removed. */
  private reason(err: unknown): string {
    const e = err as Error & { responseCode?: number; code?: string };
    return redact(`SMTP ${e.responseCode ?? e.code ?? ''}: ${e.message}`.trim(), this.secrets);
  }

  close(): void {
    this.transport.close();
  }
}
