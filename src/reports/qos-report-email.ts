import { DateTime } from 'luxon';
import { inert } from '../notify/markup.js';
import { escapeHtml, truncate } from '../notify/render.js';
import { PRIORITIES } from '../shared/priority.js';
import { barChartPng, hBarChartPng, hBarChartSize, type Bar } from './png-chart.js';
import type { FigureChange, HourFigures, QosReport, RegionReport, RegionStatus } from './qos-report-model.js';
import { H2, MUTED, RULE, TABLE, TD, TEXT, TH, emailDocument, grafanaHtml, isWebUrl, oneLine } from './email-style.js';

const esc = escapeHtml;

/** One inline image, in the shape nodemailer's `attachments` takes (referenced from the HTML as `cid:<cid>`). */
export interface ReportAttachment {
  cid: string;
  filename: string;
  contentType: 'image/png';
  content: Buffer;
}

export interface RenderedReport {
  subject: string;
  text: string;
  html: string;
  attachments: ReportAttachment[];
}

export const STATUS_COLOR: Record<RegionStatus, string> = { good: '#2da44e', watch: '#d29922', attention: '#cf222e' };
const STATUS_WORD: Record<RegionStatus, string> = { good: 'Good', watch: 'Watch', attention: 'Attention' };
/** Week-over-week colours: worse, better, neither. */
export const CHANGE_COLOR = { worse: '#cf222e', better: '#2da44e', neutral: '#57606a' } as const;
/** Hourly chart colours: an ordinary hour, one of the region's worst hours, and the period's ratio (dashed line). */
export const HOUR_COLOR = { normal: '#54aeff', worst: '#bc4c00', period: '#57606a' } as const;
/** Hourly charts for at most this many regions that are not good; when all are good, for the worst this many. */
export const MAX_CHARTED = 5;
export const CHARTED_WHEN_ALL_GOOD = 3;

const HOURLY_CHART = { width: 560, height: 90 } as const;
const RANKING_CHART = { width: 240, rowHeight: 22 } as const;


type MetricKey = keyof FigureChange;
const METRICS: readonly { key: MetricKey; label: string; upIsBad: boolean; format: (v: number | null) => string }[] = [
  { key: 'latencyP95Ms', label: 'Latency p95', upIsBad: true, format: (v) => fmtMs(v) },
  { key: 'packetLoss', label: 'Packet loss', upIsBad: true, format: (v) => fmtPct(v) },
  { key: 'stallRatio', label: 'Stall ratio', upIsBad: true, format: (v) => fmtPct(v) },
  { key: 'peakConcurrency', label: 'Peak concurrency', upIsBad: false, format: (v) => fmtCount(v) },
];

const isNum = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const minFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** A ratio as a percentage with 2 decimals ("1.23%"), "—" when missing. */
export const fmtPct = (v: number | null): string => (isNum(v) ? `${(v * 100).toFixed(2)}%` : '—');
/** Milliseconds, rounded, with thousands separators ("1,234 ms"). */
export const fmtMs = (v: number | null): string => (isNum(v) ? `${intFmt.format(Math.round(v))} ms` : '—');
/** A count with thousands separators ("12,345"). */
export const fmtCount = (v: number | null): string => (isNum(v) ? intFmt.format(Math.round(v)) : '—');
/** A duration in minutes with one decimal ("12.5 min"). */
export const fmtMinutes = (ms: number | null): string => (isNum(ms) ? `${minFmt.format(ms / 60_000)} min` : '—');

/** A week-over-week change: arrow and relative size ("▲ 12.50%"), and its colour given whether an increase is bad. */
export function fmtChange(change: number | null, upIsBad: boolean): { text: string; color: string } {
  if (!isNum(change)) return { text: '—', color: CHANGE_COLOR.neutral };
  const size = Math.abs(change * 100).toFixed(2);
  if (size === '0.00') return { text: '0.00%', color: CHANGE_COLOR.neutral };
  const up = change > 0;
  const color = !upIsBad ? CHANGE_COLOR.neutral : up ? CHANGE_COLOR.worse : CHANGE_COLOR.better;
  return { text: `${up ? '▲' : '▼'} ${size}%`, color };
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above v, so a chart's scale reads as a round number. */
export function niceCeil(v: number): number {
  if (!isNum(v) || v <= 0) return 0.01;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const s of [1, 2, 2.5, 5, 10]) if (v <= s * e * (1 + 1e-9)) return s * e;
  return 10 * e;
}

/** Regions ranked best to worst (by `rank`, whatever order they came in). */
const byRank = (report: QosReport): RegionReport[] => [...report.regions].sort((a, b) => a.rank - b.rank);

