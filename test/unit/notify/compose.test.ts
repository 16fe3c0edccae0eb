import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { Incidents } from '../../../src/incidents/incidents.js';
import type { Incident } from '../../../src/incidents/model.js';
import type { PageMessage } from '../../../src/notify/channel.js';
import { Composer, MAILTO, TEAM } from '../../../src/notify/compose.js';
import { verifyLink } from '../../../src/notify/links.js';
import { parseOnCall } from '../../../src/oncall/config.js';
import { OnCallService } from '../../../src/oncall/oncall.js';
import { keyOf } from '../../../src/rules/engine.js';
import { compileRuleFiles } from '../../../src/rules/load.js';
import type { ThresholdRule } from '../../../src/rules/rule-schema.js';
import type { StateStore } from '../../../src/storage/state/store.js';
import { BACKENDS } from '../../helpers/backends.js';

const T0 = Date.UTC(2026, 4, 4, 12);
const SECRET = 'link-secret-0123456789abcdef';
const TTL = 3_600_000;
const [STALL] = compileRuleFiles(
  [{ path: 't.yaml', text: 'rules:\n  - id: stall\n    description: d\n    metric: stall_ratio\n    window: 1m\n    runbook: https://runbooks.example.test/stall\n    thresholds: {P0: "> 0.2", P1: "> 0.05"}\n' }],
  { windowMs: 10_000, horizonMs: 300_000 },
).rules as [ThresholdRule];

const ONCALL = stringify({
  people: [
    { id: 'alice', name: 'Alice', email: 'alice@example.com', chat: { slack: 'U0ALICE' }, notify: ['email', 'ops'] },
    { id: 'bob', name: 'Bob', email: 'bob@example.com', notify: ['email', 'ops'] },
  ],
  channels: [{ id: 'ops', provider: 'slack', url: 'https://hooks.slack.com/services/T0/B0/abcdefghijklmnop' }],
  schedules: [],
  escalation_policies: [{ id: 'main', levels: [{ targets: [{ person: 'alice' }] }] }],
  default_policy: 'main',
});

const pageOf = (payload: string) => JSON.parse(payload) as PageMessage;
const tokenOf = (url: string | undefined) => url!.split('/v1/links/')[1]!;

