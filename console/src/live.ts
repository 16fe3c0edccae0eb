/** One server-sent event per new incident timeline entry (GET /v1/incidents/live). */
export interface LiveEntry {
  id: number;
  incident_id: number;
  kind: string;
  at: number;
}

type Listener = (e: LiveEntry) => void;

/**
 * The console's one live connection: views subscribe while shown. EventSource reconnects by itself; `state` says
 * whether updates are flowing, so the page can say so rather than show stale data as live.
 */
export class Live {
  private source: EventSource | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<() => void>();
  connected = false;

  start(): void {
    if (this.source) return;
    const source = new EventSource('/v1/incidents/live');
    source.addEventListener('timeline', (ev) => {
      const entry = JSON.parse((ev as MessageEvent<string>).data) as LiveEntry;
      for (const l of this.listeners) l(entry);
    });
    source.onopen = () => this.setConnected(true);
    source.onerror = () => this.setConnected(false);
    this.source = source;
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
    this.setConnected(false);
  }

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onState(l: () => void): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }

  private setConnected(c: boolean): void {
    if (this.connected === c) return;
    this.connected = c;
    for (const l of this.stateListeners) l();
  }
}
