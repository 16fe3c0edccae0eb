import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { ago, metricValue, time } from '../format.js';
import { type Incident, priorityBadge, stateBadge } from './incidents.js';
import { type Series, chart } from './chart.js';
import { type Ctx, type Loaded, type View, attempt, formAction, load, loaded } from './view.js';

interface Values {
  metric: string;
  value: number;
  threshold?: string;
  window_ms?: number;
  samples?: number;
  sessions?: number;
  baseline?: number;
  /** An alert source's alert: what it said. */
  external?: { source: string; kind: string; summary: string; labels: Record<string, string>; url?: string; runbook?: string };
}

/** Links from what a source said: http(s) only (a `javascript:` URL in a payload must not become a link). */
const safeLink = (url: string | undefined, text: string) => (url && /^https?:\/\//i.test(url) ? html` · <a href=${url} rel="noreferrer noopener" target="_blank">${text}</a>` : nothing);

interface Detail extends Incident {
  alerts: { rule: string; group: string; labels: Record<string, string>; priority: string; firing: boolean; silenced: boolean; fired_at: string; cleared_at?: string; trigger?: Values }[];
  timeline: { id: number; at: string; actor: string; kind: string; data?: Record<string, unknown> }[];
}

const ACTIONS = [
  { path: 'ack', label: 'Acknowledge', from: ['open'], done: 'Acknowledged: paging stops.' },
  { path: 'mitigate', label: 'Mitigate', from: ['open', 'acknowledged'], done: 'Marked mitigated.' },
  { path: 'resolve', label: 'Resolve', from: ['open', 'acknowledged', 'mitigated'], done: 'Resolved.' },
] as const;

/** What a timeline entry says, in a line. */
function entryText(e: Detail['timeline'][number]): string {
  const d = e.data ?? {};
  switch (e.kind) {
    case 'commented': return String(d.text ?? '');
    case 'paged': case 'escalated': case 'reassigned': return `${[d.people, d.channels].flat().filter(Boolean).join(', ')}${d.note ? ` — ${String(d.note)}` : ''}`;
    case 'alert_fired': case 'alert_cleared': return `${String(d.rule ?? '')} ${d.priority ? `(${String(d.priority)})` : ''}`;
    case 'priority_changed': case 'alert_priority_changed': return `${String(d.from ?? '')} → ${String(d.to ?? '')}`;
    case 'page_failed': case 'page_delivered': case 'page_fallback': return `${String(d.channel ?? d.to ?? '')} ${d.error ? `— ${String(d.error)}` : ''}`;
    default: return d.note ? String(d.note) : '';
  }
}

/** One incident: what triggered it, its timeline, and the responder's actions. */
export function incidentView(ctx: Ctx, [idText]: string[]): View {
  const id = Number(idText);
  let detail: Loaded<Detail> = { state: 'loading' };
  let busy = false;
  const refresh = () => load(ctx, () => api<Detail>('GET', `/v1/incidents/${id}`), (l) => (detail = l));
  const off = ctx.live.on((e) => e.incident_id === id && void refresh());
  void refresh();
  // The metric's windows (from InfluxDB): read now and every 30 s; without InfluxDB the page says so.
  let series: Loaded<Series> = { state: 'loading' };
  const refreshSeries = () => load(ctx, () => api<Series>('GET', `/v1/incidents/${id}/series`), (l) => (series = l));
  void refreshSeries();
  const seriesTimer = setInterval(() => void refreshSeries(), 30_000);

  const act = async (path: string, done: string) => {
    busy = true;
    ctx.update();
    await attempt(ctx, () => api('POST', `/v1/incidents/${id}/${path}`, {}), done);
    busy = false;
    await refresh();
  };
  const comment = formAction(ctx, (f) => api('POST', `/v1/incidents/${id}/comment`, { text: f.text }), () => 'Comment added.', refresh);
  const responder = can(ctx.me, 'responder');
  // Hand-overs go to people of the on-call file (they have pages to receive).
  let people: { id: string; name: string }[] = [];
  if (responder) void api<{ id: string; name: string; source: string }[]>('GET', '/v1/users').then((u) => ((people = u.filter((p) => p.source === 'oncall')), ctx.update()), () => undefined);
  const escalate = async () => {
    busy = true;
    ctx.update();
    await attempt(ctx, () => api('POST', `/v1/incidents/${id}/escalate`, {}), 'Escalated: the next level is being paged.');
    busy = false;
    await refresh();
  };
  const handOver = formAction(ctx, (f) => api('POST', `/v1/incidents/${id}/reassign`, { to: f.to }), (f) => `Handed over: ${f.to} is being paged.`, refresh);

  return {
    title: `Incident #${id}`,
    dispose: () => {
      off();
      clearInterval(seriesTimer);
    },
    render: () =>
      loaded(detail, (i) => html`
        <section class="incident-head">
          <p class="title">${i.title}</p>
          <p>${priorityBadge(i.priority)} ${stateBadge(i)} <span>${i.tenant}${i.region ? ` · ${i.region}` : ''}</span></p>
          <dl class="facts">
            <dt>Opened</dt><dd>${time(i.opened_at)} (${ago(i.opened_at)})</dd>
            ${i.acknowledged_at ? html`<dt>Acknowledged</dt><dd>${time(i.acknowledged_at)} by ${i.acknowledged_by}</dd>` : nothing}
            ${i.mitigated_at ? html`<dt>Mitigated</dt><dd>${time(i.mitigated_at)} by ${i.mitigated_by}</dd>` : nothing}
            ${i.resolved_at ? html`<dt>Resolved</dt><dd>${time(i.resolved_at)} by ${i.resolved_by}</dd>` : nothing}
            ${i.reopened ? html`<dt>Reopened</dt><dd>${i.reopened}×</dd>` : nothing}
          </dl>
        </section>
        ${responder
          ? html`<section class="actions" aria-label="Actions">
              ${ACTIONS.filter((a) => (a.from as readonly string[]).includes(i.state)).map(
                (a) => html`<button class=${a.path === 'ack' ? 'primary' : ''} ?disabled=${busy} @click=${() => act(a.path, a.done)}>${a.label}</button>`,
              )}
              ${i.state === 'open' || i.state === 'acknowledged' ? html`<button ?disabled=${busy} @click=${escalate}>Escalate now</button>` : nothing}
            </section>
            ${(i.state === 'open' || i.state === 'acknowledged') && people.length
              ? html`<form class="inline" @submit=${handOver}><label>Hand over to <select name="to">${people.map((p) => html`<option value=${p.id}>${p.name}</option>`)}</select></label><button type="submit">Hand over</button></form>`
              : nothing}`
          : html`<p class="muted">Your role (${ctx.me.role}) can follow incidents, not act on them.</p>`}
        <section aria-labelledby="alerts-h">
          <h2 id="alerts-h">What triggered it</h2>
          <ul class="alerts">
            ${i.alerts.map(
              (a) => html`<li>
                <strong>${a.rule}</strong> ${priorityBadge(a.priority)} ${a.firing ? html`<span class="badge firing">firing</span>` : html`<span class="badge cleared">cleared</span>`}
                ${a.trigger?.external
                  ? html`<p class="trigger">${a.trigger.external.summary}${safeLink(a.trigger.external.url, 'source')}${safeLink(a.trigger.external.runbook, 'runbook')}</p>
                      <p class="muted">${Object.entries(a.trigger.external.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</p>`
                  : a.trigger
                  ? html`<p class="trigger">${a.trigger.metric} = <strong>${metricValue(a.trigger.metric, a.trigger.value)}</strong>
                      ${a.trigger.threshold ? html` (threshold ${a.trigger.threshold})` : nothing}
                      ${a.trigger.sessions !== undefined ? html` · ${a.trigger.sessions} sessions` : nothing}
                      ${a.trigger.samples !== undefined ? html` · ${a.trigger.samples} samples` : nothing}</p>`
                  : nothing}
                <p class="muted">${Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(' ')} · fired ${time(a.fired_at)}</p>
              </li>`,
            )}
          </ul>
        </section>
        <section aria-labelledby="chart-h">
          <h2 id="chart-h">Recent windows</h2>
          ${series.state === 'ready' ? chart(series.data) : series.state === 'failed' ? html`<p class="muted">${series.message}</p>` : html`<p class="muted">Loading…</p>`}
        </section>
        <section aria-labelledby="timeline-h">
          <h2 id="timeline-h">Timeline</h2>
          <ol class="timeline">
            ${[...i.timeline].reverse().map(
              (e) => html`<li class="kind-${e.kind}"><time datetime=${e.at}>${time(e.at)}</time> <strong>${e.kind.replaceAll('_', ' ')}</strong> <span class="muted">${e.actor}</span> <span>${entryText(e)}</span></li>`,
            )}
          </ol>
          ${responder
            ? html`<form class="comment" @submit=${comment}>
                <label for="comment-text">Add to the timeline</label>
                <textarea id="comment-text" name="text" rows="2" maxlength="10000" required></textarea>
                <button type="submit">Comment</button>
              </form>`
            : nothing}
        </section>`),
  };
}