/**
 * The regions that get an hourly chart, worst first: up to MAX_CHARTED that are not `good`, or the worst
 * CHARTED_WHEN_ALL_GOOD when all are good. Regions without hourly figures have nothing to chart and are passed over.
 */
export function chartedRegions(report: QosReport): RegionReport[] {
  const worstFirst = byRank(report).reverse().filter((r) => r.hourly.length > 0);
  const notGood = worstFirst.filter((r) => r.status !== 'good');
  return notGood.length > 0 ? notGood.slice(0, MAX_CHARTED) : worstFirst.slice(0, CHARTED_WHEN_ALL_GOOD);
}

/** The generated time as the tenant reads it, e.g. "2026-12-02 07:00 Europe/Berlin (UTC+01:00)"; UTC if the zone is unknown. */
function generatedAt(report: QosReport): string {
  let t = DateTime.fromMillis(report.generatedAt, { zone: report.tenant.timezone });
  if (!t.isValid) t = DateTime.fromMillis(report.generatedAt, { zone: 'utc' });
  return `${t.toFormat('yyyy-LL-dd HH:mm')} ${t.zoneName ?? 'UTC'} (UTC${t.toFormat('ZZ')})`;
}

const METHOD = 'latency p95: 95th percentile of the 10-second window p95s; loss and stall ratio: ratios of sums over the period';
const WOW = 'Changes (▲/▼) are relative to the same period one week earlier; "—" means no figure to compare.';

/** Collects inline images; every `<img>` it returns has exactly one attachment, and vice versa. */
class InlineImages {
  readonly attachments: ReportAttachment[] = [];
  private readonly suffix: string;

  constructor(report: QosReport) {
    this.suffix = `${report.tenant.id}.${report.period.from}`.replace(/[^\w.-]/g, '_');
  }

  img(name: string, content: Buffer, width: number, height: number, alt: string): string {
    const cid = `${name}.${this.suffix}@qoswatch`;
    this.attachments.push({ cid, filename: `${name}.png`, contentType: 'image/png', content });
    return `<img src="cid:${esc(cid)}" width="${width}" height="${height}" alt="${esc(alt)}" style="display:block;border:0;outline:none;width:${width}px;height:${height}px">`;
  }
}

const statusHtml = (s: RegionStatus) => `<span style="color:${STATUS_COLOR[s]};font-weight:bold;white-space:nowrap">&#9679; ${STATUS_WORD[s]}</span>`;

function changeHtml(change: number | null, upIsBad: boolean): string {
  const c = fmtChange(change, upIsBad);
  return `<span style="color:${c.color};font-size:11px;white-space:nowrap">${esc(c.text)}</span>`;
}

function rankingChart(regions: readonly RegionReport[], images: InlineImages): string {
  if (regions.length === 0) return '';
  const bars: Bar[] = regions.map((r) => ({ value: r.current.stallRatio, color: STATUS_COLOR[r.status] }));
  const max = niceCeil(Math.max(0, ...regions.map((r) => r.current.stallRatio ?? 0)));
  const size = hBarChartSize(bars.length, RANKING_CHART);
  const alt = `Stall ratio by region, best to worst: ${regions.map((r) => `${r.region} ${fmtPct(r.current.stallRatio)}`).join(', ')}`;
  const img = images.img('stall-ranking', hBarChartPng(bars, { ...RANKING_CHART, max }), size.width, size.height, alt);
  const h = RANKING_CHART.rowHeight;
  const cell = `height:${h}px;line-height:${h}px;font-size:12px;color:${TEXT};white-space:nowrap;padding:0 8px 0 0`;
  const rows = regions.map(
    (r, i) =>
      `<tr><td height="${h}" style="${cell}">${r.rank}. ${esc(truncate(r.region, 28))}</td><td height="${h}" align="right" style="${cell}">${fmtPct(r.current.stallRatio)}</td>` +
      (i === 0 ? `<td rowspan="${regions.length}" valign="top" style="padding:0">${img}</td>` : '') +
      '</tr>',
  );
  return `<h2 style="${H2}">Stall ratio by region</h2>
<table ${TABLE}>${rows.join('')}</table>
<p style="margin:4px 0 0;font-size:11px;color:${MUTED}">Bar length: 0 to ${fmtPct(max)}; colour: the region's status; grey stub: no data.</p>`;
}

