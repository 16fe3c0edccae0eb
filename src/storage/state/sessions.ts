import type { Sql } from './sql.js';

/** A signed-in browser: only the cookie's SHA-256 is kept, with the CSRF token its forms must send. */
export interface SessionRecord {
  readonly sha256: string;
  readonly userId: string;
  readonly csrf: string;
  readonly createdAt: number;
  readonly seenAt: number;
  readonly expiresAt: number;
}

interface Row { sha256: string; user_id: string; csrf: string; created_at: number; seen_at: number; expires_at: number }

const fromRow = (r: Row): SessionRecord => ({ sha256: r.sha256, userId: r.user_id, csrf: r.csrf, createdAt: r.created_at, seenAt: r.seen_at, expiresAt: r.expires_at });

/** A personal API token: only its SHA-256 is kept. */
export interface UserTokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string | undefined;
  readonly sha256: string;
  readonly createdAt: number;
  readonly usedAt: number | undefined;
}

interface TokenRow { id: string; user_id: string; name: string | null; sha256: string; created_at: number; used_at: number | null }

const tokenFromRow = (r: TokenRow): UserTokenRecord => ({ id: r.id, userId: r.user_id, name: r.name ?? undefined, sha256: r.sha256, createdAt: r.created_at, usedAt: r.used_at ?? undefined });

/** Tables user_sessions and user_tokens. */
export class SessionRepo {
  constructor(private readonly sql: Sql) {}

  async insert(s: SessionRecord): Promise<void> {
    await this.sql.run(
      'INSERT INTO user_sessions (sha256, user_id, csrf, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      s.sha256, s.userId, s.csrf, s.createdAt, s.seenAt, s.expiresAt,
    );
  }

  /** The session unless it has expired by `now`. */
  async get(sha256: string, now: number): Promise<SessionRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM user_sessions WHERE sha256 = ? AND expires_at > ?', sha256, now);
    return r && fromRow(r);
  }

  async touch(sha256: string, seenAt: number, expiresAt: number): Promise<void> {
    await this.sql.run('UPDATE user_sessions SET seen_at = ?, expires_at = ? WHERE sha256 = ?', seenAt, expiresAt, sha256);
  }

  async delete(sha256: string): Promise<void> {
    await this.sql.run('DELETE FROM user_sessions WHERE sha256 = ?', sha256);
  }

  /** Signs a user out everywhere (password changed, disabled, role changed). */
  async deleteForUser(userId: string): Promise<void> {
    await this.sql.run('DELETE FROM user_sessions WHERE user_id = ?', userId);
  }

  async prune(now: number): Promise<number> {
    return this.sql.run('DELETE FROM user_sessions WHERE expires_at <= ?', now);
  }

  async insertToken(t: UserTokenRecord): Promise<void> {
    await this.sql.run('INSERT INTO user_tokens (id, user_id, name, sha256, created_at) VALUES (?, ?, ?, ?, ?)', t.id, t.userId, t.name ?? null, t.sha256, t.createdAt);
  }

  async token(sha256: string): Promise<UserTokenRecord | undefined> {
    const r = await this.sql.get<TokenRow>('SELECT * FROM user_tokens WHERE sha256 = ? AND revoked_at IS NULL', sha256);
    return r && tokenFromRow(r);
  }

  async tokens(userId: string): Promise<UserTokenRecord[]> {
    return (await this.sql.all<TokenRow>('SELECT * FROM user_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at', userId)).map(tokenFromRow);
  }

  async tokenUsed(id: string, at: number): Promise<void> {
    await this.sql.run('UPDATE user_tokens SET used_at = ? WHERE id = ?', at, id);
  }

  /** False when the user has no live token `id`. */
  async revokeToken(userId: string, id: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE user_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL', now, id, userId)) > 0;
  }
}
