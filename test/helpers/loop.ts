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

/**
 * Sends a burst while this process's loop is saturated: `saturate(ms)`, then the requests are written and the loop
 * blocked a while longer, so that they are all ready together for the in-process service's next turn.
 */
export async function burstWhenSaturated<T>(ms: number, send: () => Promise<T>[]): Promise<T[]> {
  await saturate(ms);
  const pending = send();
  // The agent hands a request its socket on the next tick; then they are written, and arrive during the spin.
  await new Promise((r) => process.nextTick(r));
  spin(30);
  return Promise.all(pending);
}