function rankingTable(regions: readonly RegionReport[]): string {
  if (regions.length === 0) return `<p style="font-size:13px;color:${MUTED}">No region reported data in this period.</p>`;
  const head = `<tr><th align="right" style="${TH}">#</th><th align="left" style="${TH}">Region</th><th align="left" style="${TH}">Status</th>${METRICS.map((m) => `<th align="right" style="${TH}">${m.label}</th>`).join('')}</tr>`;
  const rows = regions.map(
    (r) =>
      `<tr><td align="right" style="${TD}">${r.rank}</td><td style="${TD}"><strong>${esc(r.region)}</strong></td><td style="${TD}">${statusHtml(r.status)}</td>` +
      METRICS.map((m) => `<td align="right" style="${TD};white-space:nowrap">${m.format(r.current[m.key])}<br>${changeHtml(r.change[m.key], m.upIsBad)}</td>`).join('') +
      '</tr>',
  );
  return `<h2 style="${H2}">Ranking, best to worst</h2>
<table ${TABLE} width="100%" style="border-collapse:collapse">${head}${rows.join('')}</table>`;
}

function hourlyChart(r: RegionReport, images: InlineImages, index: number): string {
  const worst = new Set(r.worstHours.map((h) => h.start));
  const bars: Bar[] = r.hourly.map((h) => ({ value: h.stallRatio, color: worst.has(h.start) ? HOUR_COLOR.worst : HOUR_COLOR.normal }));
  const max = niceCeil(Math.max(0, r.current.stallRatio ?? 0, ...r.hourly.map((h) => h.stallRatio ?? 0)));
  const period = r.current.stallRatio;
  const png = barChartPng(bars, { ...HOURLY_CHART, max, ...(isNum(period) ? { threshold: { value: period, color: HOUR_COLOR.period } } : {}) });
  const first = r.hourly[0]!, last = r.hourly[r.hourly.length - 1]!;
  const top = r.worstHours[0];
  const alt = `Hourly stall ratio for ${r.region}, ${first.label} to ${last.label}` + (top ? `; worst hour ${top.label} at ${fmtPct(top.stallRatio)}` : '');
  const safe = r.region.replace(/[^\w.-]/g, '_').slice(0, 40);
  const img = images.img(`stall-hourly-${index + 1}-${safe}`, png, HOURLY_CHART.width, HOURLY_CHART.height, alt);
  const small = `font-size:11px;color:${MUTED}`;
  return `<table ${TABLE} width="${HOURLY_CHART.width}" style="margin-top:8px">
<tr><td colspan="2" style="${small};padding:0 0 2px">Hourly stall ratio (bar height: 0 to ${fmtPct(max)})</td></tr>
<tr><td colspan="2" style="padding:0">${img}</td></tr>
<tr><td align="left" style="${small};padding:2px 0 0">${esc(first.label)}</td><td align="right" style="${small};padding:2px 0 0">${esc(last.label)}</td></tr>
<tr><td colspan="2" style="${small};padding:2px 0 0"><span style="color:${HOUR_COLOR.worst}">&#9632;</span> worst hours &nbsp; <span style="color:${HOUR_COLOR.period}">- - -</span> stall ratio over the period${isNum(period) ? ` (${fmtPct(period)})` : ''} &nbsp; <span style="color:#afb8c1">&#9644;</span> no data</td></tr>
</table>`;
}

const hourLine = (h: HourFigures) => `${h.label}: stall ${fmtPct(h.stallRatio)}, latency p95 ${fmtMs(h.latencyP95Ms)}, loss ${fmtPct(h.packetLoss)}`;
const incidentLine = (byPriority: Readonly<Record<string, number>>) => PRIORITIES.map((p) => `${p} ${fmtCount(byPriority[p] ?? 0)}`).join(' · ');

function regionDetails(worstFirst: readonly RegionReport[], charted: readonly RegionReport[], images: InlineImages): string {
  if (worstFirst.length === 0) return '';
  const blocks = worstFirst.map((r) => {
    const hours = r.worstHours.length
      ? `<table ${TABLE} style="border-collapse:collapse;margin-top:4px"><tr><th align="left" style="${TH}">Worst hour</th><th align="right" style="${TH}">Stall ratio</th><th align="right" style="${TH}">Latency p95</th><th align="right" style="${TH}">Packet loss</th></tr>${r.worstHours
          .map((h) => `<tr><td style="${TD}">${esc(h.label)}</td><td align="right" style="${TD}">${fmtPct(h.stallRatio)}</td><td align="right" style="${TD}">${fmtMs(h.latencyP95Ms)}</td><td align="right" style="${TD}">${fmtPct(h.packetLoss)}</td></tr>`)
          .join('')}</table>`
      : `<p style="margin:4px 0;font-size:13px;color:${MUTED}">No hourly figures.</p>`;
    const chartAt = charted.indexOf(r);
    return `<div style="margin:0 0 20px">
<p style="margin:0;font-size:15px;color:${TEXT}"><strong>${r.rank}. ${esc(r.region)}</strong> &nbsp; ${statusHtml(r.status)}</p>
${hours}
<p style="margin:6px 0 0;font-size:12px;color:${MUTED}">Incidents: ${incidentLine(r.incidents)}</p>
${chartAt >= 0 ? hourlyChart(r, images, chartAt) : ''}
</div>`;
  });
  return `<h2 style="${H2}">Regions, worst first</h2>\n${blocks.join('\n')}`;
}

