import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { time, toLocalInput } from '../format.js';
import { type Ctx, type Loaded, type View, attempt, badge, formAction, load, loaded } from './view.js';

interface PlannedEvent {
  id: number;
  tenant: string;
  name: string;
  regions: string[];
  starts_at: string;
  ends_at: string;
  factor: number;
  state: 'upcoming' | 'active' | 'ended' | 'cancelled';
  readiness: { due_at: string; sent_at: string | null };
  created_by: string;
}

/** Planned high-traffic events: tighter thresholds while they run, a readiness report before. */
export function eventsView(ctx: Ctx): View {
  let list: Loaded<PlannedEvent[]> = { state: 'loading' };
  const refresh = () => load(ctx, async () => (await api<{ events: PlannedEvent[] }>('GET', '/v1/events')).events, (l) => (list = l));
  void refresh();
  const responder = can(ctx.me, 'responder');

  const create = formAction(ctx, (f) => {
    const regions = f.regions?.split(',').map((r) => r.trim()).filter(Boolean);
    return api('POST', '/v1/events', { name: f.name, tenant: f.tenant, regions: regions?.length ? regions : undefined, starts_at: new Date(f.starts_at!).toISOString(), ends_at: new Date(f.ends_at!).toISOString(), factor: f.factor ? Number(f.factor) : undefined });
  }, (f) => `${f.name} registered.`, refresh);
  const cancel = (id: number, name: string) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/events/${id}`), `${name} cancelled.`);
    await refresh();
  };
  const soon = Date.now() + 86_400_000;

  return {
    title: 'Planned events',
    render: () => html`
      ${responder
        ? html`<details class="card"><summary>Register an event</summary>
            <form class="stack" @submit=${create}>
              <label>Name <input name="name" required maxlength="200"></label>
              <label>Tenant (default: the default tenant) <input name="tenant"></label>
              <label>Regions, comma-separated (default: all) <input name="regions"></label>
              <label>Starts <input name="starts_at" type="datetime-local" required .value=${toLocalInput(soon)}></label>
              <label>Ends <input name="ends_at" type="datetime-local" required .value=${toLocalInput(soon + 3 * 3_600_000)}></label>
              <label>Thresholds × (default 0.5: twice as strict) <input name="factor" type="number" min="0.05" max="1" step="0.05"></label>
              <button type="submit">Register</button>
            </form></details>`
        : nothing}
      ${loaded(list, (events) =>
        events.length === 0
          ? html`<p class="empty">No planned events.</p>`
          : html`<ul class="cards" aria-label="Planned events">${events.map(
              (ev) => html`<li class="card">
                <p><strong>${ev.name}</strong> ${badge(ev.state === 'active' ? 'state-open' : ev.state === 'upcoming' ? 'state-acknowledged' : 'state-resolved', ev.state)}</p>
                <p>${ev.tenant} · ${ev.regions.length ? ev.regions.join(', ') : 'all regions'} · thresholds × ${ev.factor}</p>
                <p class="muted">${time(ev.starts_at)} – ${time(ev.ends_at)} · readiness report ${ev.readiness.sent_at ? `sent ${time(ev.readiness.sent_at)}` : `due ${time(ev.readiness.due_at)}`} · by ${ev.created_by}</p>
                ${responder && (ev.state === 'upcoming' || ev.state === 'active') ? html`<button class="small" @click=${cancel(ev.id, ev.name)} aria-label="Cancel ${ev.name}">Cancel</button>` : nothing}
              </li>`,
            )}</ul>`,
      )}`,
  };
}
