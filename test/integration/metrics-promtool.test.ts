import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { postTelemetry, sample } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { pagingRule } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { HAVE_PROMTOOL, NO_PROMTOOL_MESSAGE, promtoolCheckMetrics } from '../helpers/promtool.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

/**
 * The built service's /metrics through Prometheus's own linter (`promtool check metrics`: naming, suffixes, units,
 * help texts), as a scraper would read it: fresh, and after it has taken telemetry and fired an alert (labels that
 * appear only once something happened).
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_PROMTOOL) console.warn(NO_PROMTOOL_MESSAGE);

const service = servicesKilledAfterEach();

describe.skipIf(!HAVE_PROMTOOL)('promtool check metrics on /metrics of the built service', () => {
  it('finds nothing to say on a fresh service, which already counts every closed label set at 0', async () => {
    const svc = await service({});
    const text = await metricsText(svc.url);
    expect(metricValue(text, 'qoswatch_alert_transitions_total{type="fired"}')).toBe(0);
    expect(text).toMatch(/^qoswatch_build_info\{version="[^"]+",node_version="v\d+\.\d+\.\d+"\} 1$/m);
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
  });

  it('finds nothing to say after telemetry (accepted and rejected) and a fired alert', async () => {
    const svc = await service({ QOSWATCH_RULES_DIR: writeRules([pagingRule()]) });
    await send(svc.url, viewers('eu-west', Date.now(), 0.3));
    expect((await postTelemetry(svc.url, { samples: [sample({ ts: Date.now() + 3_600_000 })] })).status).toBe(202);
    await waitFor('the stall incident to open', async () => ((await incidents(svc.url)).length === 1 ? true : undefined));
    const text = await metricsText(svc.url);
    expect(metricValue(text, 'qoswatch_alert_transitions_total{type="fired"}')).toBe(1);
    expect(metricValue(text, 'qoswatch_samples_rejected_total{reason="future_ts"}')).toBe(1);
    expect(text).toMatch(/^qoswatch_incidents_open\{tenant="[^"]+",priority="P1"\} 1$/m);
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
  });

  it('would report a gauge named like a counter (the check is live)', async () => {
    const r = await promtoolCheckMetrics('# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n');
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});
