import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './tmp.js';

/** Debian's Prometheus Alertmanager (package prometheus-alertmanager), if installed. */
export const ALERTMANAGER = spawnSync('sh', ['-c', 'command -v prometheus-alertmanager || command -v alertmanager'], { encoding: 'utf8' }).stdout.trim() || undefined;
export const HAVE_ALERTMANAGER = ALERTMANAGER !== undefined;

/** The visible reason the real Alertmanager test is skipped. */
export const NO_ALERTMANAGER_MESSAGE =
  "Alertmanager is not installed: the test of a real Alertmanager paging through qoswatch is SKIPPED (its payload fixtures still run). Install Debian's prometheus-alertmanager package to run it; .ci/run always does.";

/** A webhook_config to qoswatch's source URL, the secret as a bearer token, as an operator writes it. */
export const webhookReceiver = (url: string, secret: string) => ({ webhook_configs: [{ url, send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials: secret } } }] });

/** A pagerduty_config (Events API v2) pointed at qoswatch's /v2/enqueue, the source's secret as the routing key. */
export const pagerDutyReceiver = (url: string, routingKey: string) => ({ pagerduty_configs: [{ url, routing_key: routingKey, send_resolved: true }] });

/** A real Alertmanager on loopback (clustering off) with one receiver; groups flush within a second. */
export class AlertmanagerProcess {
  private proc: ChildProcess | undefined;
  url = '';
  output = '';

  constructor(private readonly receiver: Record<string, unknown>) {}

  async start(): Promise<void> {
    const dir = tempDir('qoswatch-alertmanager');
    const config = {
      route: { receiver: 'qoswatch', group_by: ['region'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' },
      receivers: [{ name: 'qoswatch', ...this.receiver }],
    };
    writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.proc = spawn(ALERTMANAGER!, [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.output += String(d)));
    this.proc.stderr!.on('data', (d) => (this.output += String(d)));
    await waitFor(`Alertmanager to be ready (${this.output.slice(-300)})`, async () => (await fetch(`${this.url}/-/ready`).catch(() => undefined))?.ok || undefined);
  }

  /** Posts alerts to Alertmanager's API, as Prometheus does (an alert with endsAt in the past is resolved). */
  async post(alerts: readonly Record<string, unknown>[]): Promise<void> {
    const r = await fetch(`${this.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
    if (!r.ok) throw new Error(`Alertmanager answered ${r.status}: ${await r.text()}`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }
}
