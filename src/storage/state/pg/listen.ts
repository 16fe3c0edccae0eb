import pg from 'pg';

/**
 * LISTEN on a connection of its own for the notifications of one schema's triggers (channel `qoswatch_<name>_<schema>`,
 * the payload a detail such as a table name). Best effort by design: a lost connection is opened again a second
 * later, and notifications sent meanwhile are lost — whoever they wake also polls.
 */
export class Notifications {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Map<string, Set<(detail: string) => void>>();

  constructor(
    private readonly url: string,
    private readonly schema: string,
    private readonly names: readonly string[],
  ) {}

  on(name: string, fn: (detail: string) => void): () => void {
    let set = this.listeners.get(this.channel(name));
    if (!set) this.listeners.set(this.channel(name), (set = new Set()));
    set.add(fn);
    void this.connect();
    return () => set.delete(fn);
  }

  private channel(name: string): string {
    return `qoswatch_${name}_${this.schema}`;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.connecting;
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }

  private connect(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => {});
      if (!this.closed) this.retry = setTimeout(() => void this.connect(), 1000);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      for (const fn of this.listeners.get(n.channel) ?? []) fn(n.payload ?? '');
    });
    try {
      await client.connect();
      for (const name of this.names) await client.query(`LISTEN "${this.channel(name)}"`);
      this.client = client;
      if (this.closed) await client.end();
    } catch {
      await client.end().catch(() => {});
      if (!this.closed) this.retry = setTimeout(() => void this.connect(), 1000);
    }
  }
}
