import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileConfigSchema } from '../../src/config/file.js';
import { type ReportJob, ReportScheduler, jobsOf } from '../../src/reports/report-scheduler.js';
import type { Db } from '../../src/storage/sqlite.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { Tenants } from '../../src/tenants/tenants.js';
import { waitFor } from '../helpers/ports.js';
import { stateOn } from '../helpers/state.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Report runs with more than one runner over one state db (two processes, or a run handed over after a crash): a run
 * is claimed before its report is built and sent, so a period goes out once. Real SQLite, a send that waits on the
 * test, and the real clock (claims expire in real time here).
 */

const DUE = Date.parse('2026-11-24T00:00:00Z'); // 08:00 in Asia/Shanghai
const silent = { info() {}, warn() {} };

let db: Db;
let job: ReportJob;
beforeEach(() => {
  db = openStateDb(join(tempDir('reports'), 'state.db'));
  const tenants = new Tenants(fileConfigSchema.parse({ default_tenant: 'acme', tenants: [{ id: 'acme', timezone: 'Asia/Shanghai', reports: { daily: { at: '08:00', to: ['noc@acme.example'] } } }] }));
  [job] = jobsOf(tenants.list()) as [ReportJob];
});
afterEach(() => db.close());

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

const runner = (send: () => Promise<void>, claimMs?: number) => new ReportScheduler({ rows: stateOn(db).reports, clock: Date.now, log: silent, jobs: () => [job], send }, 60_000, claimMs);
const runs = () => db.prepare('SELECT status, attempts, error FROM report_runs').all();

describe('ReportScheduler as a singleton duty', () => {
  const schedules = () => db.prepare('SELECT count(*) FROM report_schedules').pluck().get();

  it('reschedules only between start and stop: a node that does not run the reports starts nothing', async () => {
    const s = runner(gatedSend().send);
    await s.reschedule(); // a tenant changed before this node ran the schedules
    expect(schedules()).toBe(0);
    await s.start();
    expect(schedules()).toBe(1);
    await s.stop();
    db.prepare('DELETE FROM report_schedules').run();
    await s.reschedule(); // after its stop (shutdown, or leadership lost)
    expect(schedules()).toBe(0);
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
    expect(runs()).toEqual([{ status: 'sent', attempts: 1, error: null }]);
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
    expect(runs()).toEqual([{ status: 'sent', attempts: 1, error: null }]);
    await b.stop();
  });
});
