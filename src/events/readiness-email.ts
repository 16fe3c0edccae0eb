import { DateTime } from 'luxon';
import { inert } from '../notify/markup.js';
import { escapeHtml } from '../notify/render.js';
import type { RegionFigures } from '../reports/qos-report-model.js';
import { STATUS_COLOR, fmtCount, fmtMs, fmtPct } from '../reports/qos-report-email.js';
import type { ReadinessReport } from './readiness-model.js';
import { H2, MUTED, RULE, TABLE, TD, TEXT, TH, emailDocument, grafanaHtml, isWebUrl, oneLine } from '../reports/email-style.js';

const esc = escapeHtml;

export interface RenderedReadiness {
  subject: string;
  text: string;
  html: string;
}

// The look of the scheduled QoS report email (same palette and cell styles).
const RED = STATUS_COLOR.attention;
const P = `margin:0 0 6px;font-size:13px;color:${TEXT}`;
const NOTE = `margin:0;font-size:13px;color:${MUTED}`;

/* ------------------------------------------------------------------ times */

/** Dates and times always read in English, whatever the machine's locale. */
const LOCALE = 'en-US';

/**
 * Abbreviations ICU does not give in English (it says "GMT+8"), for zones without daylight saving time; used only
 * when the zone is at the listed offset (minutes), so a historical time with another offset is not mislabelled.
 */
const KNOWN_ABBR: Readonly<Record<string, readonly [abbr: string, offset: number]>> = {
  'Asia/Shanghai': ['CST', 480],
  'Asia/Chongqing': ['CST', 480],
  'Asia/Chungking': ['CST', 480],
  'Asia/Harbin': ['CST', 480],
  PRC: ['CST', 480],
  'Asia/Macau': ['CST', 480],
  'Asia/Taipei': ['CST', 480],
  'Asia/Hong_Kong': ['HKT', 480],
  'Asia/Singapore': ['SGT', 480],
  'Asia/Tokyo': ['JST', 540],
  'Asia/Seoul': ['KST', 540],
  'Asia/Kolkata': ['IST', 330],
  'Asia/Calcutta': ['IST', 330],
};
const GMT_STYLE = /^(?:GMT|UTC)[+-]/;

/** The zone's abbreviation at `t`: "CST", "CET", "EST", "AEDT"…, else the offset ("UTC+5:45"). */
function zoneAbbr(t: DateTime): string {
  const known = t.zoneName ? KNOWN_ABBR[t.zoneName] : undefined;
  if (known && known[1] === t.offset) return known[0];
  // en-US knows the American names, en-GB the European ones, en-AU the Australian ones.
  for (const locale of ['en-US', 'en-GB', 'en-AU']) {
    const name = t.setLocale(locale).offsetNameShort;
    if (name && !GMT_STYLE.test(name)) return name;
  }
  return t.offset === 0 ? 'UTC' : `UTC${t.toFormat('Z')}`;
}

/** Times as the tenant reads them; UTC when the tenant's zone is unknown. */
class TenantClock {
  readonly zone: string;

  constructor(timezone: string) {
    this.zone = DateTime.now().setZone(timezone).isValid ? timezone : 'UTC';
  }

  at(ms: number): DateTime {
    return DateTime.fromMillis(ms, { zone: this.zone, locale: LOCALE });
  }

  /** "Sat 5 Dec 20:00 CST" (with the year: "Sat 5 Dec 2026 20:00 CST"). */
  point(ms: number, year = false): string {
    const t = this.at(ms);
    return `${t.toFormat(year ? 'ccc d LLL yyyy HH:mm' : 'ccc d LLL HH:mm')} ${zoneAbbr(t)}`;
  }

