/** Alert, incident and ticket priorities, most severe first. */
export const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof PRIORITIES)[number];
/** Lower is more severe. */
export const rank = (p: Priority) => PRIORITIES.indexOf(p);
