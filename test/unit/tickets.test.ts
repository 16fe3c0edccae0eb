import { join } from 'node:path';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Incidents } from '../../src/incidents/incidents.js';
import type { IncidentEvent } from '../../src/incidents/model.js';
import { type AlertEvent, keyOf } from '../../src/rules/engine.js';
import type { Labels } from '../../src/shared/labels.js';
import { compileRuleFiles } from '../../src/rules/load.js';
import type { ThresholdRule } from '../../src/rules/rule-schema.js';
import { expectAppRejection } from '../helpers/errors.js';
import type { Priority } from '../../src/shared/priority.js';
import { DEFAULT_SLA } from '../../src/shared/sla-policy.js';
import { openDb } from '../../src/storage/sqlite.js';
import { MIGRATIONS, openStateDb } from '../../src/storage/state-db.js';
import { type TargetName, type Tenant, type Tier } from '../../src/shared/tenant.js';
import type { TicketState } from '../../src/tickets/lifecycle.js';
import { syncTicket } from '../../src/tickets/sync.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { type SlaClock, type Ticket, Tickets } from '../../src/tickets/tickets.js';
import { BACKENDS } from '../helpers/backends.js';
import { stateOn, ticketsOn } from '../helpers/state.js';
import { tempDir } from '../helpers/tmp.js';
import { businessHours } from '../helpers/business-hours.js';


/**
 * Tickets on each state store backend (SQLite, PostgreSQL) with time passed in: lifecycle, SLA clocks per tier and
 * priority (24×7 and the tenant's business hours), pauses, priority changes, root causes, comments, and the incident →
 * ticket sync.
 */

const SH = 'Asia/Shanghai'; // UTC+8, no DST
const M = 60_000;
const H = 60 * M;
const D = 24 * H;
/** A wall-clock time in Shanghai, as epoch ms. */
const local = (iso: string) => DateTime.fromISO(iso, { zone: SH }).toMillis();
const show = (ms: number | undefined) => (ms === undefined ? undefined : DateTime.fromMillis(ms, { zone: SH }).toFormat('ccc yyyy-MM-dd HH:mm:ss.SSS'));
/** A Monday, 10:00 in Shanghai. */
const T0 = local('2026-11-23T10:00');

const tenant = (tier: Tier, holidays: string[] = [], id = `${tier}-co`): Tenant => ({
  id, name: id, tier, timezone: SH, businessHours: businessHours(SH, holidays), sla: DEFAULT_SLA[tier], contacts: [], customerChannel: undefined, reports: {},
});
const STRATEGIC = tenant('strategic');
const ENTERPRISE = tenant('enterprise');

