import type { Db } from '../sqlite.js';
import { AlertRepo } from './alerts.js';
import { CredentialRepo } from './credentials.js';
import { DimValueRepo } from './dim-values.js';
import { EscalationRepo } from './escalations.js';
import { EventRepo } from './events.js';
import { IncidentRepo } from './incidents.js';
import { MetaRepo } from './meta.js';
import { OutboxRepo } from './outbox.js';
import { OverrideRepo } from './overrides.js';
import { ReportRepo } from './reports.js';
import { SilenceRepo } from './silences.js';
import { StormRepo } from './storms.js';
import { TenantRepo } from './tenants.js';
import { TicketRepo } from './tickets.js';
import { TimelineCursors } from './timeline.js';

/** The SQLite repositories of the state db, synchronous: the state store (sqlite-store.ts) runs them. */
export class StateRepos {
  readonly incidents: IncidentRepo;
  readonly outbox: OutboxRepo;
  readonly storms: StormRepo;
  readonly escalations: EscalationRepo;
  readonly overrides: OverrideRepo;
  readonly tenants: TenantRepo;
  readonly meta: MetaRepo;
  readonly silences: SilenceRepo;
  readonly cursors: TimelineCursors;
  readonly tickets: TicketRepo;
  readonly events: EventRepo;
  readonly alerts: AlertRepo;
  readonly reports: ReportRepo;
  readonly dimValues: DimValueRepo;

  constructor(private readonly db: Db) {
    this.incidents = new IncidentRepo(db);
    this.outbox = new OutboxRepo(db);
    this.storms = new StormRepo(db);
    this.escalations = new EscalationRepo(db);
    this.overrides = new OverrideRepo(db);
    this.tenants = new TenantRepo(db);
    this.meta = new MetaRepo(db);
    this.silences = new SilenceRepo(db);
    this.cursors = new TimelineCursors(db);
    this.tickets = new TicketRepo(db);
    this.events = new EventRepo(db);
    this.alerts = new AlertRepo(db);
    this.reports = new ReportRepo(db);
    this.dimValues = new DimValueRepo(db);
  }

  /** The API-made credentials of one kind: ingest keys or tenant API tokens. */
  credentials(table: 'ingest_keys' | 'tenant_tokens'): CredentialRepo {
    return new CredentialRepo(this.db, table);
  }
}
