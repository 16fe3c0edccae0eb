import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from '../helpers/alerting.js';
import { ADMIN_TOKEN, INGEST_KEY, postTelemetry } from '../helpers/app.js';
import { metricsText, metricValue } from '../helpers/metrics.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

/** What the service writes to its stdout/stderr as a real process: one line per request, no beacon floods, a format for the reader. */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const service = servicesKilledAfterEach();
const beacon = () => ({ samples: [{ ts: Date.now(), region: 'eu', session: 's1', latency_ms: 120 }] });

/** The JSON log lines written since `mark` (every line must be JSON). */
function jsonLines(output: string, mark: number): Record<string, any>[] {
  return output.slice(mark).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>);
}
const about = (lines: Record<string, any>[], path: string) => lines.filter((l) => String(l.req?.url ?? '').split('?')[0] === path);

describe('request logging', () => {
  it('logs every other request once as JSON; telemetry requests not at all, /metrics counts them', async () => {
    const svc = await service({});
    const mark = svc.output.length;
    for (let i = 0; i < 5; i++) expect((await postTelemetry(svc.url, beacon())).status).toBe(202);
    expect((await postTelemetry(svc.url, beacon(), { authorization: 'Bearer not-a-key-0123456789' })).status).toBe(401);
    expect((await api(svc.url, 'GET', '/v1/rules')).status).toBe(200);
    expect((await fetch(`${svc.url}/nope`)).status).toBe(404);
    await waitFor('the request lines', async () => about(jsonLines(svc.output, mark), '/nope').length > 0 || undefined);

    const lines = jsonLines(svc.output, mark);
    expect(about(lines, '/v1/telemetry'), 'telemetry requests are not logged').toEqual([]);
    expect(about(lines, '/v1/rules')).toEqual([expect.objectContaining({ level: 30, req: expect.objectContaining({ method: 'GET' }), res: { statusCode: 200 }, responseTime: expect.any(Number) })]);
    expect(about(lines, '/nope')).toEqual([expect.objectContaining({ res: { statusCode: 404 } })]);
    const text = await metricsText(svc.url);
    const batches = ['accepted', 'partial', 'rejected'].reduce((n, o) => n + (metricValue(text, `qoswatch_batches_total{transport="http",outcome="${o}"}`) ?? 0), 0);
    expect(batches).toBe(5);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="http",reason="unauthorized"}')).toBe(1);
    // and what the lines told besides: status and time, per request
    expect(metricValue(text, 'qoswatch_telemetry_request_duration_seconds_count{code="202"}')).toBe(5);
    expect(metricValue(text, 'qoswatch_telemetry_request_duration_seconds_count{code="401"}')).toBe(1);
  });

  it('health probes and metrics scrapes that succeed are not logged (an orchestrator probes every few seconds); a refused scrape is', async () => {
    const svc = await service({});
    const mark = svc.output.length;
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
      expect((await metricsText(svc.url)).length).toBeGreaterThan(0);
    }
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(401);
    expect((await api(svc.url, 'GET', '/v1/rules')).status).toBe(200);
    await waitFor('the request lines', async () => about(jsonLines(svc.output, mark), '/v1/rules').length > 0 || undefined);

    const lines = jsonLines(svc.output, mark);
    expect(about(lines, '/healthz')).toEqual([]);
    expect(about(lines, '/readyz')).toEqual([]);
    expect(about(lines, '/metrics')).toEqual([expect.objectContaining({ level: 30, res: { statusCode: 401 } })]);
  });

  it('QOSWATCH_LOG_TELEMETRY_REQUESTS=true logs each telemetry request once, the key masked', async () => {
    const svc = await service({ QOSWATCH_LOG_TELEMETRY_REQUESTS: 'true' });
    const mark = svc.output.length;
    expect((await fetch(`${svc.url}/v1/telemetry?key=${INGEST_KEY}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(beacon()) })).status).toBe(202);
    const lines = await waitFor('the telemetry line', async () => {
      const found = about(jsonLines(svc.output, mark), '/v1/telemetry');
      return found.length ? jsonLines(svc.output, mark) : undefined;
    });
    expect(about(lines, '/v1/telemetry')).toEqual([expect.objectContaining({ level: 30, req: expect.objectContaining({ method: 'POST', url: '/v1/telemetry?key=[redacted]' }), res: { statusCode: 202 } })]);
    expect(svc.output).not.toContain(INGEST_KEY);
  });
});

describe('log format', () => {
  const running: ChildProcess[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  });

  /** Starts `serve` with stdout on a terminal (util-linux `script` gives it a pseudo-terminal) and returns what it printed up to listening. */
  async function onTerminal(env: Record<string, string>): Promise<string> {
    const port = await freePort();
    const p = spawn('script', ['-qfec', `${process.execPath} ${CLI} serve`, '/dev/null'], {
      env: { PATH: process.env.PATH, TERM: 'xterm', PORT: String(port), HOST: '127.0.0.1', QOSWATCH_DATA_DIR: tempDir('qoswatch-tty'), QOSWATCH_INGEST_KEY: INGEST_KEY, QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(p);
    let out = '';
    p.stdout!.on('data', (d) => (out += String(d)));
    await waitFor('the service to listen on the terminal', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ? true : undefined));
    await waitFor('the listening line', async () => (/Server listening/.test(out) ? true : undefined));
    // The service runs in its own session under `script`: stop it by its pid (both formats print it).
    const pid = Number(/"pid":(\d+)/.exec(out)?.[1] ?? /\((\d+)\)/.exec(out)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGTERM');
    await waitFor('script to exit', async () => (p.exitCode !== null ? true : undefined));
    return out;
  }

  it('is human-readable on a terminal, JSON when QOSWATCH_LOG_FORMAT=json', async () => {
    const pretty = await onTerminal({});
    expect(pretty).toMatch(/INFO.*Server listening at http:\/\/127\.0\.0\.1:\d+/);
    expect(pretty).not.toMatch(/^\{"level"/m);
    const json = await onTerminal({ QOSWATCH_LOG_FORMAT: 'json' });
    expect(json).toMatch(/^\{"level":30,.*"msg":"Server listening at/m);
  });

  it('is JSON when piped, human-readable when QOSWATCH_LOG_FORMAT=pretty', async () => {
    const piped = await service({});
    expect(piped.output).toMatch(/^\{"level":30,.*"msg":"Server listening at/m);
    const pretty = await service({ QOSWATCH_LOG_FORMAT: 'pretty' });
    expect(pretty.output).toMatch(/INFO.*Server listening at/);
    expect(pretty.output).not.toMatch(/^\{"level"/m);
  });
});
