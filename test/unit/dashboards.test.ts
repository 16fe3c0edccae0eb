import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS, renderDashboard } from '../../dashboards/src/index.js';
import { repoPath } from '../../dashboards/src/common.js';
import { dashboardQueries } from '../helpers/dashboards.js';

describe('dashboards as code', () => {
  it.each(DASHBOARDS.map((d) => [d.file, d] as const))('dashboards/%s is what dashboards/src generates (run `npm run dashboards`)', (file, d) => {
    const committed = readFileSync(repoPath(`dashboards/${file}`), 'utf8');
    expect(committed, `dashboards/${file} is stale: run npm run dashboards`).toBe(renderDashboard(d.build()));
  });

  it('gives every board a unique uid, the datasource variable and InfluxQL targets on it only', () => {
    const uids = DASHBOARDS.map((d) => d.build().uid);
    expect(new Set(uids).size).toBe(DASHBOARDS.length);
    for (const d of DASHBOARDS) {
      const board = d.build();
      expect(board.templating?.list?.[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'influxdb' });
      const queries = dashboardQueries(board);
      expect(queries.length).toBeGreaterThan(3);
      for (const q of queries) {
        expect(q.datasource, `${board.uid} / ${q.where}`).toEqual({ type: 'influxdb', uid: '${datasource}' });
        expect(q.query).toMatch(/^(SELECT|SHOW TAG VALUES) /);
      }
    }
  });

  it('colours stall ratio and loss at the shipped rules\' thresholds; latency not at all (its targets depend on the delivery class)', () => {
    const overview = DASHBOARDS.find((d) => d.file === 'qos-overview.json')!.build();
    const steps = (title: string) => (overview.panels!.find((p) => p.type === 'timeseries' && p.title === title) as any).fieldConfig.defaults.thresholds.steps;
    // alert-rules/live-streaming.yaml: stall-ratio P2 > 0.02, P1 > 0.05, P0 > 0.20; latency rules only per protocol.
    expect(steps('Stall ratio')).toEqual([{ value: null, color: 'green' }, { value: 0.02, color: 'yellow' }, { value: 0.05, color: 'orange' }, { value: 0.2, color: 'red' }]);
    expect(steps('Latency p95')).toEqual([{ value: null, color: 'green' }]);
    expect(steps('Concurrency')).toEqual([{ value: null, color: 'green' }]);
  });
});
