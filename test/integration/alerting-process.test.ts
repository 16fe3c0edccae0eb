import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RuleDef, api, incidents, notPaging, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, INGEST_KEY } from '../helpers/app.js';
import { metric } from '../helpers/metrics.js';
import { waitFor } from '../helpers/ports.js';
import { CLI, runCli, servicesKilledAfterEach } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';
import { billionLaughs } from '../helpers/yaml-bombs.js';

/** Alerting in the built service as a real process (real clock): crash safety of alert state, SIGHUP, the rules CLI. */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const service = servicesKilledAfterEach();

/** Waits for two more evaluation passes, so everything posted before has been evaluated. */
async function evaluated(url: string): Promise<void> {
  const n = await metric(url, 'qoswatch_rule_evaluations_total');
  await waitFor('two more rule evaluations', async () => (await metric(url, 'qoswatch_rule_evaluations_total')) >= n + 2 || undefined);
}

const alertsByRule = async (url: string): Promise<Record<string, any>> =>
  Object.fromEntries(((await api(url, 'GET', '/v1/alerts')).body as { rule: string }[]).map((a) => [a.rule, a]));

const lossRule = (over: RuleDef = {}): RuleDef => ({
  id: 'loss', description: 'packet loss per region', metric: 'packet_loss', window: '1m', thresholds: { P0: '> 0.15', P1: '> 0.05' }, ...over,
});

/** A rule file with an unknown metric (stall_ration) and a threshold typo (=> 0.05). */
function brokenRulesDir(): string {
  return writeRules([stallRule({ id: 'stall-typo', metric: 'stall_ration' }), lossRule({ id: 'loss-typo', thresholds: { P0: '> 0.15', P1: '=> 0.05' } })], undefined, 'bad.yaml');
}

describe('alert state survives kill -9', () => {
  it('keeps one open incident, the firing alert firing and the pending alert`s `for` running across a crash', async () => {
    const rules = writeRules([
      stallRule({ id: 'stall-now', for: '0s', min_sessions: 0, clear_for: '5m' }),
      stallRule({ id: 'stall-slow', for: '30s', min_sessions: 0, clear_for: '5m' }),
    ]);
    const svc = await service({ QOSWATCH_RULES_DIR: rules });
    await send(svc.url, viewers('eu-west', Date.now(), 0.08));
    const [incident] = await waitFor('the incident', async () => {
      const list = await incidents(svc.url);
      return list.length ? list : undefined;
    });
    const before = await waitFor('stall-now firing and stall-slow pending', async () => {
      const a = await alertsByRule(svc.url);
      return a['stall-now']?.status === 'firing' && a['stall-slow']?.status === 'pending' ? a : undefined;
    });
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');

    const again = await service({ QOSWATCH_RULES_DIR: rules }, svc.dataDir);
    for (let i = 0; i < 3; i++) {
      await send(again.url, viewers('eu-west', Date.now(), 0.08));
      await evaluated(again.url);
    }
    expect(await incidents(again.url)).toEqual([expect.objectContaining({ id: incident.id, region: 'eu-west', priority: 'P1', state: 'open' })]);
    const after = await alertsByRule(again.url);
    expect(after['stall-now']).toMatchObject({ status: 'firing', priority: 'P1', since: before['stall-now'].since, fired_at: before['stall-now'].fired_at });
    expect(after['stall-slow']).toMatchObject({ status: 'pending', since: before['stall-slow'].since });
    const detail = (await api(again.url, 'GET', `/v1/incidents/${incident.id}`)).body;
    expect(detail.timeline.filter(notPaging).map((e: { kind: string }) => e.kind)).toEqual(['opened', 'alert_fired']);
    expect(detail.alerts).toEqual([expect.objectContaining({ rule: 'stall-now', firing: true })]);
  });
});

