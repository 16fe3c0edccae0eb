import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { parse, stringify } from 'yaml';
import { repoPath } from './common.js';

/**
 * Panel ids by board uid, then by panel key (`type:title`). Grafana links (`viewPanel=`), embeds and library
 * references name a panel by id, so an id never changes once given: a new panel gets one above every id its board
 * ever had, and a removed panel's entry stays so that its id is never reused. Rename a panel by renaming its key.
 */
export type PanelIds = Record<string, Record<string, number>>;

/** YAML, not JSON: Grafana's provider loads every *.json file under dashboards/ as a board. */
const FILE = 'dashboards/panel-ids.yaml';
const HEADER = '# Panel ids of the generated boards, by board uid and "type:title" (dashboards/src/panel-ids.ts).\n# Written by `npm run dashboards`; keep removed panels\' entries (ids are never reused); rename a key to keep an id.\n';

/** The committed id map (empty before the first `npm run dashboards`). */
export function readPanelIds(): PanelIds {
  const path = repoPath(FILE);
  return existsSync(path) ? ((parse(readFileSync(path, 'utf8')) as PanelIds | null) ?? {}) : {};
}

export function writePanelIds(ids: PanelIds): void {
  writeFileSync(repoPath(FILE), HEADER + stringify(ids));
}

export const panelKey = (p: Panel | RowPanel): string => `${p.type}:${p.title ?? ''}`;

/** Sets every panel's id (rows and the panels of collapsed rows included) from `ids`, adding the board's new panels to it. */
export function withPanelIds(board: Dashboard, ids: PanelIds): Dashboard {
  const known = (ids[board.uid!] ??= {});
  const seen = new Set<string>();
  const panels = (board.panels ?? []).flatMap((p) => (p.type === 'row' ? [p, ...((p as RowPanel).panels ?? [])] : [p]));
  for (const p of panels) {
    const key = panelKey(p);
    if (seen.has(key)) throw new Error(`${board.uid}: two panels are "${key}": titles of one type must differ (the key of its id)`);
    seen.add(key);
    known[key] ??= Math.max(0, ...Object.values(known)) + 1;
    p.id = known[key];
  }
  return board;
}