function needsAttentionHtml(report: QosReport, status: Map<string, RegionStatus>): string {
  if (report.needsAttention.length === 0) {
    const msg = report.regions.length ? `All ${report.regions.length} regions are fine.` : 'No region reported data in this period.';
    return `<table ${TABLE} width="100%"><tr><td style="padding:10px 12px;border-left:4px solid ${STATUS_COLOR.good};background:#f0fff4;font-size:14px;color:${TEXT}">${msg}</td></tr></table>`;
  }
  const items = report.needsAttention.map((n) => {
    const s = status.get(n.region);
    return `<li style="margin:0 0 6px"><strong>${esc(n.region)}</strong>${s ? ` ${statusHtml(s)}` : ''}${n.reasons.length ? `<br><span style="color:${MUTED}">${n.reasons.map(esc).join('<br>')}</span>` : ''}</li>`;
  });
  return `<table ${TABLE} width="100%"><tr><td style="padding:10px 12px;border-left:4px solid ${STATUS_COLOR.attention};background:#fff8f8;font-size:14px;color:${TEXT}">
<p style="margin:0 0 6px;font-weight:bold">Needs attention</p>
<ul id="needs-attention" style="margin:0;padding:0 0 0 20px">${items.join('')}</ul></td></tr></table>`;
}

function incidentsHtml(report: QosReport): string {
  const cells = PRIORITIES.map((p) => `<td align="right" style="${TD}">${fmtCount(report.incidents.byPriority[p] ?? 0)}</td>`).join('');
  return `<h2 style="${H2}">Incidents</h2>
<table ${TABLE} style="border-collapse:collapse"><tr>${PRIORITIES.map((p) => `<th align="right" style="${TH}">${p}</th>`).join('')}<th align="right" style="${TH}">Total</th></tr>
<tr>${cells}<td align="right" style="${TD}"><strong>${fmtCount(report.incidents.total)}</strong></td></tr></table>`;
}

const TARGET_WORD = { response: 'Response', restore: 'Restore', resolve: 'Resolve' } as const;

function slaHtml(report: QosReport): string {
  const { sla } = report;
  const head = `<h2 style="${H2}">SLA</h2>\n<p style="margin:0 0 6px;font-size:13px;color:${TEXT}">Tickets: ${fmtCount(sla.tickets)}</p>`;
  if (sla.targets.length === 0) return `${head}<p style="margin:0;font-size:13px;color:${MUTED}">No SLA targets in this period.</p>`;
  const rows = sla.targets.map(
    (t) =>
      `<tr><td style="${TD}">${TARGET_WORD[t.target]}</td><td align="right" style="${TD}">${fmtCount(t.met)}</td><td align="right" style="${TD}">${fmtCount(t.missed)}</td>` +
      `<td align="right" style="${TD}${t.breached > 0 ? `;color:${STATUS_COLOR.attention};font-weight:bold` : ''}">${fmtCount(t.breached)}</td><td align="right" style="${TD}">${fmtMinutes(t.meanMs)}</td></tr>`,
  );
  return `${head}
<table ${TABLE} style="border-collapse:collapse"><tr><th align="left" style="${TH}">Target</th><th align="right" style="${TH}">Met</th><th align="right" style="${TH}">Missed</th><th align="right" style="${TH}">Breached</th><th align="right" style="${TH}">Mean time</th></tr>${rows.join('')}</table>`;
}



