import type { PageMessage } from '../channel.js';
import { MAILTO, TEAM } from '../compose.js';
import type { OutboxItem, OutboxRow } from '../../storage/state/outbox.js';

/**
 * The fallback stage: a page that failed goes to the person's next channel not tried yet for the same step or
 * event (once per channel). Only the channel tried last brings in another: one that keeps failing on retries after
 * it brought in the next (which may well have reached the person) pages no further channel. Team channels and
 * plain addresses have no next channel.
 */
export function fallbackOf(
  row: OutboxRow,
  page: PageMessage,
  /** The person's channels, in the order of their `notify` list. */
  channels: readonly string[],
  /** Every outbox row of the row's incident (or storm). */
  thread: readonly OutboxRow[],
  mention: (recipient: string, channel: string) => string | undefined,
): OutboxItem | undefined {
  if (row.recipient.startsWith(TEAM) || row.recipient.startsWith(MAILTO)) return undefined;
  const base = row.key.slice(0, row.key.length - `:${row.recipient}:${row.channel}`.length);
  const mine = thread.filter((r) => r.key.startsWith(`${base}:${row.recipient}:`));
  if (mine.some((r) => r.id > row.id)) return undefined;
  const tried = new Set(mine.map((r) => r.channel));
  const next = channels.find((c) => !tried.has(c));
  if (next === undefined) return undefined;
  // The same message (who acted, the values at the time), addressed to the next channel.
  const key = `${base}:${row.recipient}:${next}`;
  const payload = JSON.stringify({ ...page, key, mention: mention(row.recipient, next) } satisfies PageMessage);
  return { key, incidentId: row.incidentId, stormId: row.stormId, kind: row.kind, recipient: row.recipient, channel: next, priority: row.priority, tenant: row.tenant, payload };
}
