import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { time } from '../format.js';
import { priorityBadge } from './incidents.js';
import { type Ticket, clockBar } from './tickets.js';
import { type Ctx, type Loaded, type View, badge, formAction, load, loaded } from './view.js';

interface Detail extends Ticket {
  root_cause?: string;
  events: { id: number; at: string; actor: string; kind: string; visibility: 'internal' | 'customer'; data?: Record<string, unknown> }[];
}

/** Where a ticket may go from each state (the service checks again). */
const NEXT: Record<string, string[]> = {
  new: ['acknowledged', 'mitigated', 'resolved', 'waiting_on_customer'],
  acknowledged: ['mitigated', 'resolved', 'waiting_on_customer'],
  mitigated: ['resolved', 'waiting_on_customer'],
  waiting_on_customer: ['resume', 'mitigated', 'resolved'],
  resolved: ['closed'],
  closed: [],
};

function eventText(e: Detail['events'][number]): string {
  const d = e.data ?? {};
  if (e.kind === 'comment') return String(d.text ?? '');
  if (e.kind === 'state_changed') return `→ ${String(d.to ?? '')}${d.note ? `: ${String(d.note)}` : ''}`;
  if (e.kind === 'priority_changed') return `${String(d.from ?? '')} → ${String(d.to ?? '')}`;
  if (e.kind === 'assigned') return `to ${String(d.assignee ?? d.to ?? '')}`;
  return typeof d.note === 'string' ? d.note : '';
}

/** One ticket: its SLA clocks, its history, and moving it on (state, root cause, comments, assignee). */
export function ticketView(ctx: Ctx, [idText]: string[]): View {
  const id = Number(idText);
  let detail: Loaded<Detail> = { state: 'loading' };
  let fetchedAt = Date.now();
  const refresh = () =>
    load(ctx, async () => {
      const d = await api<Detail>('GET', `/v1/tickets/${id}`);
      fetchedAt = Date.now();
      return d;
    }, (l) => (detail = l));
  void refresh();
  const tick = setInterval(() => ctx.update(), 1000);
  const responder = can(ctx.me, 'responder');

  const move = formAction(ctx, (f) => api('POST', `/v1/tickets/${id}/state`, { to: f.to, note: f.note, root_cause: f.root_cause }), (f) => `Ticket moved to ${f.to}.`, refresh);
  const comment = formAction(
    ctx,
    (f) => api('POST', `/v1/tickets/${id}/comment`, { text: f.text, visibility: f.visibility }),
    (f) => (f.visibility === 'customer' ? 'Update sent to the customer.' : 'Internal note added.'),
    refresh,
  );
  const assign = formAction(ctx, (f) => api('POST', `/v1/tickets/${id}/assign`, { assignee: f.assignee }), (f) => `Assigned to ${f.assignee}.`, refresh);

  return {
    title: `Ticket T-${id}`,
    dispose: () => clearInterval(tick),
    render: () =>
      loaded(detail, (t) => html`
        <p class="title">${t.title}</p>
        <p>${priorityBadge(t.priority)} ${badge(`state-${t.state}`, t.state.replaceAll('_', ' '))} <span>${t.tenant}</span>
          ${t.incident_id ? html`<a href="#/incidents/${t.incident_id}">incident #${t.incident_id}</a>` : nothing}
          <span class="muted">${t.assignee ? `assigned to ${t.assignee}` : 'unassigned'}</span></p>
        <section aria-labelledby="sla-h"><h2 id="sla-h">SLA</h2>${t.sla.map((c) => clockBar(c, fetchedAt))}</section>
        ${t.root_cause ? html`<section aria-labelledby="rc-h"><h2 id="rc-h">Root cause</h2><p>${t.root_cause}</p></section>` : nothing}
        ${responder && NEXT[t.state]?.length
          ? html`<form class="stack card" @submit=${move} aria-label="Move the ticket">
              <label>Move to <select name="to">${NEXT[t.state]!.map((s) => html`<option value=${s}>${s.replaceAll('_', ' ')}</option>`)}</select></label>
              <label>Note <input name="note" maxlength="10000"></label>
              <label>Root cause (P0 and P1 need one to resolve) <textarea name="root_cause" rows="2" maxlength="20000"></textarea></label>
              <button type="submit">Move ticket</button>
            </form>`
          : nothing}
        <section aria-labelledby="events-h"><h2 id="events-h">History</h2>
          <ol class="timeline">${[...t.events].reverse().map(
            (e) => html`<li><time datetime=${e.at}>${time(e.at)}</time> <strong>${e.kind.replaceAll('_', ' ')}</strong> <span class="muted">${e.actor}</span>
              ${e.visibility === 'customer' ? badge('customer', 'customer sees this') : nothing} <span>${eventText(e)}</span></li>`,
          )}</ol>
        </section>
        ${responder
          ? html`<form class="comment" @submit=${comment}>
              <label for="ticket-comment">Comment</label>
              <textarea id="ticket-comment" name="text" rows="2" maxlength="10000" required></textarea>
              <fieldset><legend>Who sees it</legend>
                <label><input type="radio" name="visibility" value="internal" checked> Internal note</label>
                <label><input type="radio" name="visibility" value="customer"> Update to the customer</label>
              </fieldset>
              <button type="submit">Add</button>
            </form>
            <form class="inline" @submit=${assign}><label>Assign to <input name="assignee" required maxlength="200" .value=${ctx.me.id}></label><button type="submit">Assign</button></form>`
          : nothing}`),
  };
}