function renderText(report: QosReport, title: string, ranked: readonly RegionReport[], worstFirst: readonly RegionReport[], generated: string): string {
  const lines: string[] = [title, `Tier: ${report.tenant.tier} · Timezone: ${report.tenant.timezone}`, ''];
  if (report.needsAttention.length === 0) lines.push(report.regions.length ? `All ${report.regions.length} regions are fine.` : 'No region reported data in this period.');
  else {
    lines.push('NEEDS ATTENTION');
    const status = new Map(report.regions.map((r) => [r.region, r.status]));
    for (const n of report.needsAttention) {
      const s = status.get(n.region);
      lines.push(`- ${n.region}${s ? ` (${STATUS_WORD[s]})` : ''}`, ...n.reasons.map((x) => `    ${x}`));
    }
  }
  if (report.grafanaUrl !== null && isWebUrl(report.grafanaUrl)) lines.push('', `Grafana: ${report.grafanaUrl}`);
  if (ranked.length) {
    lines.push('', 'RANKING, BEST TO WORST');
    for (const r of ranked) {
      lines.push(`${r.rank}. ${r.region} — ${STATUS_WORD[r.status]}`);
      for (const m of METRICS) lines.push(`    ${`${m.label}:`.padEnd(18)}${m.format(r.current[m.key]).padStart(10)}  (${fmtChange(r.change[m.key], m.upIsBad).text})`);
    }
    lines.push('', 'REGIONS, WORST FIRST');
    for (const r of worstFirst) {
      lines.push(`${r.rank}. ${r.region} — ${STATUS_WORD[r.status]}`);
      lines.push(...(r.worstHours.length ? r.worstHours.map((h) => `    worst hour ${hourLine(h)}`) : ['    no hourly figures']));
      lines.push(`    incidents: ${incidentLine(r.incidents)}`);
    }
  }
  lines.push('', 'INCIDENTS', `    ${incidentLine(report.incidents.byPriority)} · total ${fmtCount(report.incidents.total)}`);
  lines.push('', 'SLA', `    tickets: ${fmtCount(report.sla.tickets)}`);
  for (const t of report.sla.targets) {
    lines.push(`    ${TARGET_WORD[t.target]}: met ${fmtCount(t.met)}, missed ${fmtCount(t.missed)}, breached ${fmtCount(t.breached)}, mean ${fmtMinutes(t.meanMs)}`);
  }
  lines.push('', '-- ', `How figures are computed: ${METHOD}.`, WOW, `Generated ${generated}.`);
  return lines.join('\n');
}

/**
 * The scheduled QoS report as an email: subject, plain text and table-based inline-styled HTML whose charts are
 * inline PNG attachments (`cid:`), ready for nodemailer's `{ subject, text, html, attachments }`. Pure.
 */
export function renderQosReport(data: QosReport): RenderedReport {
  // Region names come from telemetry: no mail client may find a URL or an address to link in them.
  const report: QosReport = {
    ...data,
    regions: data.regions.map((r) => ({ ...r, region: inert(r.region) })),
    needsAttention: data.needsAttention.map((n) => ({ ...n, region: inert(n.region) })),
  };
  const kind = report.kind === 'weekly' ? 'Weekly' : 'Daily';
  const subject = `[qoswatch] ${kind} QoS report — ${oneLine(report.tenant.name)} — ${oneLine(report.period.label)}`;
  const title = `${kind} QoS report — ${report.tenant.name} — ${report.period.label}`;
  const ranked = byRank(report);
  const worstFirst = [...ranked].reverse();
  const charted = chartedRegions(report);
  const status = new Map(report.regions.map((r) => [r.region, r.status]));
  const generated = generatedAt(report);
  const images = new InlineImages(report);

  const preheader = report.needsAttention.length
    ? `${report.needsAttention.length} of ${report.regions.length} regions need attention: ${report.needsAttention.map((n) => n.region).join(', ')}`
    : `All ${report.regions.length} regions are fine`;

  const body = [
    `<p style="margin:0;font-size:12px;color:${MUTED}">qoswatch · ${esc(kind)} QoS report</p>`,
    `<h1 style="margin:4px 0 2px;font-size:22px;color:${TEXT}">${esc(report.tenant.name)}</h1>`,
    `<p style="margin:0 0 16px;font-size:14px;color:${MUTED}">${esc(report.period.label)} · tier ${esc(report.tenant.tier)} · ${esc(report.tenant.timezone)}</p>`,
    needsAttentionHtml(report, status),
    grafanaHtml(report.grafanaUrl),
    rankingChart(ranked, images),
    rankingTable(ranked),
    regionDetails(worstFirst, charted, images),
    incidentsHtml(report),
    slaHtml(report),
    `<p style="margin:28px 0 0;padding-top:10px;border-top:1px solid ${RULE};font-size:11px;color:${MUTED}">How figures are computed: ${esc(METHOD)}.<br>${esc(WOW)}<br>Generated ${esc(generated)}.</p>`,
  ].filter(Boolean);

  const html = emailDocument(subject, preheader, body);

  return { subject, text: renderText(report, title, ranked, worstFirst, generated), html, attachments: images.attachments };
}
