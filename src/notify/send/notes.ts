import type { Incidents } from '../../incidents/incidents.js';
import type { TimelineKind } from '../../incidents/model.js';
import type { OutboxRow } from '../../storage/state/outbox.js';
import type { StormRepo } from '../../storage/state/storms.js';

const SYSTEM = 'qoswatch';

/** What the pager records on incident timelines, as the actor "qoswatch". */
export class Notes {
  constructor(
    private readonly incidents: Pick<Incidents, 'note'>,
    private readonly storms: Pick<StormRepo, 'members'>,
  ) {}

  /** On an incident's timeline (customer updates of tickets without an incident have none: id 0). */
  incident(id: number, kind: TimelineKind, data: Record<string, unknown>, now: number): void {
    if (id > 0) this.incidents.note(id, kind, SYSTEM, data, now);
  }

  /** What happened to a page: on its incident's timeline, or on every incident of its storm. */
  row(row: Pick<OutboxRow, 'incidentId' | 'stormId'>, kind: TimelineKind, data: Record<string, unknown>, now: number): void {
    if (row.stormId === undefined) return this.incident(row.incidentId, kind, data, now);
    for (const id of this.storms.members(row.stormId)) this.incident(id, kind, { ...data, storm: row.stormId }, now);
  }
}
