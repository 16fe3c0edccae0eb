import pg from 'pg';

/**
 * LISTEN on a connection of its own for the notifications of one schema's triggers. Best effort by design: a lost
 * connection is opened again a second later, and notifications sent meanwhile are lost — the followers they wake
 * poll as well.
 */
export class Notifications {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly channel: string,
  ) {}

  on(fn: () => void): () => void {
    this.listeners.add(fn);
    void this.connect();
    return () => this.listeners.delete(fn);
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
    client.on('notification', () => {
      for (const fn of this.listeners) fn();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      this.client = client;
      if (this.closed) await client.end();
    } catch {
      await client.end().catch(() => {});
      if (!this.closed) this.retry = setTimeout(() => void this.connect(), 1000);
    }
  }
}