describe('SIGHUP reloads the rules', () => {
  it('applies a changed file, and keeps the rules in force when the new file is broken, logging why', async () => {
    const dir = writeRules([stallRule()]);
    const svc = await service({ QOSWATCH_RULES_DIR: dir });
    const rules = async () => ((await api(svc.url, 'GET', '/v1/rules')).body.rules as { id: string; thresholds: Record<string, string> }[]).map((r) => [r.id, r.thresholds.P1]);
    /** Sends SIGHUP and waits until `done` holds (given the output since); the service must keep running. */
    const hup = async (done: (output: string) => Promise<boolean> | boolean) => {
      const mark = svc.output.length;
      svc.proc!.kill('SIGHUP');
      const exited = () => svc.proc!.exitCode !== null || svc.proc!.signalCode !== null;
      const outcome = await waitFor('the reload', async () => (exited() ? 'exited' : (await done(svc.output.slice(mark))) ? 'reloaded' : undefined));
      expect(outcome, `the service must keep running after SIGHUP; its output:\n${svc.output.slice(mark)}`).toBe('reloaded');
      return svc.output.slice(mark);
    };
    expect(await rules()).toEqual([['stall-ratio', '> 0.05']]);

    writeRules([stallRule({ thresholds: { P0: '> 0.2', P1: '> 0.1' } }), lossRule()], dir);
    await hup(async () => (await rules()).length === 2);
    expect(await rules()).toEqual([['stall-ratio', '> 0.1'], ['loss', '> 0.05']]);

    writeRules([stallRule({ window: '45s' })], dir);
    const logged = await hup((out) => out.includes('rule reload rejected'));
    const entry = JSON.parse(logged.split('\n').find((l) => l.includes('rule reload rejected'))!);
    expect(entry.problems).toEqual([`${join(dir, 'rules.yaml')}: rule "stall-ratio": window: must be a multiple of the aggregation window (10s)`]);
    expect(await rules()).toEqual([['stall-ratio', '> 0.1'], ['loss', '> 0.05']]);
    // Both reloads are in the audit log, by the signal, with the rules before and after (or the problems).
    const audit = (await api(svc.url, 'GET', '/v1/audit?target=rules')).body.entries;
    expect(audit.map((e: { actor: string; action: string }) => `${e.actor} ${e.action}`)).toEqual(['SIGHUP rules.reload_failed', 'SIGHUP rules.reload']);
    expect(audit[1].before.rules.map((r: { id: string }) => r.id)).toEqual(['stall-ratio']);
    expect(audit[1].after.rules.map((r: { id: string }) => r.id)).toEqual(['stall-ratio', 'loss']);
    expect(await svc.stop('SIGTERM')).toBe(0);
  });
});

/** `n` stall rules sharing one labels anchor: a legitimate anchor-heavy file (one alias per rule). */
function anchoredRules(n: number): string {
  const rules = Array.from({ length: n }, (_, i) =>
    `  - { id: stall-${i}, description: stall ratio ${i}, metric: stall_ratio, window: 1m, thresholds: { P1: "> 0.05" }, labels: ${i === 0 ? '&team { team: delivery }' : '*team'} }`);
  return `rules:\n${rules.join('\n')}\n`;
}

const BILLION_LAUGHS = billionLaughs('rules: []');

describe('reload never takes the service down', () => {
  it('SIGHUP and POST reload with an anchor-heavy file apply it; a billion-laughs file is refused (422, logged) and the rules stay in force', async () => {
    const dir = writeRules([stallRule()]);
    const svc = await service({ QOSWATCH_RULES_DIR: dir });
    const ruleCount = async () => ((await api(svc.url, 'GET', '/v1/rules')).body.rules as unknown[]).length;
    const alive = () => svc.proc!.exitCode === null && svc.proc!.signalCode === null;

    writeRules(anchoredRules(120), dir);
    svc.proc!.kill('SIGHUP');
    const outcome = await waitFor('the reload', async () => (!alive() ? 'exited' : (await ruleCount()) === 120 ? 'reloaded' : undefined));
    expect(outcome, `the service must keep running after SIGHUP; its output:\n${svc.output.slice(-2000)}`).toBe('reloaded');

    writeRules(BILLION_LAUGHS, dir);
    const r = await api(svc.url, 'POST', '/v1/admin/rules/reload');
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body).toMatchObject({ error: 'invalid_rules', problems: [expect.stringMatching(new RegExp(`^${join(dir, 'rules.yaml')}: .*aliases`))] });
    expect(await ruleCount()).toBe(120);

    const mark = svc.output.length;
    svc.proc!.kill('SIGHUP');
    const logged = await waitFor('the rejected reload in the log', async () => (!alive() ? 'exited' : svc.output.slice(mark).includes('rule reload rejected') ? 'logged' : undefined));
    expect(logged, `the service must keep running after SIGHUP; its output:\n${svc.output.slice(mark)}`).toBe('logged');
    expect(alive()).toBe(true);
    expect(await ruleCount()).toBe(120);
    expect(await svc.stop('SIGTERM')).toBe(0);
  });
});

