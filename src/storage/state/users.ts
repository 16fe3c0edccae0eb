import type { Sql } from './sql.js';

/** A person who signs in (accounts/): `password` is the KDF's encoded hash, never the password. */
export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly email: string | undefined;
  readonly role: string;
  /** The tenant of a customer account. */
  readonly tenant: string | undefined;
  readonly password: string | undefined;
  /** Who made it: the on-call file ('oncall'), the first start ('bootstrap'), an admin ('api'). */
  readonly source: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly disabledAt: number | undefined;
}

interface Row {
  id: string; name: string; email: string | null; role: string; tenant: string | null; password: string | null; source: string;
  created_at: number; updated_at: number; disabled_at: number | null;
}

const fromRow = (r: Row): UserRecord => ({
  id: r.id, name: r.name, email: r.email ?? undefined, role: r.role, tenant: r.tenant ?? undefined, password: r.password ?? undefined,
  source: r.source, createdAt: r.created_at, updatedAt: r.updated_at, disabledAt: r.disabled_at ?? undefined,
});

/** The users table; a disabled user keeps its row (the audit log and timelines name it). */
export class UserRepo {
  constructor(private readonly sql: Sql) {}

  async get(id: string): Promise<UserRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM users WHERE id = ?', id);
    return r && fromRow(r);
  }

  /** The users whose email is `email` (any case). */
  async byEmail(email: string): Promise<UserRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM users WHERE lower(email) = lower(?) ORDER BY id', email)).map(fromRow);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM users ORDER BY id')).map(fromRow);
  }

  async count(role: string): Promise<number> {
    return (await this.sql.get<{ n: number }>('SELECT count(*) AS n FROM users WHERE role = ? AND disabled_at IS NULL', role))?.n ?? 0;
  }

  /** False when the id is taken. */
  async insert(u: UserRecord): Promise<boolean> {
    return (await this.sql.run(
      `INSERT INTO users (id, name, email, role, tenant, password, source, created_at, updated_at, disabled_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      u.id, u.name, u.email ?? null, u.role, u.tenant ?? null, u.password ?? null, u.source, u.createdAt, u.updatedAt, u.disabledAt ?? null,
    )) > 0;
  }

  async update(u: UserRecord): Promise<void> {
    await this.sql.run(
      'UPDATE users SET name = ?, email = ?, role = ?, tenant = ?, password = ?, updated_at = ?, disabled_at = ? WHERE id = ?',
      u.name, u.email ?? null, u.role, u.tenant ?? null, u.password ?? null, u.updatedAt, u.disabledAt ?? null, u.id,
    );
  }
}
