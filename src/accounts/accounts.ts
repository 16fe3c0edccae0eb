import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../shared/http-errors.js';
import type { Role } from '../shared/roles.js';
import type { StateStore } from '../storage/state/store.js';
import type { UserRecord } from '../storage/state/users.js';
import type { SessionRecord } from '../storage/state/sessions.js';
import { newSecret, sha256 } from '../tenants/keys.js';
import { hashPassword, verifyPassword } from './password.js';

/** A user as the API shows it: never the password hash. */
export interface User {
  id: string;
  name: string;
  email?: string;
  role: Role;
  tenant?: string;
  source: string;
  has_password: boolean;
  disabled: boolean;
  created_at: number;
  updated_at: number;
}

export const userOut = (u: UserRecord): User => ({
  id: u.id, name: u.name, email: u.email, role: u.role as Role, tenant: u.tenant, source: u.source,
  has_password: u.password !== undefined, disabled: u.disabledAt !== undefined, created_at: u.createdAt, updated_at: u.updatedAt,
});

export interface UserInput {
  id: string;
  name: string;
  email?: string;
  role: Role;
  tenant?: string;
  password?: string;
}

export type UserPatch = Partial<Omit<UserInput, 'id' | 'password'>> & { disabled?: boolean };

/** Someone from the on-call file: they become responders (an admin may change the role; the file keeps name and email). */
export interface OnCallPerson {
  id: string;
  name: string;
  email?: string;
}

export interface SessionOptions {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  maxMs: number;
}

/** A session's use is written at most this often (every request would be a write). */
const TOUCH_EVERY_MS = 60_000;

export const BOOTSTRAP_ADMIN = 'admin';

/**
 * Users, their sessions and personal API tokens. Secrets (session cookies, tokens) are random 192-bit strings, kept
 * only as SHA-256; passwords only as scrypt hashes. Everything is in the state store, so any node of a cluster
 * resolves a session another node started, and a sign-out or a revoked token holds everywhere at once.
 */
export class Accounts {
  constructor(
    private readonly state: Pick<StateStore, 'users' | 'sessions' | 'tx'>,
    private readonly sessions: SessionOptions,
  ) {}

  /**
   * Makes the people of the on-call file users (new ones as responders, known ones get the file's name and email),
   * and the first admin: with QOSWATCH_ADMIN_PASSWORD it is set at every start (a way back in), else one is
   * generated at the first start and returned, to be printed once.
   */
  async bootstrap(people: readonly OnCallPerson[], adminPassword: string | undefined, now: number): Promise<{ generatedPassword?: string }> {
    for (const p of people) {
      const known = await this.state.users.get(p.id);
      if (!known) await this.state.users.insert({ id: p.id, name: p.name, email: p.email, role: 'responder', tenant: undefined, password: undefined, source: 'oncall', createdAt: now, updatedAt: now, disabledAt: undefined });
      else if (known.source === 'oncall' && (known.name !== p.name || known.email !== p.email)) await this.state.users.update({ ...known, name: p.name, email: p.email, updatedAt: now });
    }
    const admin = await this.state.users.get(BOOTSTRAP_ADMIN);
    if (adminPassword !== undefined) {
      const password = await hashPassword(adminPassword);
      if (!admin) await this.state.users.insert(bootstrapAdmin(password, now));
      else if (!(await verifyPassword(adminPassword, admin.password))) await this.state.users.update({ ...admin, password, updatedAt: now });
      return {};
    }
    if (admin || (await this.state.users.count('admin')) > 0) return {};
    const generatedPassword = randomBytes(12).toString('base64url');
    // Another node of a cluster starting at the same moment may have made it first: then its password is the one.
    return (await this.state.users.insert(bootstrapAdmin(await hashPassword(generatedPassword), now))) ? { generatedPassword } : {};
  }

  async list(): Promise<User[]> {
    return (await this.state.users.list()).map(userOut);
  }

  async get(id: string): Promise<User | undefined> {
    const u = await this.state.users.get(id);
    return u && userOut(u);
  }

  async require(id: string): Promise<UserRecord> {
    const u = await this.state.users.get(id);
    if (!u) throw notFound(`no user ${id}`);
    return u;
  }

  async create(input: UserInput, now: number): Promise<User> {
    const record: UserRecord = {
      id: input.id, name: input.name, email: input.email, role: input.role, tenant: input.tenant,
      password: input.password === undefined ? undefined : await hashPassword(input.password),
      source: 'api', createdAt: now, updatedAt: now, disabledAt: undefined,
    };
    if (!(await this.state.users.insert(record))) throw conflict(`user ${input.id} exists already`);
    return userOut(record);
  }

