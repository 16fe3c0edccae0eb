/**
 * Who may do what, for people signed in to the console or holding a personal API token. Staff roles are ranked
 * (each may do what the ones below it may); `customer` stands apart: it sees its own tenant's customer view only.
 * The admin token (automation) acts as `admin`.
 */
export const STAFF_ROLES = ['viewer', 'responder', 'admin'] as const;
export const ROLES = [...STAFF_ROLES, 'customer'] as const;

export type StaffRole = (typeof STAFF_ROLES)[number];
export type Role = (typeof ROLES)[number];

/** Whether `role` may do what `needed` may. */
export function allows(role: Role, needed: StaffRole): boolean {
  return role !== 'customer' && STAFF_ROLES.indexOf(role) >= STAFF_ROLES.indexOf(needed);
}
