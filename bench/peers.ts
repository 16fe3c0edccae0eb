import { Agent, request } from 'node:http';
import type { InfluxServer } from '../test/helpers/influxd.js';
import { type IngestResult, measure } from './ingest.js';
import { beacon } from './samples.js';
import type { VictoriaServer } from './victoria.js';

const esc = (s: string) => s.replace(/[,= ]/g, '\\$&');

/**
 * The same beacons as qoswatch ingests, as line protocol: one point per sample. The session id is a string field
 * for InfluxDB (as a peer stores it); VictoriaMetrics keeps numeric fields only, so it is left out there (as a
 * label it would make every session a series).
 */
function lineBodies(count: number, size: number, ts: number, withSession: boolean): string[] {
  let seq = 0;
  return Array.from({ length: count }, () =>
    Array.from({ length: size }, () => {
      const b = beacon(ts) as Record<string, any>;
      const d = b.dims as Record<string, string>;
      return (
        `qos_sample,cdn=${esc(d.cdn!)},isp=${esc(d.isp!)},platform=${esc(d.platform!)},region=${esc(b.region)},tenant=default ` +
        `${withSession ? `session="${b.session}",` : ''}latency_ms=${b.latency_ms},rtt_ms=${b.rtt_ms},packets_lost=${b.packets_lost},packets_expected=${b.packets_expected},` +
        `play_ms=${b.play_ms},stall_ms=${b.stall_ms},stall_count=${b.stall_count}i ${BigInt(ts) * 1_000_000n + BigInt(seq++)}`
      );
    }).join('\n'),
  );
}

/** Closed-loop line-protocol writes to InfluxDB 1.x `/write`, measured like the qoswatch scenarios. */
export function influxLoad(influx: InfluxServer, db: string, batch: number, seconds: number, concurrency = 8): Promise<IngestResult> {
  return lineLoad(new URL(`/write?db=${db}&precision=ns`, influx.url), influx.pid!, `peer: InfluxDB 1.x /write, line protocol, batches of ${batch}`, lineBodies(32, batch, Date.now(), true), batch, seconds, concurrency);
}

/** The same, to VictoriaMetrics' InfluxDB-compatible `/write`. */
export function victoriaLoad(vm: VictoriaServer, batch: number, seconds: number, concurrency = 8): Promise<IngestResult> {
  return lineLoad(new URL('/write?precision=ns', vm.url), vm.pid, `peer: VictoriaMetrics /write, line protocol, batches of ${batch}`, lineBodies(32, batch, Date.now(), false), batch, seconds, concurrency);
}

async function lineLoad(url: URL, pid: number, label: string, pool: readonly string[], batch: number, seconds: number, concurrency: number): Promise<IngestResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let i = 0;
  const post = () =>
    new Promise<number>((resolve, reject) => {
      const body = pool[i++ % pool.length]!;
      const t0 = performance.now();
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve(performance.now() - t0) : reject(new Error(`${label}: answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const result = await measure(pid, label, seconds, async (stopAt, record) => {
    const worker = async () => {
      while (performance.now() < stopAt) record(batch, await post());
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  });
  agent.destroy();
  return result;
}
