import { badRequest, notFound } from '../shared/http-errors.js';
import type { OverrideRecord } from '../storage/state/overrides.js';
import type { StateStore } from '../storage/state/store.js';
import type { OnCallConfig, Person } from './config.js';
import { type OnCall, type Override, type Schedule, type Shift, gaps, onCallAt, shifts } from './schedule.js';

/** An override made through the API. */
export type ApiOverride = OverrideRecord & Override;

/** Maximum span a resolved-shifts query may cover. */
export const MAX_RANGE_MS = 92 * 86_400_000;

/**
 * Who is on call: the on-call file's schedules with the overrides made through the API on top (API overrides win
 * over the file's, later ones over earlier ones). Deleting an override keeps the row for the record. The live
 * overrides are held in memory (every change goes through here), so paging asks who is on call without a read.
 */
export class OnCallService {
  private readonly live = new Map<string, ApiOverride[]>();

  static async load(rows: StateStore['overrides'], config: OnCallConfig): Promise<OnCallService> {
    return new OnCallService(rows, config, await rows.live());
  }

  private constructor(
    private readonly rows: StateStore['overrides'],
    readonly config: OnCallConfig,
    stored: readonly ApiOverride[],
  ) {
    this.hold(stored);
  }

  /** Reads the live overrides again (another node of a cluster changed them). */
  async reload(): Promise<void> {
    this.hold(await this.rows.live());
  }

  private hold(stored: readonly ApiOverride[]): void {
    this.live.clear();
    for (const o of stored) this.cached(o.schedule).push(o);
  }

  people(): Person[] {
    return [...this.config.people.values()];
  }

  person(id: string): Person | undefined {
    return this.config.people.get(id);
  }

  /** A schedule with every live API override applied. */
  schedule(id: string): Schedule {
    const base = this.config.schedules.get(id);
    if (!base) throw notFound(`no schedule ${id}`);
    return { ...base, overrides: [...base.overrides, ...this.overrides(id)] };
  }

  whoAt(scheduleId: string, t: number): OnCall | undefined {
    return onCallAt(this.schedule(scheduleId), t);
  }

  /** Every schedule's person on call at `t`, with when their shift ends (within a week). */
  now(t: number): { schedule: string; onCall: OnCall | undefined; until: number | undefined }[] {
    return [...this.config.schedules.keys()].map((id) => {
      const s = this.schedule(id);
      const first = shifts(s, t, t + 7 * 86_400_000)[0];
      const current = first && first.start === t ? first : undefined;
      return { schedule: id, onCall: current && { person: current.person, source: current.source }, until: current?.end };
    });
  }

  resolve(scheduleId: string, from: number, to: number): { shifts: Shift[]; gaps: { start: number; end: number }[] } {
    if (to <= from) throw badRequest('to: must be after from');
    if (to - from > MAX_RANGE_MS) throw badRequest('to: at most 92 days after from');
    const s = this.schedule(scheduleId);
    return { shifts: shifts(s, from, to), gaps: gaps(s, from, to) };
  }

  overrides(scheduleId: string): ApiOverride[] {
    return [...(this.live.get(scheduleId) ?? [])];
  }

  async addOverride(scheduleId: string, o: { person: string; start: number; end: number; comment?: string }, actor: string, now: number): Promise<ApiOverride> {
    this.schedule(scheduleId);
    if (!this.config.people.has(o.person)) throw badRequest(`person: unknown person "${o.person}"`);
    if (o.end <= o.start) throw badRequest('end: must be after start');
    const added = await this.rows.insert({ schedule: scheduleId, person: o.person, start: o.start, end: o.end, comment: o.comment, createdBy: actor, createdAt: now });
    this.cached(scheduleId).push(added);
    return added;
  }

  async deleteOverride(scheduleId: string, id: number, actor: string, now: number): Promise<void> {
    if (!(await this.rows.delete(scheduleId, id, actor, now))) throw notFound(`no override ${id} on schedule ${scheduleId}`);
    this.live.set(scheduleId, this.cached(scheduleId).filter((o) => o.id !== id));
  }

  private cached(scheduleId: string): ApiOverride[] {
    let list = this.live.get(scheduleId);
    if (!list) this.live.set(scheduleId, (list = []));
    return list;
  }
}
