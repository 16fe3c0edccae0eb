import { html } from 'lit-html';
import { api } from '../api.js';
import { ago } from '../format.js';
import { priorityBadge } from './incidents.js';
import { type Ctx, type Loaded, type View, badge, load, loaded } from './view.js';

interface Rule { id: string; kind: string; description?: string; metric?: string; window?: string; thresholds?: Record<string, string>; for: string; group_by: string[] }
interface Alert { rule: string; group: string; labels: Record<string, string>; status: string; priority?: string; since: string }

/** The rules in force and what each is doing now (pending, firing, clearing). */
export function rulesView(ctx: Ctx): View {
  let data: Loaded<{ rules: Rule[]; alerts: Alert[] }> = { state: 'loading' };
  const refresh = () =>
    load(ctx, async () => {
      const [r, alerts] = await Promise.all([api<{ rules: Rule[] }>('GET', '/v1/rules'), api<Alert[]>('GET', '/v1/alerts')]);
      return { rules: r.rules, alerts };
    }, (l) => (data = l));
  void refresh();
  const timer = setInterval(() => void refresh(), 15_000);

  return {
    title: 'Rules',
    dispose: () => clearInterval(timer),
    render: () =>
      loaded(data, ({ rules, alerts }) => html`<ul class="cards" aria-label="Rules">${rules.map((r) => {
        const mine = alerts.filter((a) => a.rule === r.id);
        return html`<li class="card">
          <p><strong>${r.id}</strong> <span class="muted">${r.kind}${r.metric ? ` · ${r.metric}` : ''}${r.window ? ` over ${r.window}` : ''} · for ${r.for}</span></p>
          ${r.description ? html`<p>${r.description}</p>` : ''}
          ${r.thresholds ? html`<p>${Object.entries(r.thresholds).map(([p, t]) => html`${priorityBadge(p)} ${t} `)}</p>` : ''}
          <p>${mine.length === 0 ? badge('state-resolved', 'quiet') : mine.map((a) => html`${badge(a.status === 'firing' ? 'firing' : 'state-acknowledged', a.status)} ${Object.values(a.labels).join(' · ')} <span class="muted">since ${ago(a.since)}</span><br>`)}</p>
        </li>`;
      })}</ul>`),
  };
}