  /** The user before and after; a change of role, tenant or a disabling signs the user out everywhere. */
  async update(id: string, patch: UserPatch, now: number): Promise<{ before: User; after: User }> {
    return this.state.tx(async (t) => {
      const u = await t.users.get(id);
      if (!u) throw notFound(`no user ${id}`);
      const next: UserRecord = {
        ...u,
        name: patch.name ?? u.name,
        email: 'email' in patch ? patch.email : u.email,
        role: patch.role ?? u.role,
        tenant: patch.role !== undefined && patch.role !== 'customer' ? undefined : 'tenant' in patch ? patch.tenant : u.tenant,
        disabledAt: patch.disabled === undefined ? u.disabledAt : patch.disabled ? (u.disabledAt ?? now) : undefined,
        updatedAt: now,
      };
      await t.users.update(next);
      if (next.role !== u.role || next.tenant !== u.tenant || (next.disabledAt !== undefined && u.disabledAt === undefined)) await t.sessions.deleteForUser(id);
      return { before: userOut(u), after: userOut(next) };
    });
  }

  /** Sets a password and signs the user out everywhere (a stolen session dies with the old password). */
  async setPassword(id: string, password: string, now: number): Promise<void> {
    const hash = await hashPassword(password);
    await this.state.tx(async (t) => {
      const u = await t.users.get(id);
      if (!u) throw notFound(`no user ${id}`);
      await t.users.update({ ...u, password: hash, updatedAt: now });
      await t.sessions.deleteForUser(id);
    });
  }

  /** The user a login names (id, or an email only one user has) if the password is right and the user is enabled. */
  async checkPassword(login: string, password: string): Promise<UserRecord | undefined> {
    const byId = await this.state.users.get(login);
    const byEmail = byId ? [] : await this.state.users.byEmail(login);
    const u = byId ?? (byEmail.length === 1 ? byEmail[0] : undefined);
    const ok = await verifyPassword(password, u?.password);
    return ok && u && u.disabledAt === undefined ? u : undefined;
  }

  /** The enabled user an identity provider's verified email names, when exactly one user has it. */
  async byVerifiedEmail(email: string): Promise<UserRecord | undefined> {
    const found = (await this.state.users.byEmail(email)).filter((u) => u.disabledAt === undefined);
    return found.length === 1 ? found[0] : undefined;
  }

  /**
   * A new session for the user: always a fresh secret (a session id planted in the browser before sign-in is never
   * adopted). Returns the cookie's value and the CSRF token its forms send.
   */
  async startSession(userId: string, now: number): Promise<{ secret: string; csrf: string; expiresAt: number }> {
    const secret = randomBytes(24).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const expiresAt = now + this.sessions.idleMs;
    await this.state.sessions.insert({ sha256: sha256(secret), userId, csrf, createdAt: now, seenAt: now, expiresAt });
    return { secret, csrf, expiresAt };
  }

  /** The session and its (enabled) user; using it moves the idle expiry, never past the maximum age. */
  async session(secret: string, now: number): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    const hash = sha256(secret);
    const session = await this.state.sessions.get(hash, now);
    if (!session) return undefined;
    const user = await this.state.users.get(session.userId);
    if (!user || user.disabledAt !== undefined) return undefined;
    if (now - session.seenAt >= TOUCH_EVERY_MS) await this.state.sessions.touch(hash, now, Math.min(now + this.sessions.idleMs, session.createdAt + this.sessions.maxMs));
    return { session, user };
  }

  async endSession(secret: string): Promise<void> {
    await this.state.sessions.delete(sha256(secret));
  }

  /** A personal API token: its secret is returned once. */
  async createToken(userId: string, name: string | undefined, now: number): Promise<{ id: string; name?: string; created_at: number; secret: string }> {
    const secret = newSecret('qwp');
    const id = `p_${randomBytes(6).toString('hex')}`;
    await this.state.sessions.insertToken({ id, userId, name, sha256: sha256(secret), createdAt: now, usedAt: undefined });
    return { id, name, created_at: now, secret };
  }

  async tokens(userId: string): Promise<{ id: string; name?: string; created_at: number; used_at?: number }[]> {
    return (await this.state.sessions.tokens(userId)).map((t) => ({ id: t.id, name: t.name, created_at: t.createdAt, used_at: t.usedAt }));
  }

  async revokeToken(userId: string, id: string, now: number): Promise<void> {
    if (!(await this.state.sessions.revokeToken(userId, id, now))) throw notFound(`no token ${id}`);
  }

  /** The (enabled) user of a personal API token. */
  async tokenUser(secret: string, now: number): Promise<UserRecord | undefined> {
    const token = await this.state.sessions.token(sha256(secret));
    if (!token) return undefined;
    const user = await this.state.users.get(token.userId);
    if (!user || user.disabledAt !== undefined) return undefined;
    if (token.usedAt === undefined || now - token.usedAt >= TOUCH_EVERY_MS) await this.state.sessions.tokenUsed(token.id, now);
    return user;
  }
}

const bootstrapAdmin = (password: string, now: number): UserRecord => ({
  id: BOOTSTRAP_ADMIN, name: 'Administrator', email: undefined, role: 'admin', tenant: undefined, password, source: 'bootstrap', createdAt: now, updatedAt: now, disabledAt: undefined,
});
