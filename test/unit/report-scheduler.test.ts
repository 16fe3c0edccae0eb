import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileConfigSchema } from '../../src/config/file.js';
import { type ReportJob, ReportScheduler, jobsOf } from '../../src/reports/report-scheduler.js';
import type { Sql } from '../../src/storage/state/sql.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { Tenants } from '../../src/tenants/tenants.js';
import { BACKENDS } from '../helpers/backends.js';
import { waitFor } from '../helpers/ports.js';

/**
 * Report runs with more than one runner over one state db (two processes, or a run handed over after a crash): a run
 * is claimed before its report is built and sent, so a period goes out once. A real database (SQLite, PostgreSQL), a
 * send that waits on the test, and the real clock (claims expire in real time here).
 */

const DUE = Date.parse('2026-11-24T00:00:00Z'); // 08:00 in Asia/Shanghai
const silent = { info() {}, warn() {} };

let job: ReportJob;
beforeEach(() => {
  const tenants = new Tenants(fileConfigSchema.parse({ default_tenant: 'acme', tenants: [{ id: 'acme', timezone: 'Asia/Shanghai', reports: { daily: { at: '08:00', to: ['noc@acme.example'] } } }] }));
  [job] = jobsOf(tenants.list()) as [ReportJob];
});

/** A send the test lets finish: `sends` counts calls, `finish()` lets every waiting send complete (or fail). */
function gatedSend() {
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => (open = r));
  const state = {
    sends: 0,
    fail: undefined as Error | undefined,
    finish() {
      open();
      gate = new Promise<void>((r) => (open = r));
    },
    send: async () => {
      state.sends++;
      await gate;
      if (state.fail) throw state.fail;
    },
  };
  return state;
}

describe.each(BACKENDS)('ReportScheduler on $name', (backend) => {
  let store: StateStore;
  let sql: Sql;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, sql, close } = await backend.open());
  });
  afterEach(() => close());

  const runner = (send: () => Promise<void>, claimMs?: number) => new ReportScheduler({ rows: store.reports, clock: Date.now, log: silent, jobs: () => [job], send }, 60_000, claimMs);
  const runs = () => sql.all('SELECT status, attempts, error FROM report_runs');

  describe('ReportScheduler as a singleton duty', () => {
    const schedules = async () => (await sql.get<{ n: number }>('SELECT count(*) AS n FROM report_schedules'))!.n;

    it('reschedules only between start and stop: a node that does not run the reports starts nothing', async () => {
      const s = runner(gatedSend().send);
      await s.reschedule(); // a tenant changed before this node ran the schedules
      expect(await schedules()).toBe(0);
      await s.start();
      expect(await schedules()).toBe(1);
      await s.stop();
      await sql.run('DELETE FROM report_schedules');
      await s.reschedule(); // after its stop (shutdown, or leadership lost)
      expect(await schedules()).toBe(0);
    });
  });

  describe('ReportScheduler with two runners over one state db', () => {
    it('sends a period once when both run it at the same time', async () => {
      const g = gatedSend();
      const [a, b] = [runner(g.send), runner(g.send)];
      const both = Promise.all([a.run(job, DUE), b.run(job, DUE)]);
      await waitFor('a send to start', () => g.sends > 0 || undefined);
      g.finish();
      await both;
      expect(g.sends).toBe(1);
      expect(await runs()).toEqual([{ status: 'sent', attempts: 1, error: null }]);
    });

    it('a run whose runner died mid-send is taken over once its claim runs out, not before', async () => {
      const dead = gatedSend(); // never finishes: its runner is gone
      void runner(dead.send, 300).run(job, DUE);
      await waitFor('the first send to start', () => dead.sends > 0 || undefined);

      const g = gatedSend();
      const b = runner(g.send, 300);
      // run() returns at once when someone else holds the run (it looks again when the claim runs out).
      await Promise.race([b.run(job, DUE), waitFor('a second send', () => g.sends > 0 || undefined)]);
      expect(g.sends, 'the claim still holds').toBe(0);
      await waitFor('the run taken over after the claim', () => g.sends > 0 || undefined);
      g.finish();
      await b.idle();
      expect(await runs()).toEqual([{ status: 'sent', attempts: 1, error: null }]);
      await b.stop();
    });
  });
});
