import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { time } from '../format.js';
import { type Ctx, type Loaded, type View, attempt, formAction, load, loaded } from './view.js';

interface Source {
  id: string;
  name: string;
  kind: string;
  title: string;
  mapping: { tenant?: string; region?: string; priority: string };
  settings: Record<string, unknown>;
  endpoint: string;
  created_by: string;
  created_at: string;
  seen_at?: string;
}

const KINDS: [string, string][] = [
  ['alertmanager', 'Prometheus Alertmanager'],
  ['grafana', 'Grafana Alerting'],
  ['pagerduty', 'PagerDuty Events API v2'],
  ['webhook', 'Generic JSON webhook'],
  ['heartbeat', 'Heartbeat (a job pings)'],
];

/** Parses an optional JSON object typed in a form; the error names the field. */
function jsonField(text: string | undefined, name: string): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${name}: not valid JSON`);
  }
}

/** Alert sources: Alertmanager, Grafana, PagerDuty Events v2, webhooks and heartbeats (admins manage them). */
export function sourcesView(ctx: Ctx): View {
  let list: Loaded<Source[]> = { state: 'loading' };
  /** A secret just made: shown once, with where to send. */
  let fresh: { name: string; secret: string; url: string } | undefined;
  const refresh = () => load(ctx, async () => (await api<{ sources: Source[] }>('GET', '/v1/sources')).sources, (l) => (list = l));
  void refresh();
  const admin = can(ctx.me, 'admin');
  const show = (s: Source, secret: string) => {
    fresh = { name: s.name, secret, url: `${location.origin}${s.endpoint}` };
  };

  const create = formAction(ctx, async (f) => {
    const mapping = { ...jsonField(f.mapping, 'Mapping'), ...(f.tenant && { tenant: f.tenant }), ...(f.region && { region: f.region }), ...(f.priority && { priority: f.priority }) };
    const settings = f.kind === 'heartbeat' ? { period: f.period, ...(f.grace && { grace: f.grace }) } : jsonField(f.settings, 'Settings');
    const r = await api<{ source: Source; secret: string }>('POST', '/v1/sources', { name: f.name, kind: f.kind, mapping, ...(settings && { settings }) });
    show(r.source, r.secret);
  }, (f) => `Source ${f.name} created: copy its secret now.`, refresh);
  const rotate = (s: Source) => async () => {
    await attempt(ctx, async () => show(s, (await api<{ secret: string }>('POST', `/v1/sources/${s.id}/secret`)).secret), `A new secret for ${s.name}: the old one no longer works.`);
    ctx.update();
  };
  const remove = (s: Source) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/sources/${s.id}`), `Source ${s.name} deleted; its alerts cleared.`);
    await refresh();
  };

  return {
    title: 'Alert sources',
    render: () => html`
      ${fresh
        ? html`<section class="card" aria-labelledby="secret-h"><h2 id="secret-h">The secret of ${fresh.name}</h2>
            <p>Shown once. Send it as <code>Authorization: Bearer …</code>, as <code>?token=</code>, or (PagerDuty) as the routing key.</p>
            <div class="stack"><label>Secret <input readonly .value=${fresh.secret} aria-label="Secret of ${fresh.name}"></label>
            <label>URL <input readonly .value=${fresh.url} aria-label="URL of ${fresh.name}"></label></div>
            <button class="small" @click=${() => ((fresh = undefined), ctx.update())}>Done</button></section>`
        : nothing}
      ${admin
        ? html`<details class="card"><summary>Add a source</summary>
            <form class="stack" @submit=${create}>
              <label>Name (a-z, 0-9, _ . -) <input name="name" required pattern="[a-z0-9][a-z0-9_.\\-]{0,62}"></label>
              <label>Kind <select name="kind">${KINDS.map(([k, t]) => html`<option value=${k}>${t}</option>`)}</select></label>
              <label>Tenant (default: the alert's label, else the default tenant) <input name="tenant"></label>
              <label>Region (default: the alert's label) <input name="region"></label>
              <label>Priority when the alert says none <select name="priority"><option value="">P2</option>${['P0', 'P1', 'P3'].map((p) => html`<option>${p}</option>`)}</select></label>
              <label>Heartbeat period (heartbeats only) <input name="period" placeholder="5m"></label>
              <label>Heartbeat grace (default 1m) <input name="grace" placeholder="1m"></label>
              <label>Settings as JSON (webhooks: field paths) <textarea name="settings" rows="3" placeholder='{"fingerprint": "alert.id", "status": "alert.state"}'></textarea></label>
              <label>More mapping as JSON (routes, labels, severities) <textarea name="mapping" rows="3"></textarea></label>
              <button type="submit">Create</button>
            </form></details>`
        : nothing}
      ${loaded(list, (sources) =>
        sources.length === 0
          ? html`<p class="empty">No alert sources. Alertmanager, Grafana, PagerDuty clients and monitored jobs can page through qoswatch once one is added.</p>`
          : html`<ul class="cards" aria-label="Alert sources">${sources.map(
              (s) => html`<li class="card">
                <p><strong>${s.name}</strong> · ${s.title}</p>
                <p>${s.mapping.tenant ?? 'tenant from labels'} · ${s.mapping.region ?? 'region from labels'} · default ${s.mapping.priority}${s.kind === 'heartbeat' ? ` · every ${String(s.settings.period)}` : ''}</p>
                <p class="muted">sends to <code>${s.endpoint}</code> · ${s.seen_at ? `last heard ${time(s.seen_at)}` : 'not heard from yet'} · by ${s.created_by}</p>
                ${admin
                  ? html`<button class="small" @click=${rotate(s)} aria-label="New secret for ${s.name}">New secret</button>
                      <button class="small" @click=${remove(s)} aria-label="Delete ${s.name}">Delete</button>`
                  : nothing}
              </li>`,
            )}</ul>`,
      )}`,
  };
}
