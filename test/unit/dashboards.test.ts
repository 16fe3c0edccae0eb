import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS, renderDashboard } from '../../dashboards/src/index.js';
import { repoPath } from '../../dashboards/src/common.js';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { panelKey, readPanelIds, withPanelIds } from '../../dashboards/src/panel-ids.js';
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

  it('gives every panel its id from the committed dashboards/panel-ids.yaml, unique on its board (run `npm run dashboards` for a new panel)', () => {
    const committed = readPanelIds();
    for (const d of DASHBOARDS) {
      const board = d.build();
      const ids = board.panels!.map((p) => p.id);
      expect(new Set(ids).size, board.uid).toBe(ids.length);
      for (const p of board.panels!) expect(committed[board.uid!]?.[panelKey(p)], `${board.uid} / ${panelKey(p)} has no committed id`).toBe(p.id);
      // Removed panels keep their entries: no id is ever given twice on a board.
      const all = Object.values(committed[board.uid!]!);
      expect(new Set(all).size).toBe(all.length);
    }
  });

  it('never renumbers: a panel added in front gets a new id above all the board ever had, the others keep theirs', () => {
    const committed = readPanelIds();
    const overview = DASHBOARDS.find((d) => d.file === 'qos-overview.json')!;
    const before = overview.build().panels!.map((p) => [panelKey(p), p.id]);
    const board = overview.make();
    const newPanel: Panel = { type: 'text', title: 'A new first panel' };
    board.panels!.unshift(newPanel);
    const ids = structuredClone(committed);
    const after = withPanelIds(board, ids).panels!.map((p) => [panelKey(p), p.id]);
    expect(after.slice(1)).toEqual(before);
    expect(after[0]![1]).toBe(Math.max(...Object.values(committed['qoswatch-overview']!)) + 1);
    expect(ids['qoswatch-overview']!['text:A new first panel']).toBe(after[0]![1]);
    expect(() => withPanelIds({ ...board, panels: [...board.panels!, newPanel] }, ids)).toThrow(/two panels/);
  });

  it("links the overview's region figures and table to the region drill-down, with the region, tenants, data source and time range", () => {
    const overview = DASHBOARDS.find((d) => d.file === 'qos-overview.json')!.build();
    const linked = overview.panels!.filter((p) => p.type !== 'row');
    expect(linked).toHaveLength(11);
    for (const p of linked) {
      const links = (p as { fieldConfig: { defaults: { links?: { url: string }[] } } }).fieldConfig.defaults.links!;
      const region = p.type === 'table' ? '__data.fields.region' : '__field.labels.region';
      expect(links.map((l) => l.url), p.title).toEqual([
        `/d/qoswatch-region?\${datasource:queryparam}&\${tenant:queryparam}&var-region=\${${region}:percentencode}&\${__url_time_range}`,
      ]);
    }
    const drilldown = DASHBOARDS.find((d) => d.file === 'region-drilldown.json')!.build();
    expect(drilldown.uid).toBe('qoswatch-region');
    expect(drilldown.templating!.list!.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'tenant', 'region']));
  });

  it('shows incident events as annotations whose text links to the incident (the points\' annotation field)', () => {
    for (const d of DASHBOARDS.filter((b) => ['qos-overview.json', 'region-drilldown.json'].includes(b.file))) {
      const [anno] = d.build().annotations!.list! as any[];
      expect(anno.target.query).toMatch(/^SELECT "title", "annotation", "incident" FROM "qos_incident" /);
      expect(anno.mappings).toMatchObject({ title: { value: 'title' }, text: { value: 'annotation' }, tags: { value: 'event' } });
    }
  });
});
