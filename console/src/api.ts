/** The service's JSON API as the console calls it: same origin, the session cookie, the CSRF token on changes. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Role = 'viewer' | 'responder' | 'admin' | 'customer';

export interface Me {
  id: string;
  name: string;
  role: Role;
  tenant?: string;
  csrf_token?: string;
}

let csrf: string | undefined;
let signedOut: () => void = () => {};

/** The CSRF token of this session (from sign-in or /v1/me), and what to do when the session ends. */
export function useSession(token: string | undefined, onSignedOut: () => void): void {
  csrf = token;
  signedOut = onSignedOut;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as { error?: string; message?: string }) : undefined;
  if (res.status === 401 && path !== '/v1/auth/login') signedOut();
  if (!res.ok) throw new ApiError(res.status, data?.error ?? 'error', data?.message ?? res.statusText);
  return data as T;
}

const RANK: Record<Role, number> = { customer: -1, viewer: 0, responder: 1, admin: 2 };

/** Whether `me` holds `role` (or a higher staff role). */
export const can = (me: Me, role: Exclude<Role, 'customer'>): boolean => RANK[me.role] >= RANK[role];