describe.each(BACKENDS)('tickets on $name', (backend) => {
  let store: StateStore;
  let close: () => Promise<void>;
  let tickets: Tickets;
  beforeEach(async () => {
    ({ store, close } = await backend.open());
    tickets = new Tickets(store);
  });
  afterEach(() => close());

  /** Opens a ticket by hand for `who` at `at`. */
  const open = async (who: Tenant, priority: Priority, at = T0, incidentId?: number): Promise<Ticket> =>
    (await tickets.open({ tenant: who.id, incidentId, title: 'viewers stall', priority, actor: 'support' }, at)).ticket;
  /** One clock of a ticket (read back from the store) at `now`. */
  const clock = async (id: number, who: Tenant, target: TargetName, now: number): Promise<SlaClock> => {
    const c = tickets.clocks((await tickets.get(id))!, who, now, await tickets.events(id)).find((x) => x.target === target);
    if (!c) throw new Error(`ticket ${id} has no ${target} clock`);
    return c;
  };
  const move = (id: number, to: TicketState | 'resume', at: number, o: { rootCause?: string; tenant?: string } = {}) => tickets.move(id, to, 'alice', o, at);
  const kinds = async (id: number) => (await tickets.events(id)).map((e) => e.kind);
  describe('lifecycle', () => {
    /** How to get a fresh ticket into each state (P2: no root cause needed). */
    const PATH: Record<TicketState, TicketState[]> = {
      new: [], acknowledged: ['acknowledged'], mitigated: ['mitigated'], resolved: ['resolved'], closed: ['resolved', 'closed'],
      waiting_on_customer: ['waiting_on_customer'],
    };
    /** PRODUCT.md §3: new → acknowledged → mitigated → resolved → closed, any open state can wait on the customer. */
    const ALLOWED: Record<TicketState, TicketState[]> = {
      new: ['acknowledged', 'mitigated', 'resolved', 'waiting_on_customer'],
      acknowledged: ['mitigated', 'resolved', 'waiting_on_customer'],
      mitigated: ['resolved', 'waiting_on_customer'],
      resolved: ['closed'],
      closed: [],
      // Paused from `new`: back to new, or on to any later working state.
      waiting_on_customer: ['new', 'acknowledged', 'mitigated', 'resolved'],
    };
    const STATES = Object.keys(PATH) as TicketState[];
    const inState = async (s: TicketState) => {
      const t = await open(STRATEGIC, 'P2');
      for (const [i, to] of PATH[s].entries()) await move(t.id, to, T0 + (i + 1) * M);
      expect((await tickets.get(t.id))!.state).toBe(s);
      return t.id;
    };

    it.each(STATES)('from %s: allowed moves succeed, every other one is a 409 that changes nothing', async (from) => {
      for (const to of STATES) {
        const id = await inState(from);
        const before = (await tickets.events(id)).length;
        if (ALLOWED[from].includes(to)) {
          expect(await move(id, to, T0 + H), `${from} → ${to}`).toMatchObject({ state: to, updatedAt: T0 + H });
          expect((await tickets.events(id)).at(-1)).toMatchObject({ kind: 'state_changed', actor: 'alice', at: T0 + H, visibility: 'customer', data: { from, to } });
        } else {
          await expectAppRejection(move(id, to, T0 + H), 409, new RegExp(`${from}: cannot move it to ${to}`));
          expect((await tickets.get(id))!.state, `${from} → ${to} refused`).toBe(from);
          expect(await tickets.events(id)).toHaveLength(before);
        }
      }
    });

    it('resume is only for a ticket waiting on the customer', async () => {
      for (const s of ['new', 'acknowledged', 'mitigated', 'resolved', 'closed'] as const) await expectAppRejection(move(await inState(s), 'resume', T0 + H), 409, /not waiting on the customer/);
    });

    it.each(['new', 'acknowledged', 'mitigated'] as const)('waiting_on_customer from %s: resume returns to the paused state', async (paused) => {
      const id = await inState(paused);
      await move(id, 'waiting_on_customer', T0 + H);
      expect((await move(id, 'resume', T0 + 2 * H)).state).toBe(paused);
      expect((await tickets.events(id)).at(-1)!.data).toMatchObject({ from: 'waiting_on_customer', to: paused });
    });

    it('leaving waiting_on_customer does not move a ticket backwards past the state it paused', async () => {
      // mitigated → acknowledged is refused (409); a detour through waiting_on_customer must not make it possible.
      for (const back of ['new', 'acknowledged'] as const) {
        const id = await inState('mitigated');
        await move(id, 'waiting_on_customer', T0 + H);
        await expectAppRejection(move(id, back, T0 + 2 * H), 409);
        expect((await tickets.get(id))!.state).toBe('waiting_on_customer');
      }
    });

    it('a missing ticket, or another tenant\'s, is a 404', async () => {
      const t = await open(STRATEGIC, 'P2');
      await expectAppRejection(move(t.id + 100, 'acknowledged', T0), 404);
      await expectAppRejection(move(t.id, 'acknowledged', T0, { tenant: 'someone-else' }), 404);
      expect((await tickets.get(t.id))!.state).toBe('new');
      await expectAppRejection(tickets.require(t.id, 'someone-else'), 404);
      expect((await tickets.require(t.id, STRATEGIC.id)).id).toBe(t.id);
    });
  });

  describe('SLA clocks by tier and priority', () => {
    it('strategic P0: response warns at exactly 12 min and breaches at exactly 15 min; restore 48 min / 1 h', async () => {
      const t = await open(STRATEGIC, 'P0');
      expect(await clock(t.id, STRATEGIC, 'response', T0)).toMatchObject({ targetMs: 15 * M, calendar: '24x7', running: true, elapsedMs: 0, warnAt: T0 + 12 * M, dueAt: T0 + 15 * M, breached: false });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 15 * M - 1)).toMatchObject({ breached: false, elapsedMs: 15 * M - 1 });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 15 * M)).toMatchObject({ breached: true, warnAt: T0 + 12 * M, dueAt: T0 + 15 * M, running: true });
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + 30 * M)).toMatchObject({ targetMs: H, warnAt: T0 + 48 * M, dueAt: T0 + H, breached: false });
      expect((await clock(t.id, STRATEGIC, 'restore', T0 + H - 1)).breached).toBe(false);
      expect((await clock(t.id, STRATEGIC, 'restore', T0 + H)).breached).toBe(true);
      expect(await clock(t.id, STRATEGIC, 'resolve', T0)).toMatchObject({ targetMs: 24 * H, warnAt: T0 + 0.8 * 24 * H, dueAt: T0 + 24 * H });
    });

    it('enterprise P1: response in 4 h round the clock (warn at 3 h 12 min)', async () => {
      const t = await open(ENTERPRISE, 'P1', local('2026-11-21T23:00')); // a Saturday night: 24×7 does not care
      const at = local('2026-11-21T23:00');
      expect(await clock(t.id, ENTERPRISE, 'response', at)).toMatchObject({ targetMs: 4 * H, calendar: '24x7', warnAt: at + 3 * H + 12 * M, dueAt: at + 4 * H });
      expect((await clock(t.id, ENTERPRISE, 'response', at + 4 * H)).breached).toBe(true);
    });

    it('basic P1: 8 business hours in the tenant\'s zone — Friday 17:00 → Monday 16:00; a holiday Monday shifts it a day', async () => {
      const fri = local('2026-11-20T17:00');
      const basic = tenant('basic');
      const t = await open(basic, 'P1', fri);
      const response = (who: Tenant, now: number) => clock(t.id, who, 'response', now);
      expect(await response(basic, fri)).toMatchObject({ calendar: 'business', targetMs: 8 * H });
      expect(show((await response(basic, fri)).dueAt)).toBe('Mon 2026-11-23 16:00:00.000');
      expect(show((await response(basic, fri)).warnAt)).toBe('Mon 2026-11-23 14:24:00.000'); // 6.4 h: 1 h Friday + 5 h 24 min
      // The weekend does not count: Sunday night only Friday's hour has run.
      expect(await response(basic, local('2026-11-22T23:00'))).toMatchObject({ elapsedMs: H, breached: false });
      expect((await response(basic, local('2026-11-23T16:00') - 1)).breached).toBe(false);
      expect((await response(basic, local('2026-11-23T16:00'))).breached).toBe(true);

      const withHoliday = tenant('basic', ['2026-11-23'], basic.id);
      expect(show((await response(withHoliday, fri)).dueAt)).toBe('Tue 2026-11-24 16:00:00.000');
      expect(show((await response(withHoliday, fri)).warnAt)).toBe('Tue 2026-11-24 14:24:00.000');
      expect(await response(withHoliday, local('2026-11-23T17:00'))).toMatchObject({ elapsedMs: H, breached: false });
      // Restore is 24×7 even for basic: 72 h from Friday 17:00.
      expect(await clock(t.id, basic, 'restore', fri)).toMatchObject({ calendar: '24x7', dueAt: fri + 72 * H });
    });

    // PRODUCT.md §3, written out again (not read from DEFAULT_SLA): 24×7 targets as ms; business targets as the
    // Shanghai wall-clock instants they fall on for a ticket opened Monday 10:00 (warn, due); missing = no clock.
    type Want = number | readonly [string, string];
    const BH8: Want = ['Mon 2026-11-23 16:24:00.000', 'Mon 2026-11-23 18:00:00.000'];
    const MATRIX: Record<Tier, Record<Priority, Partial<Record<TargetName, Want>>>> = {
      strategic: {
        P0: { response: 15 * M, restore: H, resolve: 24 * H },
        P1: { response: 30 * M, restore: 4 * H, resolve: 3 * D },
        P2: { response: 2 * H, restore: 24 * H, resolve: 5 * D },
        P3: { response: ['Mon 2026-11-23 17:12:00.000', 'Tue 2026-11-24 10:00:00.000'] }, // 1 business day = 9 h
      },
      enterprise: {
        P0: { response: 30 * M, restore: 4 * H, resolve: 3 * D },
        P1: { response: 4 * H, restore: 8 * H, resolve: 5 * D },
        P2: { response: 8 * H, restore: 24 * H, resolve: 10 * D },
        P3: { response: 24 * H },
      },
      basic: {
        P0: { response: BH8, restore: 24 * H, resolve: 5 * D },
        P1: { response: BH8, restore: 72 * H, resolve: 10 * D },
        P2: { response: BH8 },
        P3: { response: ['Wed 2026-11-25 13:36:00.000', 'Thu 2026-11-26 10:00:00.000'] }, // 3 × 9 h
      },
    };
    const cells = Object.entries(MATRIX).flatMap(([tier, row]) => Object.entries(row).map(([p, want]) => [tier as Tier, p as Priority, want] as const));

    it.each(cells)('%s %s: one clock per target of the matrix, warning at 80 % and due at 100 % to the millisecond', async (tier, priority, want) => {
      const who = tenant(tier);
      const t = await open(who, priority);
      const clocks = tickets.clocks(t, who, T0, await tickets.events(t.id));
      expect(clocks.map((c) => c.target)).toEqual(Object.keys(want));
      for (const c of clocks) {
        const w = want[c.target]!;
        if (typeof w === 'number') expect(c, c.target).toMatchObject({ calendar: '24x7', targetMs: w, warnAt: T0 + 0.8 * w, dueAt: T0 + w });
        else expect([c.calendar, show(c.warnAt), show(c.dueAt)], c.target).toEqual(['business', ...w]);
        expect((await clock(t.id, who, c.target, c.dueAt! - 1)).breached).toBe(false);
        expect((await clock(t.id, who, c.target, c.dueAt!)).breached).toBe(true);
      }
    });
  });

  describe('pauses, priority changes and stops', () => {
    it('waiting on the customer for 30 min pauses every running clock and moves warnAt/dueAt by exactly 30 min', async () => {
      const t = await open(ENTERPRISE, 'P1'); // 4 h / 8 h / 5 d, 24×7
      const before = tickets.clocks(t, ENTERPRISE, T0 + H, await tickets.events(t.id));
      await move(t.id, 'waiting_on_customer', T0 + H);
      const paused = tickets.clocks(t, ENTERPRISE, T0 + H + 20 * M, await tickets.events(t.id));
      expect(paused.map((c) => [c.target, c.running, c.elapsedMs, c.dueAt])).toEqual([
        ['response', false, H, undefined], ['restore', false, H, undefined], ['resolve', false, H, undefined],
      ]);
      await move(t.id, 'resume', T0 + H + 30 * M);
      const after = tickets.clocks(t, ENTERPRISE, T0 + 2 * H, await tickets.events(t.id));
      expect(after.map((c) => c.target)).toEqual(['response', 'restore', 'resolve']);
      after.forEach((c, i) => {
        expect(c).toMatchObject({ running: true, elapsedMs: 90 * M, warnAt: before[i]!.warnAt! + 30 * M, dueAt: before[i]!.dueAt! + 30 * M });
      });
      expect(after[0]).toMatchObject({ warnAt: T0 + 3 * H + 42 * M, dueAt: T0 + 4 * H + 30 * M });
    });

    it('a stopped clock stays stopped through a pause; the others pause and resume', async () => {
      const t = await open(STRATEGIC, 'P1'); // 30 min / 4 h / 3 d
      await move(t.id, 'acknowledged', T0 + 10 * M);
      await move(t.id, 'waiting_on_customer', T0 + 20 * M);
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 50 * M)).toMatchObject({ running: false, stoppedAt: T0 + 10 * M, elapsedMs: 10 * M, breached: false });
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + 50 * M)).toMatchObject({ running: false, stoppedAt: undefined, elapsedMs: 20 * M });
      await move(t.id, 'resume', T0 + 50 * M);
      expect((await tickets.get(t.id))!.state).toBe('acknowledged');
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + H)).toMatchObject({ running: true, elapsedMs: 30 * M, dueAt: T0 + 4 * H + 30 * M });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 2 * H)).toMatchObject({ running: false, stoppedAt: T0 + 10 * M, breached: false });
    });

    it('property: any pauses shift the resolve clock by the total time paused', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 600 })), { maxLength: 6 }), fc.integer({ min: 0, max: 600 }), async (segments, tail) => {
          const t = await open(ENTERPRISE, 'P2'); // resolve 10 d: never reached in these few hours
          let at = T0;
          let paused = 0;
          for (const [run, wait] of segments) {
            await move(t.id, 'waiting_on_customer', (at += run * M));
            await move(t.id, 'resume', (at += wait * M));
            paused += wait * M;
          }
          const c = await clock(t.id, ENTERPRISE, 'resolve', at + tail * M);
          return c.running && c.elapsedMs === at + tail * M - T0 - paused && c.dueAt === T0 + 10 * D + paused && c.warnAt === T0 + 8 * D + paused;
        }),
        { numRuns: 60 },
      );
    });

    it('P2 → P0 after 20 min on a strategic ticket: the response clock is breached at once, due at opened + 15 min; the change is in the events', async () => {
      const t = await open(STRATEGIC, 'P2');
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 20 * M)).toMatchObject({ targetMs: 2 * H, dueAt: T0 + 2 * H, breached: false });
      const raised = await tickets.setPriority(t.id, 'P0', 'bob', T0 + 20 * M);
      expect(raised).toMatchObject({ priority: 'P0', updatedAt: T0 + 20 * M });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 20 * M)).toMatchObject({ targetMs: 15 * M, warnAt: T0 + 12 * M, dueAt: T0 + 15 * M, breached: true, running: true });
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + 20 * M)).toMatchObject({ targetMs: H, dueAt: T0 + H, breached: false });
      expect((await tickets.events(t.id)).at(-1)).toMatchObject({ kind: 'priority_changed', actor: 'bob', at: T0 + 20 * M, visibility: 'customer', data: { from: 'P2', to: 'P0', raised: true } });

      // Back down: the clocks follow again, the history keeps both changes; the same priority again is no event.
      await tickets.setPriority(t.id, 'P2', 'bob', T0 + 25 * M);
      await tickets.setPriority(t.id, 'P2', 'bob', T0 + 26 * M);
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 25 * M)).toMatchObject({ targetMs: 2 * H, breached: false });
      expect((await tickets.events(t.id)).filter((e) => e.kind === 'priority_changed').map((e) => e.data)).toEqual([
        { from: 'P2', to: 'P0', raised: true }, { from: 'P0', to: 'P2', raised: false },
      ]);
    });

    it.each([
      ['in time', false, 10 * M],
      ['exactly at the due instant', false, 15 * M],
      ['late', true, 16 * M],
    ] as const)('acknowledging %s stops the response clock (breached: %s)', async (_, breached, ackAfter) => {
      const t = await open(STRATEGIC, 'P0');
      await move(t.id, 'acknowledged', T0 + ackAfter);
      for (const now of [T0 + ackAfter, T0 + 2 * H]) {
        expect(await clock(t.id, STRATEGIC, 'response', now)).toMatchObject({ running: false, stoppedAt: T0 + ackAfter, elapsedMs: ackAfter, breached });
      }
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + ackAfter)).toMatchObject({ running: true, stoppedAt: undefined });
    });

    it('mitigated stops response and restore; resolved stops resolve', async () => {
      const t = await open(STRATEGIC, 'P2');
      await move(t.id, 'mitigated', T0 + H);
      expect(tickets.clocks(t, STRATEGIC, T0 + 3 * H, await tickets.events(t.id)).map((c) => [c.target, c.stoppedAt, c.running])).toEqual([
        ['response', T0 + H, false], ['restore', T0 + H, false], ['resolve', undefined, true],
      ]);
      await move(t.id, 'resolved', T0 + 2 * H);
      expect(await clock(t.id, STRATEGIC, 'resolve', T0 + 6 * D)).toMatchObject({ stoppedAt: T0 + 2 * H, running: false, breached: false });
    });
  });

  describe('root cause, idempotent open, comments', () => {
    it.each(['P0', 'P1'] as const)('resolving a %s ticket needs a root cause: 400 naming root_cause, then resolved with it', async (priority) => {
      const t = await open(STRATEGIC, priority);
      await move(t.id, 'mitigated', T0 + 30 * M);
      await expectAppRejection(move(t.id, 'resolved', T0 + H), 400, /root_cause/);
      expect((await tickets.get(t.id))!.state).toBe('mitigated');
      expect(await move(t.id, 'resolved', T0 + H, { rootCause: 'origin disk full' })).toMatchObject({ state: 'resolved', rootCause: 'origin disk full' });
      expect((await tickets.events(t.id)).at(-1)!.data).toMatchObject({ from: 'mitigated', to: 'resolved', root_cause: 'origin disk full' });
    });

    it('a blank root cause is no root cause', async () => {
      const t = await open(STRATEGIC, 'P0');
      for (const rootCause of ['', '   ', '\n\t']) await expectAppRejection(move(t.id, 'resolved', T0 + H, { rootCause }), 400, /root_cause/);
      expect(await tickets.get(t.id)).toMatchObject({ state: 'new', rootCause: undefined });
    });

    it('a root cause given on an earlier move counts; P2/P3 resolve without one', async () => {
      const p0 = await open(STRATEGIC, 'P0');
      await move(p0.id, 'mitigated', T0 + 30 * M, { rootCause: 'bad CDN config push' });
      expect(await move(p0.id, 'resolved', T0 + H)).toMatchObject({ state: 'resolved', rootCause: 'bad CDN config push' });
      for (const p of ['P2', 'P3'] as const) expect((await move((await open(STRATEGIC, p)).id, 'resolved', T0 + H)).state).toBe('resolved');
    });

    it('open() twice for the same incident and tenant returns the same ticket; another tenant or a manual ticket is new', async () => {
      const first = await tickets.open({ tenant: 'acme', incidentId: 7, title: 'a', priority: 'P1', actor: 'qoswatch' }, T0);
      const again = await tickets.open({ tenant: 'acme', incidentId: 7, title: 'b', priority: 'P0', actor: 'qoswatch' }, T0 + M);
      expect(first.created).toBe(true);
      expect(again).toEqual({ ticket: first.ticket, created: false });
      expect(await kinds(first.ticket.id)).toEqual(['opened']);
      expect((await tickets.forIncident(7)).map((t) => t.id)).toEqual([first.ticket.id]);
      const other = await tickets.open({ tenant: 'globex', incidentId: 7, title: 'a', priority: 'P1', actor: 'qoswatch' }, T0);
      expect(other.created).toBe(true);
      expect((await tickets.forIncident(7)).map((t) => t.tenant)).toEqual(['acme', 'globex']);
      const manual: { ticket: Ticket; created: boolean }[] = [];
      for (let i = 0; i < 2; i++) manual.push(await tickets.open({ tenant: 'acme', title: 'customer report', priority: 'P3', actor: 'support' }, T0));
      expect(manual.every((m) => m.created)).toBe(true);
      expect(new Set(manual.map((m) => m.ticket.id)).size).toBe(2);
      expect((await tickets.events(first.ticket.id))[0]).toMatchObject({ kind: 'opened', visibility: 'customer', actor: 'qoswatch', data: { priority: 'P1', incident: 7 } });
    });

    it('comments are internal or customer-visible; assignment is internal; the customer view filters', async () => {
      const t = await open(STRATEGIC, 'P2');
      await tickets.assign(t.id, 'bob', 'lead', T0 + M);
      await tickets.comment(t.id, 'bob', 'looks like the origin in sh-2', 'internal', T0 + 2 * M);
      const pub = await tickets.comment(t.id, 'bob', 'we are on it', 'customer', T0 + 3 * M);
      expect(pub).toMatchObject({ kind: 'comment', visibility: 'customer', actor: 'bob', at: T0 + 3 * M, data: { text: 'we are on it' } });
      expect(await tickets.get(t.id)).toMatchObject({ assignee: 'bob', updatedAt: T0 + 3 * M });
      expect(await kinds(t.id)).toEqual(['opened', 'assigned', 'comment', 'comment']);
      expect((await tickets.events(t.id, 'internal')).map((e) => e.data)).toEqual([{ assignee: 'bob' }, { text: 'looks like the origin in sh-2' }]);
      expect((await tickets.events(t.id, 'customer')).map((e) => e.kind)).toEqual(['opened', 'comment']);
      await expectAppRejection(tickets.comment(t.id, 'eve', 'x', 'customer', T0, 'someone-else'), 404);
      expect(await tickets.events(t.id)).toHaveLength(4);
    });
  });

  describe('syncTicket: incidents keep their tickets in step', () => {
    const [STALL] = compileRuleFiles(
      [{ path: 't.yaml', text: 'rules:\n  - id: stall\n    description: d\n    metric: stall_ratio\n    window: 1m\n    thresholds: {P0: "> 0.2", P1: "> 0.05", P2: "> 0.02"}\n' }],
      { windowMs: 10_000, horizonMs: 300_000 },
    ).rules as [ThresholdRule];
    const EU: Labels = { tenant: STRATEGIC.id, region: 'eu-west' };
    const VALUE: Record<Priority, number> = { P0: 0.3, P1: 0.08, P2: 0.03, P3: 0.01 };
    type Transition = { type: 'fired'; priority: Priority } | { type: 'priority_changed'; priority: Priority; previous: Priority } | { type: 'cleared'; previous: Priority };
    const event = (at: number, e: Transition): AlertEvent => {
      const values = e.type === 'cleared' ? undefined : { metric: 'stall_ratio', value: VALUE[e.priority], window_ms: 60_000, samples: 90, sessions: 30 };
      return { rule: STALL, labels: EU, key: keyOf(STALL, EU), at, ...e, values } as AlertEvent;
    };
    /** One evaluation pass, committed like Alerting.tick does, then fed to the sync. */
    const apply = async (at: number, e: Transition) => feed(await store.tx((t) => incidents.applyAlertEvents([event(at, e)], t)));

    let incidents: Incidents;
    let log: FastifyBaseLogger;
    beforeEach(() => {
      incidents = new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 10 * M, silenced: () => false });
      log = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
      vi.spyOn(log, 'error');
    });
    /** Feeds incident events to the sync as the timeline follower does. */
    const feed = async (events: IncidentEvent[]) => {
      for (const e of events) await store.tx((t) => syncTicket(tickets, e, log, t));
      return events;
    };
    const fire = async (priority: Priority, at = T0) => (await apply(at, { type: 'fired', priority })).find((e) => e.type === 'opened')!.incident.id;
    const ticketOf = async (incidentId: number) => {
      const list = await tickets.forIncident(incidentId);
      expect(list).toHaveLength(1);
      return list[0]!;
    };

    it('an opened incident opens one ticket for its tenant with its priority; ack and mitigation carry over and stop the clocks', async () => {
      const id = await fire('P1');
      const t = await ticketOf(id);
      expect(t).toMatchObject({ tenant: STRATEGIC.id, incidentId: id, priority: 'P1', state: 'new', openedAt: T0 });
      expect(t.title).toContain('eu-west');
      await feed([await incidents.act(id, 'ack', 'carol', undefined, T0 + 5 * M)]);
      expect((await ticketOf(id)).state).toBe('acknowledged');
      expect((await tickets.events(t.id)).at(-1)).toMatchObject({ kind: 'state_changed', actor: 'carol', at: T0 + 5 * M, data: { from: 'new', to: 'acknowledged' } });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + H)).toMatchObject({ stoppedAt: T0 + 5 * M, breached: false });
      await feed([await incidents.act(id, 'mitigate', 'carol', undefined, T0 + 40 * M)]);
      expect(await clock(t.id, STRATEGIC, 'restore', T0 + 5 * H)).toMatchObject({ stoppedAt: T0 + 40 * M, breached: false });
      expect((await ticketOf(id)).state).toBe('mitigated');
      expect(log.error).not.toHaveBeenCalled();
    });

    it('a priority change of the incident changes the ticket\'s priority and targets', async () => {
      const id = await fire('P2');
      await apply(T0 + 20 * M, { type: 'priority_changed', priority: 'P0', previous: 'P2' });
      const t = await ticketOf(id);
      expect(t.priority).toBe('P0');
      expect((await tickets.events(t.id)).find((e) => e.kind === 'priority_changed')).toMatchObject({ actor: 'qoswatch', at: T0 + 20 * M, data: { from: 'P2', to: 'P0', raised: true } });
      expect(await clock(t.id, STRATEGIC, 'response', T0 + 20 * M)).toMatchObject({ dueAt: T0 + 15 * M, breached: true });
    });

    it('resolving the incident resolves a P2 ticket; a P0 ticket waits for a root cause with an internal reminder', async () => {
      const p2 = await fire('P2');
      await feed([await incidents.act(p2, 'resolve', 'carol', undefined, T0 + H)]);
      expect((await ticketOf(p2)).state).toBe('resolved');

      const p0 = await fire('P0', T0 + 2 * H); // the P2 incident is resolved: a new incident for the same group
      expect(p0).not.toBe(p2);
      await feed([await incidents.act(p0, 'mitigate', 'carol', undefined, T0 + 2 * H + 30 * M)]);
      await feed([await incidents.act(p0, 'resolve', 'carol', undefined, T0 + 3 * H)]);
      const t = await ticketOf(p0);
      expect(t.state).toBe('mitigated');
      const reminder = (await tickets.events(t.id)).at(-1)!;
      expect(reminder).toMatchObject({ kind: 'comment', visibility: 'internal', actor: 'qoswatch', at: T0 + 3 * H });
      expect(String(reminder.data!.text)).toMatch(/root-cause/);
      expect((await tickets.events(t.id, 'customer')).some((e) => e.kind === 'comment')).toBe(false);
      expect(log.error).not.toHaveBeenCalled();
    });

    it('metrics recovering mitigate the ticket; a flap that reopens the incident leaves an internal note', async () => {
      const id = await fire('P1');
      expect((await apply(T0 + 10 * M, { type: 'cleared', previous: 'P1' })).map((e) => e.type)).toContain('mitigated');
      const t = await ticketOf(id);
      expect(t.state).toBe('mitigated');
      expect((await tickets.events(t.id)).at(-1)).toMatchObject({ kind: 'state_changed', actor: 'qoswatch', at: T0 + 10 * M, data: { from: 'new', to: 'mitigated' } });
      expect((await apply(T0 + 15 * M, { type: 'fired', priority: 'P1' })).map((e) => e.type)).toContain('reopened');
      expect((await ticketOf(id)).id).toBe(t.id);
      expect((await tickets.events(t.id)).at(-1)).toMatchObject({ kind: 'comment', visibility: 'internal', at: T0 + 15 * M, data: { text: expect.stringMatching(/reopened/) } });
    });

    it('a ticket already moved past the incident by hand is left alone, without an error', async () => {
      const id = await fire('P2');
      const t = await ticketOf(id);
      await move(t.id, 'mitigated', T0 + M);
      const before = (await tickets.events(t.id)).length;
      await feed([await incidents.act(id, 'ack', 'carol', undefined, T0 + 2 * M)]);
      expect((await ticketOf(id)).state).toBe('mitigated');
      expect(await tickets.events(t.id)).toHaveLength(before);
      await move(t.id, 'waiting_on_customer', T0 + 3 * M);
      await feed([await incidents.act(id, 'mitigate', 'carol', undefined, T0 + 4 * M)]);
      expect((await ticketOf(id)).state).toBe('waiting_on_customer');
      expect(log.error).not.toHaveBeenCalled();
    });
  });

  describe('SLA marks', () => {
    it('are unique per ticket, kind, target and priority: the second raise of one is refused', async () => {
      const t = await open(STRATEGIC, 'P0');
      expect(await tickets.markSla(t.id, 'sla_warning', 'response', 'P0', T0)).toBe(true);
      expect(await tickets.markSla(t.id, 'sla_warning', 'response', 'P0', T0 + 1)).toBe(false);
      expect(await tickets.markSla(t.id, 'sla_breach', 'response', 'P0', T0)).toBe(true);
      expect(await tickets.markSla(t.id, 'sla_warning', 'restore', 'P0', T0)).toBe(true);
      expect(await tickets.markSla(t.id, 'sla_warning', 'response', 'P1', T0)).toBe(true);
      expect(await tickets.slaMarks(t.id)).toHaveLength(4);
    });
  });
});