  /**
   * Both ends of a span: the end without its date when on the same day, the zone once at the end (at both ends
   * when it changes in between, as across a daylight-saving switch).
   */
  ends(fromMs: number, toMs: number, year = false): [from: string, to: string] {
    const a = this.at(fromMs), b = this.at(toMs);
    const za = zoneAbbr(a), zb = zoneAbbr(b);
    const from = a.toFormat(year ? 'ccc d LLL yyyy HH:mm' : 'ccc d LLL HH:mm') + (za === zb ? '' : ` ${za}`);
    const to = (a.hasSame(b, 'day') ? b.toFormat('HH:mm') : b.toFormat(year && !a.hasSame(b, 'year') ? 'ccc d LLL yyyy HH:mm' : 'ccc d LLL HH:mm')) + ` ${zb}`;
    return [from, to];
  }

  range(fromMs: number, toMs: number, year = false): string {
    const [a, b] = this.ends(fromMs, toMs, year);
    return `${a} – ${b}`;
  }

  /** "2026-12-05 10:00 Asia/Shanghai (UTC+08:00)", as the QoS report's footer. */
  stamp(ms: number): string {
    const t = this.at(ms);
    return `${t.toFormat('yyyy-LL-dd HH:mm')} ${t.zoneName ?? 'UTC'} (UTC${t.toFormat('ZZ')})`;
  }
}

/** Elapsed time: "45 min", "6 h", "1 d 2 h 30 min". */
export function fmtDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 60_000));
  const d = Math.floor(total / 1440), h = Math.floor((total % 1440) / 60), m = total % 60;
  const parts = [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean);
  return parts.length ? parts.join(' ') : '0 min';
}

/* ------------------------------------------------------------------ content */

const BASELINE_METRICS: readonly { key: Exclude<keyof RegionFigures, 'samples'>; label: string; format: (v: number | null) => string }[] = [
  { key: 'latencyP95Ms', label: 'Latency p95', format: fmtMs },
  { key: 'packetLoss', label: 'Packet loss', format: fmtPct },
  { key: 'stallRatio', label: 'Stall ratio', format: fmtPct },
  { key: 'peakConcurrency', label: 'Peak concurrency', format: fmtCount },
];
const PERIODS = [
  { key: 'last24h', label: 'Last 24 h' },
  { key: 'last7d', label: 'Last 7 days' },
] as const;

const fmtFactor = (f: number) => (Number.isFinite(f) ? String(Number(f.toFixed(3))) : String(f));

function factorSentence(f: number): string {
  if (f === 1) return 'Thresholds are not changed while the event runs (factor 1).';
  return `Thresholds are tightened by factor ${fmtFactor(f)} while the event runs (upward limits multiplied by it, downward limits divided by it).`;
}

const regionsWord = (regions: readonly string[]) => (regions.length ? regions.join(', ') : 'all regions');


type Incident = ReadinessReport['openIncidents'][number];
type Shift = ReadinessReport['onCall'][number]['shifts'][number];

const shiftWho = (s: Shift) => `${s.name}${s.email ? ` <${s.email}>` : ''}`;
const gapSentence = (clock: TenantClock, g: { from: number; to: number }) => {
  const [a, b] = clock.ends(g.from, g.to);
  return `Nobody on call from ${a} to ${b}`;
};
const incidentRegion = (i: Incident) => i.region ?? 'no region';

/* ------------------------------------------------------------------ HTML */

