import { writeFileSync } from 'node:fs';
import type { ParsedMail } from 'mailparser';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { stringify } from 'yaml';
import { type RuleDef, api, notPaging, stallRule, writeRules } from './alerting.js';
import { metric } from './metrics.js';
import { waitFor } from './ports.js';
import { HttpReceiver } from './receiver.js';
import { SmtpSink } from './smtp.js';
import { tempDir } from './tmp.js';

/** Paging tests: an on-call file whose chat endpoints are a loopback receiver, and reading the pager's timeline. */

export const WEBHOOK_SECRET = 'whsec-paging-0123456789';
/** Where recipients reach qoswatch (signed links point here); tests swap the origin for the app's loopback URL. */
export const PUBLIC_URL = 'https://qos.example.test';
export const LINK_SECRET = 'link-secret-0123456789abcdef';
export const RUNBOOK = 'https://runbooks.example.test/stall-ratio';
/** Receiver paths of the chat endpoints in the fixture. */
export const OPS_HOOK = '/hooks/ops';
export const SRE_HOOK = '/hooks/sre';
export const WECOM = '/cgi-bin/webhook/send';

/** One stall rule for every paging test: above 20 % is P1, above 5 % P2; fires at once, clears only after 6 h. */
export const pagingRule = (over: RuleDef = {}): RuleDef =>
  stallRule({ thresholds: { P1: '> 0.2', P2: '> 0.05' }, for: '0s', min_sessions: 0, clear_for: '6h', runbook: RUNBOOK, ...over });

type Obj = Record<string, unknown>;
export interface OnCallDoc {
  people: Obj[];
  channels: Obj[];
  schedules: Obj[];
  escalation_policies: Obj[];
  default_policy: string;
}

/** A schedule with one member on call around the clock (a daily rotation of one, no restrictions). */
export const always = (id: string, person: string) => ({ id, layers: [{ id: 'all', timezone: 'UTC', rotation: 'daily', handoff: '00:00', start: '2020-01-01', members: [person] }] });

/**
 * alice is on call in `primary` (level 1), bob in `secondary` (level 2); each level waits 5 min for an ack and the
 * policy runs once more (repeat 1). Both are paged by email, then the `ops-hook` generic webhook (P0/P1: both at
 * once; P2: the first, the next one on failure). `sre-hook` (generic webhook) and `team-wecom` (WeCom robot) are
 * configured for tests to use. Every chat endpoint is on `receiver`.
 */
export function pagingOnCall(receiver: (path: string) => string): OnCallDoc {
  return {
    people: [
      { id: 'alice', name: 'Alice', email: 'alice@example.com', chat: { webhook: 'U-alice', wecom: 'alice.w' }, notify: ['email', 'ops-hook'] },
      { id: 'bob', name: 'Bob', email: 'bob@example.com', chat: { webhook: 'U-bob', wecom: 'bob.w' }, notify: ['email', 'ops-hook'] },
    ],
    channels: [
      { id: 'ops-hook', provider: 'webhook', url: receiver(OPS_HOOK), secret: WEBHOOK_SECRET },
      { id: 'sre-hook', provider: 'webhook', url: receiver(SRE_HOOK), secret: WEBHOOK_SECRET },
      { id: 'team-wecom', provider: 'wecom', url: receiver(`${WECOM}?key=wecom-key-0123456789`) },
    ],
    schedules: [always('primary', 'alice'), always('secondary', 'bob')],
    escalation_policies: [
      {
        id: 'main',
        levels: [
          { targets: [{ schedule: 'primary' }], ack_timeout: '5m' },
          { targets: [{ schedule: 'secondary' }], ack_timeout: '5m' },
        ],
        repeat: 1,
      },
    ],
    default_policy: 'main',
  };
}

/** The paging fixture's rules and on-call file (chat endpoints on `receiver`), as service environment. */
export function pagingFixtureEnv(receiver: HttpReceiver): { QOSWATCH_RULES_DIR: string; QOSWATCH_ONCALL: string } {
  return { QOSWATCH_RULES_DIR: writeRules([pagingRule()]), QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))) };
}

/** Writes an on-call document to a fresh temp file; returns its path. */
export function writeOnCall(doc: OnCallDoc): string {
  const path = join(tempDir('qoswatch-oncall'), 'oncall.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

/** The person with id `id` in a document (to edit it). */
export const personIn = (doc: OnCallDoc, id: string): Obj => doc.people.find((p) => p.id === id)!;

export interface Entry {
  kind: string;
  actor: string;
  at: string;
  data?: Record<string, any>;
}

/** An incident's timeline through the API. */
export async function timeline(url: string, id: number): Promise<Entry[]> {
  const r = await api(url, 'GET', `/v1/incidents/${id}`);
  if (r.status !== 200) throw new Error(`GET /v1/incidents/${id} answered ${r.status}`);
  return r.body.timeline;
}

/** The pager's entries only (paged, escalated, page_*, not_paged). */
export const pagingEntries = async (url: string, id: number): Promise<Entry[]> => (await timeline(url, id)).filter((e) => !notPaging(e));

/** A real SMTP server and HTTP receiver on loopback for the whole test file, emptied before each test. */
export function useLoopbackServers(): { smtp: SmtpSink; receiver: HttpReceiver } {
  const smtp = new SmtpSink();
  const receiver = new HttpReceiver();
  beforeAll(async () => {
    await smtp.start();
    await receiver.start();
  });
  beforeEach(() => {
    smtp.mails.length = 0;
    smtp.refuse = undefined;
    receiver.reset();
  });
  afterAll(async () => {
    await receiver.stop();
    await smtp.stop();
  });
  return { smtp, receiver };
}

/** The Acknowledge and Resolve links of a plain-text email. */
export function mailLinks(m: ParsedMail): { ack: string | undefined; resolve: string | undefined } {
  const text = m.text ?? '';
  return { ack: /^Acknowledge: (\S+)$/m.exec(text)?.[1], resolve: /^Resolve: (\S+)$/m.exec(text)?.[1] };
}

/** Waits until a service's outbox holds nothing pending or in flight (every send it started has finished). */
export const drained = (url: string) => waitFor('an empty outbox', async () => (await metric(url, 'qoswatch_outbox_backlog')) === 0 || undefined);
