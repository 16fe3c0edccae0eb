import { EMAIL, UNKNOWN_CHANNEL } from '../../shared/paging.js';
import type { OnCallService } from '../../oncall/oncall.js';
import type { PageMessage, Verdict } from '../channel.js';
import { MAILTO } from '../compose.js';
import { deliver } from '../deliver.js';
import type { EmailSender } from '../email.js';
import type { OutboxRow } from '../../storage/state/outbox.js';
import { PROVIDERS, type ProviderId } from '../registry.js';

/** How one page reaches its recipient on one channel. */
export interface Delivery {
  /** "email", a chat provider id, or "unknown" (a channel no longer configured): the rate class and metric label. */
  readonly provider: typeof EMAIL | ProviderId | typeof UNKNOWN_CHANNEL;
  send(page: PageMessage): Promise<Verdict>;
}

export interface DeliveryDeps {
  oncall: Pick<OnCallService, 'person' | 'config'>;
  /** Email over SMTP_URL; undefined without it. */
  email: EmailSender | undefined;
  clock: () => number;
  timeoutMs: number;
}

const refused = (provider: Delivery['provider'], reason: string): Delivery => ({ provider, send: async () => ({ ok: false, retryable: false, reason }) });

/**
 * The deliver stage: the provider of a row's channel and the recipient's address on it. Email is one provider among
 * the chat ones — the address is the person's email (or a plain `mailto:` one) and SMTP the transport — so the
 * stages around it (rate, retry, fallback) treat every channel alike. Whatever cannot be sent (no SMTP, no address,
 * a channel removed from the on-call file) is a permanent failure, which the fallback stage answers.
 */
export function deliveryOf(row: Pick<OutboxRow, 'recipient' | 'channel'>, deps: DeliveryDeps): Delivery {
  if (row.channel === EMAIL) {
    const { email } = deps;
    const to = row.recipient.startsWith(MAILTO) ? row.recipient.slice(MAILTO.length) : deps.oncall.person(row.recipient)?.email;
    if (!email) return refused(EMAIL, 'email is not configured (SMTP_URL)');
    if (!to) return refused(EMAIL, `${row.recipient} has no email address`);
    return { provider: EMAIL, send: (page) => email.send(to, page) };
  }
  const ch = deps.oncall.config.channels.get(row.channel);
  if (!ch) return refused(UNKNOWN_CHANNEL, `channel ${row.channel} is no longer configured`);
  return { provider: ch.provider, send: (page) => deliver(PROVIDERS[ch.provider], ch.config, page, deps.clock(), deps.timeoutMs) };
}
