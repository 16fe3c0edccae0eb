import { AlertRepo } from './alerts.js';
import { AuditRepo } from './audit.js';
import { CalendarFeedRepo } from './calendar-feeds.js';
import { CredentialRepo } from './credentials.js';
import { DimValueRepo } from './dim-values.js';
import { EscalationRepo } from './escalations.js';
import { EventRepo } from './events.js';
import { FenceRepo } from './fences.js';
import { IncidentRepo } from './incidents.js';
import { MetaRepo } from './meta.js';
import { OutboxRepo } from './outbox.js';
import { OverrideRepo } from './overrides.js';
import { ReportRepo } from './reports.js';
import { SessionRepo } from './sessions.js';
import { ShareLinkRepo } from './share-links.js';
import { SilenceRepo } from './silences.js';
import { SourceRepo } from './sources.js';
import type { Sql } from './sql.js';
import { StormRepo } from './storms.js';
import type { CredentialTable } from './store.js';
import { TenantRepo } from './tenants.js';
import { TicketRepo } from './tickets.js';
import { TimelineCursors } from './timeline.js';
import { UserRepo } from './users.js';

/**
 * The repositories over one executor: the state store's outside calls, or one transaction's. The SQL of the areas
 * lives in them, written once for SQLite and PostgreSQL.
 */
export class Repos {
  readonly incidents: IncidentRepo;
  readonly alerts: AlertRepo;
  readonly cursors: TimelineCursors;
  readonly outbox: OutboxRepo;
  readonly storms: StormRepo;
  readonly escalations: EscalationRepo;
  readonly tickets: TicketRepo;
  readonly silences: SilenceRepo;
  readonly overrides: OverrideRepo;
  readonly tenants: TenantRepo;
  readonly meta: MetaRepo;
  readonly events: EventRepo;
  readonly reports: ReportRepo;
  readonly dimValues: DimValueRepo;
  readonly fences: FenceRepo;
  readonly users: UserRepo;
  readonly sessions: SessionRepo;
  readonly audit: AuditRepo;
  readonly shareLinks: ShareLinkRepo;
  readonly sources: SourceRepo;
  readonly calendarFeeds: CalendarFeedRepo;
  private readonly creds = new Map<CredentialTable, CredentialRepo>();

  constructor(private readonly sql: Sql) {
    this.incidents = new IncidentRepo(sql);
    this.alerts = new AlertRepo(sql);
    this.cursors = new TimelineCursors(sql);
    this.outbox = new OutboxRepo(sql);
    this.storms = new StormRepo(sql);
    this.escalations = new EscalationRepo(sql);
    this.tickets = new TicketRepo(sql);
    this.silences = new SilenceRepo(sql);
    this.overrides = new OverrideRepo(sql);
    this.tenants = new TenantRepo(sql);
    this.meta = new MetaRepo(sql);
    this.events = new EventRepo(sql);
    this.reports = new ReportRepo(sql);
    this.dimValues = new DimValueRepo(sql);
    this.fences = new FenceRepo(sql);
    this.users = new UserRepo(sql);
    this.sessions = new SessionRepo(sql);
    this.audit = new AuditRepo(sql);
    this.shareLinks = new ShareLinkRepo(sql);
    this.sources = new SourceRepo(sql);
    this.calendarFeeds = new CalendarFeedRepo(sql);
  }

  /** The API-made credentials of one kind: ingest keys or tenant API tokens. */
  credentials(table: CredentialTable): CredentialRepo {
    let c = this.creds.get(table);
    if (!c) this.creds.set(table, (c = new CredentialRepo(this.sql, table)));
    return c;
  }
}
