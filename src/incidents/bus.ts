/**
 * A typed in-process publish/subscribe: incident events are published after their state is committed; subscribers
 * (InfluxDB annotations, metrics, paging) must not be able to break the publisher, so their errors are reported
 * and swallowed.
 */
export class EventBus<E> {
  private readonly listeners = new Set<(e: E) => void>();

  constructor(private readonly onError: (err: unknown) => void) {}

  on(listener: (e: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: E): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