function summaryHtml(r: ReadinessReport, clock: TenantClock): string {
  const e = r.event;
  const start = clock.at(e.startsAt);
  const row = (label: string, value: string) =>
    `<tr><td style="padding:3px 12px 3px 0;font-size:13px;color:${MUTED};white-space:nowrap;vertical-align:top">${label}</td><td style="padding:3px 0;font-size:13px;color:${TEXT}">${value}</td></tr>`;
  return `<table ${TABLE} id="event-summary">
${row('Event', `<strong>${esc(e.name)}</strong> (#${e.id})`)}
${row('Tenant', esc(e.tenant.name))}
${row('Regions', esc(regionsWord(e.regions)))}
${row('Window', `${esc(clock.range(e.startsAt, e.endsAt, true))} (${esc(fmtDuration(e.endsAt - e.startsAt))})`)}
${row('Timezone', `${esc(clock.zone)} (UTC${esc(start.toFormat('ZZ'))})`)}
</table>`;
}

function gapsWarningHtml(r: ReadinessReport): string {
  const gaps = r.onCall.reduce((n, s) => n + s.gaps.length, 0);
  if (gaps === 0) return '';
  const schedules = r.onCall.filter((s) => s.gaps.length > 0).map((s) => s.schedule);
  return `<table ${TABLE} width="100%" style="margin:16px 0 0"><tr><td style="padding:10px 12px;border-left:4px solid ${RED};background:#fff8f8;font-size:14px;color:${RED}"><strong>On-call coverage has ${gaps} ${gaps === 1 ? 'gap' : 'gaps'}</strong> during the event (${esc(schedules.join(', '))}); see below.</td></tr></table>`;
}

function thresholdsHtml(r: ReadinessReport): string {
  const { rules, factor } = r.event;
  const head = `<h2 style="${H2}">Thresholds during the event</h2>\n<p style="${P}">${esc(factorSentence(factor))}</p>`;
  if (rules.length === 0) return `${head}<p style="${NOTE}">No alert rules apply to the event's regions.</p>`;
  const rows = rules.flatMap((rule) => {
    const span = Math.max(1, rule.levels.length);
    const lead = `<td rowspan="${span}" style="${TD}"><strong>${esc(rule.id)}</strong></td><td rowspan="${span}" style="${TD}">${esc(rule.metric)}</td>`;
    if (rule.levels.length === 0) return [`<tr>${lead}<td colspan="3" style="${TD};color:${MUTED}">no levels</td></tr>`];
    return rule.levels.map(
      (l, i) =>
        `<tr>${i === 0 ? lead : ''}<td style="${TD}">${esc(l.priority)}</td><td style="${TD};white-space:nowrap">${esc(l.normal)}</td>` +
        `<td style="${TD};white-space:nowrap">&#8594; <strong>${esc(l.during)}</strong></td></tr>`,
    );
  });
  return `${head}
<table ${TABLE} width="100%" style="border-collapse:collapse" id="thresholds"><tr><th align="left" style="${TH}">Rule</th><th align="left" style="${TH}">Metric</th><th align="left" style="${TH}">Priority</th><th align="left" style="${TH}">Normal</th><th align="left" style="${TH}">During the event</th></tr>${rows.join('')}</table>`;
}

function baselinesHtml(r: ReadinessReport): string {
  const head = `<h2 style="${H2}">Baselines</h2>`;
  if (r.baselines.length === 0) return `${head}<p style="${NOTE}">No baseline figures for the event's regions.</p>`;
  const rows = r.baselines.flatMap((b) =>
    PERIODS.map(
      (p, i) =>
        `<tr>${i === 0 ? `<td rowspan="${PERIODS.length}" style="${TD}"><strong>${esc(b.region)}</strong></td>` : ''}<td style="${TD};white-space:nowrap">${p.label}</td>` +
        BASELINE_METRICS.map((m) => `<td align="right" style="${TD};white-space:nowrap">${esc(m.format(b[p.key][m.key]))}</td>`).join('') +
        '</tr>',
    ),
  );
  return `${head}
<table ${TABLE} width="100%" style="border-collapse:collapse" id="baselines"><tr><th align="left" style="${TH}">Region</th><th align="left" style="${TH}">Period</th>${BASELINE_METRICS.map((m) => `<th align="right" style="${TH}">${m.label}</th>`).join('')}</tr>${rows.join('')}</table>
<p style="margin:4px 0 0;font-size:11px;color:${MUTED}">Figures before the report was generated; "—" means no data.</p>`;
}

function onCallHtml(r: ReadinessReport, clock: TenantClock): string {
  const head = `<h2 style="${H2}">On call during the event</h2>`;
  if (r.onCall.length === 0) return `${head}<p style="${NOTE}">No on-call schedule covers the event.</p>`;
  const blocks = r.onCall.map((s) => {
    const shifts = s.shifts.map(
      (sh) =>
        `<tr><td style="${TD}"><strong>${esc(sh.name)}</strong>${sh.email ? `<br><span style="font-size:12px;color:${MUTED}">${esc(sh.email)}</span>` : ''}</td><td style="${TD};white-space:nowrap">${esc(clock.range(sh.from, sh.to))}</td></tr>`,
    );
    const gaps = s.gaps.map(
      (g) => `<tr><td colspan="2" style="${TD};color:${RED};font-weight:bold;background:#fff8f8">&#9888; ${esc(gapSentence(clock, g))}</td></tr>`,
    );
    const body = shifts.length || gaps.length ? `<table ${TABLE} width="100%" style="border-collapse:collapse">${shifts.join('')}${gaps.join('')}</table>` : `<p style="${NOTE}">Nobody on call.</p>`;
    return `<div class="schedule" style="margin:0 0 14px">
<p style="margin:0 0 4px;font-size:14px;color:${TEXT}"><strong>${esc(s.schedule)}</strong></p>
${body}
</div>`;
  });
  return `${head}\n${blocks.join('\n')}`;
}

function incidentsHtml(r: ReadinessReport, clock: TenantClock): string {
  const head = `<h2 style="${H2}">Open incidents</h2>`;
  if (r.openIncidents.length === 0) return `${head}<p style="${NOTE}">No open incidents.</p>`;
  const items = r.openIncidents.map(
    (i) =>
      `<li style="margin:0 0 6px"><strong>#${i.id}</strong> <span style="font-weight:bold${i.priority === 'P0' || i.priority === 'P1' ? `;color:${RED}` : ''}">${esc(i.priority)}</span> ${esc(incidentRegion(i))} — ${esc(i.title)} <span style="color:${MUTED}">(${esc(i.state)}, opened ${esc(clock.point(i.openedAt))})</span></li>`,
  );
  return `${head}\n<ul id="open-incidents" style="margin:0;padding:0 0 0 20px;font-size:13px;color:${TEXT}">${items.join('')}</ul>`;
}


/* ------------------------------------------------------------------ text */

function renderText(r: ReadinessReport, clock: TenantClock, title: string, generated: string): string {
  const e = r.event;
  const lines: string[] = [
    title,
    '',
    `Event: ${e.name} (#${e.id})`,
    `Tenant: ${e.tenant.name}`,
    `Regions: ${regionsWord(e.regions)}`,
    `Window: ${clock.range(e.startsAt, e.endsAt, true)} (${fmtDuration(e.endsAt - e.startsAt)})`,
    `Timezone: ${clock.zone} (UTC${clock.at(e.startsAt).toFormat('ZZ')})`,
  ];
  const gapCount = r.onCall.reduce((n, s) => n + s.gaps.length, 0);
  if (gapCount > 0) lines.push('', `WARNING: on-call coverage has ${gapCount} ${gapCount === 1 ? 'gap' : 'gaps'} during the event (see below).`);
  if (r.grafanaUrl !== null && isWebUrl(r.grafanaUrl)) lines.push('', `Grafana: ${r.grafanaUrl}`);

  lines.push('', 'THRESHOLDS DURING THE EVENT', factorSentence(e.factor));
  if (e.rules.length === 0) lines.push("No alert rules apply to the event's regions.");
  for (const rule of e.rules) {
    lines.push(`${rule.id} (${rule.metric})`);
    if (rule.levels.length === 0) lines.push('    no levels');
    for (const l of rule.levels) lines.push(`    ${l.priority}: ${l.normal} → ${l.during}`);
  }

  lines.push('', 'BASELINES');
  if (r.baselines.length === 0) lines.push("No baseline figures for the event's regions.");
  for (const b of r.baselines) {
    lines.push(b.region);
    for (const p of PERIODS) lines.push(`    ${`${p.label}:`.padEnd(13)}${BASELINE_METRICS.map((m) => `${m.label.toLowerCase()} ${m.format(b[p.key][m.key])}`).join(', ')}`);
  }

  lines.push('', 'ON CALL DURING THE EVENT');
  if (r.onCall.length === 0) lines.push('No on-call schedule covers the event.');
  for (const s of r.onCall) {
    lines.push(s.schedule);
    if (s.shifts.length === 0 && s.gaps.length === 0) lines.push('    nobody on call');
    for (const sh of s.shifts) lines.push(`    ${shiftWho(sh)}: ${clock.range(sh.from, sh.to)}`);
    for (const g of s.gaps) lines.push(`    !! ${gapSentence(clock, g)}`);
  }

  lines.push('', 'OPEN INCIDENTS');
  if (r.openIncidents.length === 0) lines.push('No open incidents.');
  for (const i of r.openIncidents) lines.push(`#${i.id} ${i.priority} ${incidentRegion(i)} — ${i.title} (${i.state}, opened ${clock.point(i.openedAt)})`);

  lines.push('', '-- ', `Generated ${generated}.`);
  return lines.join('\n');
}

/* ------------------------------------------------------------------ email */

/**
 * The readiness report sent before a planned high-traffic event, as an email: subject, plain text and table-based
 * inline-styled HTML, ready for nodemailer's `{ subject, text, html }`. Times read in the tenant's zone. Pure.
 */
export function renderReadinessEmail(data: ReadinessReport): RenderedReadiness {
  // Region names and incident titles come from telemetry: no mail client may find a URL or an address to link in them.
  const r: ReadinessReport = {
    ...data,
    event: { ...data.event, regions: data.event.regions.map(inert) },
    baselines: data.baselines.map((b) => ({ ...b, region: inert(b.region) })),
    openIncidents: data.openIncidents.map((i) => ({ ...i, region: i.region === null ? null : inert(i.region), title: inert(i.title) })),
  };
  const e = r.event;
  const clock = new TenantClock(e.tenant.timezone);
  const starts = clock.point(e.startsAt);
  const subject = `[qoswatch] Readiness: ${oneLine(e.name)} — ${oneLine(e.tenant.name)}, starts ${starts}`;
  const title = `Readiness: ${e.name} — ${e.tenant.name}, starts ${starts}`;
  const generated = clock.stamp(r.generatedAt);

  const gapCount = r.onCall.reduce((n, s) => n + s.gaps.length, 0);
  const preheader =
    `${e.name} starts ${starts}: ${r.openIncidents.length} open ${r.openIncidents.length === 1 ? 'incident' : 'incidents'}` +
    (gapCount ? `, ${gapCount} on-call ${gapCount === 1 ? 'gap' : 'gaps'}` : '');

  const body = [
    `<p style="margin:0;font-size:12px;color:${MUTED}">qoswatch · Event readiness report</p>`,
    `<h1 style="margin:4px 0 2px;font-size:22px;color:${TEXT}">${esc(e.name)}</h1>`,
    `<p style="margin:0 0 16px;font-size:14px;color:${MUTED}">${esc(e.tenant.name)} · starts ${esc(starts)}</p>`,
    summaryHtml(r, clock),
    gapsWarningHtml(r),
    grafanaHtml(r.grafanaUrl),
    thresholdsHtml(r),
    baselinesHtml(r),
    onCallHtml(r, clock),
    incidentsHtml(r, clock),
    `<p style="margin:28px 0 0;padding-top:10px;border-top:1px solid ${RULE};font-size:11px;color:${MUTED}">Generated ${esc(generated)}.</p>`,
  ].filter(Boolean);

  const html = emailDocument(subject, preheader, body);

  return { subject, text: renderText(r, clock, title, generated), html };
}
