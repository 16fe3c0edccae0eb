/** Blocks this process's event loop for `ms`. */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Keeps this process's event loop busy for `ms` in turns of 20 ms, timers running between them: a saturated loop,
 * as an in-process service with a smaller QOSWATCH_MAX_EVENT_LOOP_DELAY sees one.
 */
export async function saturate(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    spin(20);
    await new Promise((r) => setImmediate(r));
  }
}
