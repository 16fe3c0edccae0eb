import { notFound } from '../shared/http-errors.js';
import type { SilenceRecord } from '../storage/state/silences.js';
import type { StateStore } from '../storage/state/store.js';
import { type AlertSubject, type Matchers, type Recurrence, type SilenceRule, activeAt, matches, nextChange } from './silence-match.js';

/** A silence with who made, edited and deleted it, and when. */
export type Silence = SilenceRule & Omit<SilenceRecord, keyof SilenceRule>;

export interface SilenceInput {
  matchers: Matchers;
  startsAt: number;
  endsAt: number | undefined;
  recurrence: Recurrence | undefined;
  comment: string;
}

/** A stored silence: its matchers and recurrence are what this area wrote (validated when made). */
const fromRecord = (r: SilenceRecord): Silence => ({ ...r, matchers: r.matchers as Matchers, recurrence: r.recurrence as Recurrence | undefined });

/**
 * Silences and maintenance windows (a maintenance window is a silence with a recurrence). Deleting keeps the row
 * (who and when) so the history of why nobody was paged stays readable. Live ones are cached for matching.
 */
export class Silences {
  private live: Silence[] = [];
  /** When coverage can next change by itself (a start or end instant); -Infinity after an edit: now. */
  private nextCheck = -Infinity;

  static async load(rows: StateStore['silences']): Promise<Silences> {
    const s = new Silences(rows);
    await s.reload();
    return s;
  }

  private constructor(private readonly rows: StateStore['silences']) {}

  async list(includeDeleted = false): Promise<Silence[]> {
    return (await this.rows.list(includeDeleted)).map(fromRecord);
  }

  async get(id: number): Promise<Silence> {
    const r = await this.rows.get(id);
    if (!r) throw notFound(`no silence ${id}`);
    return fromRecord(r);
  }

  async create(input: SilenceInput, actor: string, now: number): Promise<Silence> {
    const id = await this.rows.insert(input, actor, now);
    await this.reload();
    return this.get(id);
  }

  async update(id: number, input: SilenceInput, actor: string, now: number): Promise<Silence> {
    if (!(await this.rows.update(id, input, actor, now))) throw notFound(`no silence ${id}`);
    await this.reload();
    return this.get(id);
  }

  async delete(id: number, actor: string, now: number): Promise<void> {
    if (!(await this.rows.delete(id, actor, now))) throw notFound(`no silence ${id}`);
    await this.reload();
  }

  /** The silences covering this alert at `now`. */
  matching(subject: AlertSubject, now: number): Silence[] {
    return this.live.filter((s) => activeAt(s, now) && matches(s.matchers, subject));
  }

  isSilenced(subject: AlertSubject, now: number): boolean {
    return this.live.some((s) => activeAt(s, now) && matches(s.matchers, subject));
  }

  /**
   * Whether silence coverage can have changed since `checked` last ran: a silence was created, edited or deleted,
   * or an instant at which one starts or ends (a maintenance window opens or closes) has come.
   */
  checkDue(now: number): boolean {
    return now >= this.nextCheck;
  }

  /** Coverage was re-checked at `now`: the next check is due at the next start or end instant. */
  checked(now: number): void {
    this.nextCheck = Math.min(...this.live.map((s) => nextChange(s, now) ?? Infinity));
  }

  /**
   * Reads the silences again (after a change here, or on another node of a cluster). Coverage is due for a check
   * only when they changed: a cluster node reads them every 10 s, and a check reads every incident with a firing alert.
   */
  async reload(): Promise<void> {
    const live = await this.list();
    if (JSON.stringify(live) === JSON.stringify(this.live)) return;
    this.live = live;
    this.nextCheck = -Infinity;
  }
}
