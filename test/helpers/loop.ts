/** Blocks this process's event loop for `ms`. */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Keeps this process's event loop busy for `ms` in short turns, timers running between them: a saturated loop, as
 * an in-process service sees one (its event-loop utilization near 1, no turn long).
 */
export async function saturate(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    spin(20);
    await new Promise((r) => setImmediate(r));
  }
}