// Opens state db files at an older SQLite schema version: the upgrade of an embedded install's file, SQLite only.
describe('SLA marks on SQLite', () => {
  it('upgrading a state db carries over the warnings and breaches older versions recorded as ticket events', async () => {
    const path = join(tempDir('tickets-upgrade'), 'state.db');
    const old = openDb(path, MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.includes('sla_marks'))));
    const before = ticketsOn(old);
    // The ticket as an older version wrote it (this version's await open() writes columns that came later: public_id).
    const t = { id: Number(old.prepare("INSERT INTO tickets (tenant, title, priority, state, opened_at, updated_at) VALUES ('acme', 't', 'P1', 'new', ?, ?)").run(T0, T0).lastInsertRowid) };
    await before.record(t.id, 'sla_warning', { target: 'restore', priority: 'P1' }, T0 + H, stateOn(old));
    await before.record(t.id, 'sla_breach', { target: 'restore', priority: 'P1' }, T0 + 2 * H, stateOn(old));
    old.close();
    const upgraded = openStateDb(path);
    expect((await ticketsOn(upgraded).get(t.id))!.publicId, 'the upgrade gives older tickets a public id').toMatch(/^tk_[0-9a-f]{16}$/);
    expect(await ticketsOn(upgraded).slaMarks(t.id)).toEqual(
      expect.arrayContaining([
        { kind: 'sla_warning', target: 'restore', priority: 'P1' },
        { kind: 'sla_breach', target: 'restore', priority: 'P1' },
      ]),
    );
    upgraded.close();
  });
});
