import { afterAll, beforeAll } from 'vitest';
import { InfluxServer } from './influxd.js';

/** Runs one InfluxServer for the enclosing describe block; call the returned function inside tests. */
export function useInfluxServer(): () => InfluxServer {
  let server: InfluxServer | undefined;
  beforeAll(async () => {
    server = await InfluxServer.launch();
  });
  afterAll(async () => {
    await server?.destroy();
  });
  return () => server!;
}