describe.each(BACKENDS)('Composer on $name', (backend) => {
  let store: StateStore;
  let close = async () => {};
  let incidents: Incidents;
  let compose: Composer;

  beforeEach(async () => {
    ({ store, close } = await backend.open());
    incidents = new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 0, silenced: () => false });
    const oncall = await OnCallService.load(store.overrides, parseOnCall(ONCALL, 'oncall.yaml', T0));
    compose = new Composer({ incidents, oncall, runbookOf: (id) => (id === 'stall' ? STALL.runbook : undefined) }, { publicUrl: 'https://qos.example.test', linkSecret: SECRET, linkTtlMs: TTL });
  });
  afterEach(() => close());

  /** Opens an incident for the stall rule in `region` (P1, 7.5 %). */
  async function open(region: string, at = T0): Promise<Incident> {
    const labels = { tenant: 'acme', region };
    const values = { metric: 'stall_ratio', value: 0.075, threshold: '> 0.05', window_ms: 60_000, samples: 120, sessions: 40 };
    const [e] = await store.tx((t) => incidents.applyAlertEvents([{ type: 'fired', rule: STALL, labels, key: keyOf(STALL, labels), at, priority: 'P1', values }], t));
    return e!.incident;
  }

  describe('Composer: an incident page', () => {
    it('is composed once per event: addressing it to many recipients and channels reads the incident once', async () => {
      const inc = await open('eu-west');
      const alerts = vi.spyOn(incidents, 'alerts');
      const timeline = vi.spyOn(incidents, 'timeline');
      const draft = await compose.incident(store, inc, 'opened', T0);
      const items = ['alice', 'bob', `${TEAM}ops`].flatMap((r) => ['email', 'ops'].map((c) => draft.address(r, c, `${inc.id}:g0:s0`)));
      expect(items).toHaveLength(6);
      expect(alerts).toHaveBeenCalledTimes(1);
      expect(timeline).toHaveBeenCalledTimes(1);
      expect(new Set(items.map((i) => i.key)).size).toBe(6);
      expect(items[0]).toMatchObject({ key: `${inc.id}:g0:s0:alice:email`, incidentId: inc.id, kind: 'opened', recipient: 'alice', channel: 'email', priority: 'P1', tenant: 'acme' });
      expect(items[0]!.stormId).toBeUndefined();
    });

    it('says what fired with its values and runbook; every address gets the same text', async () => {
      const inc = await open('eu-west');
      const draft = await compose.incident(store, inc, 'opened', T0);
      const pages = [draft.address('alice', 'email', 'b'), draft.address('bob', 'ops', 'b')].map((i) => pageOf(i.payload));
      expect(pages[0]).toMatchObject({ kind: 'opened', incidentId: inc.id, priority: 'P1', tenant: 'acme', region: 'eu-west', state: 'open', runbook: 'https://runbooks.example.test/stall' });
      expect(pages[0]!.title).toBe(`P1 eu-west: ${inc.title}`);
      expect(pages[0]!.text).toBe('stall: stall_ratio 0.075 (> 0.05, window 60000 ms, 120 samples, 40 sessions)');
      for (const k of ['title', 'text', 'runbook', 'timeline', 'state'] as const) expect(pages[1]![k]).toEqual(pages[0]![k]);
      expect(pages.map((p) => p.key)).toEqual(['b:alice:email', 'b:bob:ops']);
    });

    it('signs each recipient its own links (acknowledge while open, resolve while open or acknowledged), valid for the TTL', async () => {
      const inc = await open('eu-west');
      const page = pageOf((await compose.incident(store, inc, 'opened', T0)).address('bob', 'ops', 'b').payload);
      for (const [url, action] of [[page.ackUrl, 'ack'], [page.resolveUrl, 'resolve']] as const) {
        expect(url!.startsWith('https://qos.example.test/v1/links/')).toBe(true);
        expect(verifyLink(SECRET, tokenOf(url), T0)).toEqual({ ok: true, claim: { incident: inc.id, reopened: 0, action, recipient: 'bob', expires: T0 + TTL } });
        expect(verifyLink(SECRET, tokenOf(url), T0 + TTL)).toEqual({ ok: false, reason: 'expired' });
      }
      const acked = (await incidents.act(inc.id, 'ack', 'alice', 'on it', T0 + 1000)).incident;
      const after = pageOf((await compose.incident(store, acked, 'acknowledged', T0 + 1000)).address('bob', 'ops', 'c').payload);
      expect(after.ackUrl).toBeUndefined();
      expect(verifyLink(SECRET, tokenOf(after.resolveUrl), T0 + 1000)).toMatchObject({ ok: true, claim: { action: 'resolve', recipient: 'bob' } });
    });

    it('mentions a person by their handle on the channel’s provider only (not on email, not a team channel or a plain address)', async () => {
      const draft = await compose.incident(store, await open('eu-west'), 'opened', T0);
      const mention = (r: string, c: string) => pageOf(draft.address(r, c, 'b').payload).mention;
      expect(mention('alice', 'ops')).toBe('U0ALICE');
      expect(mention('alice', 'email')).toBeUndefined();
      expect(mention('bob', 'ops')).toBeUndefined();
      expect(mention(`${TEAM}ops`, 'ops')).toBeUndefined();
      expect(mention(`${MAILTO}alice`, 'ops')).toBeUndefined();
    });

    it('names who acted and their note; a headline of its own comes first (SLA warnings)', async () => {
      const inc = await open('eu-west');
      const e = await incidents.act(inc.id, 'ack', 'alice', 'looking', T0 + 1000);
      expect(pageOf((await compose.incident(store, e.incident, 'acknowledged', T0 + 1000, e)).address('bob', 'email', 'b').payload).text.split('\n')[0]).toBe('Acknowledged by alice: looking');
      expect(pageOf((await compose.incident(store, inc, 'sla_warning', T0, 'SLA warning (80 %): resolution')).address('bob', 'email', 'b').payload).text.split('\n')[0]).toBe('SLA warning (80 %): resolution');
    });
  });

  describe('Composer: a storm page', () => {
    it('lists the storm’s incidents, most urgent first, with one acknowledge link for the storm', async () => {
      const storm = await store.storms.open('acme', 'main', T0);
      const members = [await open('eu-west'), await open('us-east', T0 + 1)];
      const draft = await compose.storm(store, storm, members, 'opened', T0, ['more joined']);
      const item = draft.address('alice', 'ops', `storm:${storm.id}:g0:s0`);
      expect(item).toMatchObject({ incidentId: 0, stormId: storm.id, priority: 'P1', tenant: 'acme', kind: 'opened' });
      const page = pageOf(item.payload);
      expect(page.storm!.incidents.map((i) => i.id)).toEqual(members.map((m) => m.id));
      expect(page.text.split('\n').slice(0, 2)).toEqual(['more joined', '2 open.']);
      expect(page.resolveUrl).toBeUndefined();
      expect(verifyLink(SECRET, tokenOf(page.ackUrl), T0)).toEqual({ ok: true, claim: { incident: 0, reopened: 0, action: 'ack', recipient: 'alice', expires: T0 + TTL, storm: storm.id } });
      expect(page.mention).toBe('U0ALICE');
    });
  });
});
