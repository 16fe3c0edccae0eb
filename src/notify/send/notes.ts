import type { Incidents } from '../../incidents/incidents.js';
import type { TimelineKind } from '../../incidents/model.js';
import type { OutboxRow } from '../../storage/state/outbox.js';
import type { StateStore } from '../../storage/state/store.js';

const SYSTEM = 'qoswatch';

/** Where notes are written: the state store, or the transaction of the change they record. */
type Writes = Pick<StateStore, 'incidents' | 'storms'>;

/** What the pager records on incident timelines, as the actor "qoswatch". */
export class Notes {
  constructor(
    private readonly incidents: Pick<Incidents, 'note'>,
    private readonly state: Writes,
  ) {}

  /** On an incident's timeline (customer updates of tickets without an incident have none: id 0). */
  async incident(id: number, kind: TimelineKind, data: Record<string, unknown>, now: number, t: Writes = this.state): Promise<void> {
    if (id > 0) await this.incidents.note(id, kind, SYSTEM, data, now, t);
  }

  /** What happened to a page: on its incident's timeline, or on every incident of its storm. */
  async row(row: Pick<OutboxRow, 'incidentId' | 'stormId'>, kind: TimelineKind, data: Record<string, unknown>, now: number, t: Writes = this.state): Promise<void> {
    if (row.stormId === undefined) return this.incident(row.incidentId, kind, data, now, t);
    for (const id of await t.storms.members(row.stormId)) await this.incident(id, kind, { ...data, storm: row.stormId }, now, t);
  }
}
