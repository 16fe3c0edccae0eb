import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';

export interface BoardQuery {
  /** "panel title / refId", "variable name" or "annotation name". */
  where: string;
  query: string;
  datasource: unknown;
  format?: string;
}

/** Every InfluxQL query a board runs: panel targets (rows included), template variables and annotations. */
export function dashboardQueries(board: Dashboard): BoardQuery[] {
  const out: BoardQuery[] = [];
  const panels = (board.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);
  for (const p of panels) for (const t of p.targets ?? []) out.push({ where: `${p.title} / ${t.refId}`, query: t.query, datasource: t.datasource, format: t.resultFormat });
  for (const v of (board.templating?.list ?? []) as any[]) if (v.type === 'query') out.push({ where: `$${v.name}`, query: v.query, datasource: v.datasource });
  for (const a of (board.annotations?.list ?? []) as any[]) out.push({ where: `annotation ${a.name}`, query: a.target.query, datasource: a.target.datasource, format: a.target.resultFormat });
  return out;
}

/**
 * Fills Grafana's macros and template variables as its InfluxDB datasource does: `$timeFilter` as an absolute
 * range in ms, `$__interval` as given, and each variable's value (already a regex for /^$var$/ contexts).
 */
export function interpolate(query: string, o: { from: number; to: number; interval: string; vars: Record<string, string> }): string {
  let q = query.replace(/\$timeFilter/g, `time >= ${o.from}ms and time <= ${o.to}ms`).replace(/\$__interval/g, o.interval);
  // Longest names first so that $value does not eat part of a longer name.
  for (const [name, value] of Object.entries(o.vars).sort(([a], [b]) => b.length - a.length)) q = q.replaceAll(`$${name}`, value);
  const left = /\$[a-z_]+/i.exec(q.replace(/\$tag_\w+/g, ''));
  if (left) throw new Error(`query still has ${left[0]} after interpolation: ${q}`);
  return q;
}
