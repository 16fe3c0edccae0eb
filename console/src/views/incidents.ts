import { html } from 'lit-html';
import { api } from '../api.js';
import { ago } from '../format.js';
import { type Ctx, type Loaded, type View, badge, load, loaded } from './view.js';

export interface Incident {
  id: number;
  tenant: string;
  region?: string;
  title: string;
  state: 'open' | 'acknowledged' | 'mitigated' | 'resolved';
  priority: 'P0' | 'P1' | 'P2' | 'P3';
  silenced: boolean;
  opened_at: string;
  acknowledged_at?: string;
  acknowledged_by?: string;
  mitigated_at?: string;
  mitigated_by?: string;
  resolved_at?: string;
  resolved_by?: string;
  reopened: number;
  updated_at: string;
}

const STATES = ['open', 'acknowledged', 'mitigated', 'resolved'] as const;
const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;

export const stateBadge = (i: Pick<Incident, 'state' | 'silenced'>) => html`${badge(`state-${i.state}`, i.state)}${i.silenced ? badge('silenced', 'silenced') : ''}`;
export const priorityBadge = (p: string) => badge(`prio-${p}`, p);

/** Incidents, newest first, filtered; the list follows the live feed (no reload). */
export function incidentsView(ctx: Ctx): View {
  const filter = { state: new Set<string>(['open', 'acknowledged']), priority: new Set<string>(), tenant: '' };
  let list: Loaded<Incident[]> = { state: 'loading' };
  const known = new Set<number>();
  const fresh = new Set<number>();
  let first = true;

  const refresh = () =>
    load(ctx, async () => {
      const q = new URLSearchParams({ limit: '200' });
      if (filter.state.size) q.set('state', [...filter.state].join(','));
      if (filter.priority.size) q.set('priority', [...filter.priority].join(','));
      if (filter.tenant) q.set('tenant', filter.tenant);
      const { incidents } = await api<{ incidents: Incident[] }>('GET', `/v1/incidents?${q}`);
      const added = incidents.filter((i) => !known.has(i.id));
      for (const i of added) known.add(i.id);
      if (!first && added.length) {
        for (const i of added) fresh.add(i.id);
        ctx.notify(`${added.length} new incident${added.length > 1 ? 's' : ''}: ${added.map((i) => `#${i.id} ${i.priority} ${i.title}`).join('; ')}`);
      }
      first = false;
      return incidents;
    }, (l) => (list = l));

  let pending: ReturnType<typeof setTimeout> | undefined;
  const off = ctx.live.on(() => {
    // Bursts (a storm writes many entries at once) become one reload.
    clearTimeout(pending);
    pending = setTimeout(() => void refresh(), 250);
  });
  void refresh();

  const toggle = (set: Set<string>, v: string) => (e: Event) => {
    if ((e.target as HTMLInputElement).checked) set.add(v);
    else set.delete(v);
    void refresh();
  };

  return {
    title: 'Incidents',
    dispose: () => {
      off();
      clearTimeout(pending);
    },
    render: () => html`
      <form class="filters" @submit=${(e: Event) => e.preventDefault()} aria-label="Filter incidents">
        <fieldset><legend>State</legend>
          ${STATES.map((s) => html`<label><input type="checkbox" .checked=${filter.state.has(s)} @change=${toggle(filter.state, s)}> ${s}</label>`)}
        </fieldset>
        <fieldset><legend>Priority</legend>
          ${PRIORITIES.map((p) => html`<label><input type="checkbox" .checked=${filter.priority.has(p)} @change=${toggle(filter.priority, p)}> ${p}</label>`)}
        </fieldset>
        <label>Tenant <input name="tenant" .value=${filter.tenant} @change=${(e: Event) => ((filter.tenant = (e.target as HTMLInputElement).value.trim()), void refresh())}></label>
      </form>
      ${loaded(list, (incidents) =>
        incidents.length === 0
          ? html`<p class="empty">No incidents match. All quiet.</p>`
          : html`<ul class="cards" aria-label="Incidents">
              ${incidents.map(
                (i) => html`<li class="card ${fresh.has(i.id) ? 'fresh' : ''}" data-incident=${i.id}>
                  <a href="#/incidents/${i.id}"><span class="id">#${i.id}</span> ${i.title}</a>
                  <div class="meta">${priorityBadge(i.priority)} ${stateBadge(i)} <span>${i.tenant}${i.region ? ` · ${i.region}` : ''}</span>
                    <span class="muted">opened ${ago(i.opened_at)}${i.acknowledged_by ? ` · acknowledged by ${i.acknowledged_by}` : ''}</span></div>
                </li>`,
              )}
            </ul>`,
      )}`,
  };
}
