import { html, nothing } from 'lit-html';
import { api } from '../api.js';
import { ago, duration } from '../format.js';
import { priorityBadge } from './incidents.js';
import { type Ctx, type Loaded, type View, badge, load, loaded } from './view.js';

export interface Clock {
  target: 'response' | 'restore' | 'resolve';
  target_ms: number;
  calendar: '24x7' | 'business';
  elapsed_ms: number;
  running: boolean;
  due_at?: string;
  breached: boolean;
}

export interface Ticket {
  id: number;
  tenant: string;
  incident_id?: number;
  title: string;
  priority: string;
  state: string;
  assignee?: string;
  opened_at: string;
  sla: Clock[];
}

/** How far a clock has run now: running clocks count on from what the server measured at `fetchedAt`. */
export function clockNow(c: Clock, fetchedAt: number, now: number): { elapsed: number; share: number; level: 'ok' | 'warn' | 'breached' } {
  const elapsed = c.elapsed_ms + (c.running ? now - fetchedAt : 0);
  const share = elapsed / c.target_ms;
  return { elapsed, share, level: c.breached || share >= 1 ? 'breached' : share >= 0.8 ? 'warn' : 'ok' };
}

const LEVEL_TEXT = { ok: 'on track', warn: 'over 80 %', breached: 'breached' } as const;

/** One SLA clock as a bar and words (colour is never the only sign). */
export function clockBar(c: Clock, fetchedAt: number) {
  const { elapsed, share, level } = clockNow(c, fetchedAt, Date.now());
  return html`<div class="clock ${level}">
    <span class="clock-name">${c.target}</span>
    <meter min="0" max="1" low="0.8" high="0.99" optimum="0" .value=${Math.min(share, 1)} aria-label="${c.target} SLA used"></meter>
    <span>${duration(elapsed)} of ${duration(c.target_ms)} (${Math.round(share * 100)} %) — ${LEVEL_TEXT[level]}${c.running ? '' : ', stopped'}${c.calendar === 'business' ? ', business hours' : ''}</span>
  </div>`;
}

/** Open tickets with their SLA clocks counting live: amber from 80 % of the target, red once breached. */
export function ticketsView(ctx: Ctx): View {
  let list: Loaded<Ticket[]> = { state: 'loading' };
  let fetchedAt = Date.now();
  const refresh = () =>
    load(ctx, async () => {
      const r = await api<{ tickets: Ticket[] }>('GET', '/v1/tickets?state=new,acknowledged,mitigated,waiting_on_customer&limit=200');
      fetchedAt = Date.now();
      return r.tickets;
    }, (l) => (list = l));
  void refresh();
  const tick = setInterval(() => ctx.update(), 1000);
  // The server's figures win every 30 s (business-hours clocks pause outside hours; the page cannot know when).
  const resync = setInterval(() => void refresh(), 30_000);
  const off = ctx.live.on(() => void refresh());

  const clock = (c: Clock) => clockBar(c, fetchedAt);

  return {
    title: 'Tickets',
    dispose: () => {
      clearInterval(tick);
      clearInterval(resync);
      off();
    },
    render: () =>
      loaded(list, (tickets) =>
        tickets.length === 0
          ? html`<p class="empty">No open tickets.</p>`
          : html`<ul class="cards" aria-label="Open tickets">
              ${tickets.map(
                (t) => html`<li class="card">
                  <a href="#/tickets/${t.id}"><span class="id">T-${t.id}</span> ${t.title}</a>
                  <div class="meta">${priorityBadge(t.priority)} ${badge(`state-${t.state}`, t.state.replaceAll('_', ' '))} <span>${t.tenant}</span>
                    ${t.incident_id ? html`<a href="#/incidents/${t.incident_id}">incident #${t.incident_id}</a>` : nothing}
                    <span class="muted">opened ${ago(t.opened_at)}${t.assignee ? ` · ${t.assignee}` : ''}</span></div>
                  ${t.sla.map(clock)}
                </li>`,
              )}
            </ul>`,
      ),
  };
}