describe('qoswatch rules check', () => {
  const check = (dir: string) => spawnSync(process.execPath, [CLI, 'rules', 'check', dir], { env: { PATH: process.env.PATH }, encoding: 'utf8' });

  it('passes the shipped rules', () => {
    const shipped = resolve('alert-rules');
    const count = readFileSync(join(shipped, 'live-streaming.yaml'), 'utf8').match(/^ {2}- id: /gm)!.length;
    const r = check(shipped);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${shipped}: ${count} rules in 1 file(s) are valid`);
  });

  it('fails on a broken file with one stderr line per problem naming file, rule id and field', () => {
    const dir = brokenRulesDir();
    const file = join(dir, 'bad.yaml');
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n').map((l) => l.trim());
    expect(lines).toEqual([
      '2 problem(s):',
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rule "stall-typo": metric: .*stall_ratio`)),
      `${file}: rule "loss-typo": thresholds.P1: "=> 0.05" is not a comparison (use e.g. "> 0.05", ">= 800", "< 0.9")`,
    ]);
  });

  it('fails clearly on a missing directory', () => {
    const dir = join(tempDir('qoswatch-rules'), 'no-such-dir');
    const r = check(dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${dir}: cannot read the rules directory`);
    expect(r.stderr).toMatch(/ENOENT|no such/i);
  });

  it('a rule without a description starts the service; a missing or mistyped field is named in words', async () => {
    const { description: _, ...undescribed } = stallRule();
    const svc = await service({ QOSWATCH_RULES_DIR: writeRules([undescribed]) });
    expect(((await api(svc.url, 'GET', '/v1/rules')).body.rules as { id: string }[]).map((r) => r.id)).toEqual(['stall-ratio']);

    const dir = writeRules([stallRule({ id: undefined }), stallRule({ id: 'typed', window: 60, min_sessions: '20' })], undefined, 'bad.yaml');
    const r = await runCli(['serve'], {
      QOSWATCH_DATA_DIR: tempDir('qoswatch-proc'), QOSWATCH_RULES_DIR: dir, QOSWATCH_INGEST_KEY: INGEST_KEY, QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN, PORT: '0',
    });
    expect(r.code).toBe(2);
    const file = join(dir, 'bad.yaml');
    expect(r.output).toContain(`${file}: rules[0]: id: is required`);
    expect(r.output).toContain(`${file}: rule "typed": window: must be a duration such as 30s, 5m or 1h (got the number 60)`);
    expect(r.output).toContain(`${file}: rule "typed": min_sessions: must be a number (got the text "20")`);
    expect(r.output).not.toMatch(/expected \w+, received/);
  });

  it('serve with a broken rules dir exits 2 naming file, rule and field', async () => {
    const dir = brokenRulesDir();
    const r = await runCli(['serve'], {
      QOSWATCH_DATA_DIR: tempDir('qoswatch-proc'), QOSWATCH_RULES_DIR: dir, QOSWATCH_INGEST_KEY: INGEST_KEY, QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN, PORT: '0',
    });
    expect(r.code).toBe(2);
    expect(r.output).toContain(`${join(dir, 'bad.yaml')}: rule "stall-typo": metric:`);
    expect(r.output).toContain(`${join(dir, 'bad.yaml')}: rule "loss-typo": thresholds.P1:`);
  });
});
