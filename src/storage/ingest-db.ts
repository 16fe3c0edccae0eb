import { type Db, openDb } from './sqlite.js';

/**
 * The ingest database holds what must survive a crash between accepting telemetry and InfluxDB having it, beside
 * the log of accepted batches (ingest-log/): the spool of points not yet written, the checkpoint tying them
 * together, and the log's quarantine and replay marker.
 */
const MIGRATIONS = [
  // AUTOINCREMENT: sequence numbers must never be reused once old rows are pruned (they identify samples and
  // anchor the checkpoint).
  `CREATE TABLE journal (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     body TEXT NOT NULL,
     max_window INTEGER NOT NULL
   );
   CREATE INDEX journal_max_window ON journal (max_window);
   CREATE TABLE spool (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     body TEXT NOT NULL,
     lines INTEGER NOT NULL,
     bytes INTEGER NOT NULL
   );
   CREATE TABLE checkpoint (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     journal_seq INTEGER NOT NULL,
     closed_before INTEGER NOT NULL
   );`,
  // Journal rows whose replay failed, moved aside with the reason (README, Durability); a marker of the rows a
  // replay is working on, so a start after a crash in replay can tell which row it died on.
  `CREATE TABLE journal_quarantine (
     seq INTEGER PRIMARY KEY,
     tenant TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     body TEXT NOT NULL,
     max_window INTEGER NOT NULL,
     quarantined_at INTEGER NOT NULL,
     reason TEXT NOT NULL
   );
   CREATE TABLE replay_marker (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     after_seq INTEGER NOT NULL,
     rows INTEGER NOT NULL
   );`,
  // Numbers of late samples' raw points per (tenant, region, window) (raw-late-ids.ts); window first, for pruning.
  `CREATE TABLE raw_late_ids (
     window INTEGER NOT NULL,
     tenant TEXT NOT NULL,
     region TEXT NOT NULL,
     next INTEGER NOT NULL,
     PRIMARY KEY (window, tenant, region)
   ) WITHOUT ROWID;
   CREATE TABLE raw_late_meta (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     floor INTEGER NOT NULL,
     epoch INTEGER NOT NULL
   );`,
  // Each spool row belongs to one tenant ('' = the service's own points), so that a full spool drops from whoever
  // holds the most (spool.ts). Rows spooled before this version count as the service's.
  `ALTER TABLE spool ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
   CREATE INDEX spool_tenant ON spool (tenant, seq);`,
  // The dimensions derived from the client's address at ingest (ISP, country), journaled with the body so that a
  // replay applies the same values; NULL for rows without (and every row written before this version).
  `ALTER TABLE journal ADD COLUMN dims TEXT;
   ALTER TABLE journal_quarantine ADD COLUMN dims TEXT;`,
  // The journal moved to segment files (ingest-log/); the table only brings an older version's rows over, once.
  // A requeued record keeps its quarantine row (requeued_as = its new seq) while a segment still holds the old one,
  // so no replay meets it twice.
  `ALTER TABLE journal_quarantine ADD COLUMN requeued_as INTEGER;`,
];

export function openIngestDb(path: string, opts: { fsync?: boolean } = {}): Db {
  // Spool rows are large (up to INFLUX_BATCH_LINES points) and short-lived: 16 KiB pages hold one without long
  // overflow chains, and the WAL file is cut back to 64 MiB after each reset. The page cache stays at SQLite's
  // default (2 MiB): the journal, whose live rows needed 64 MiB of it, is in segment files now (ingest-log/).
  // Checkpoints run off the event loop (see checkpointer.ts).
  return openDb(path, MIGRATIONS, { ...opts, pageSize: 16_384, pragmas: ['journal_size_limit = 67108864'] });
}
