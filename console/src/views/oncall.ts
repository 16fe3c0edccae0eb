import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { time, toLocalInput } from '../format.js';
import { type Ctx, type Loaded, type View, attempt, formAction, load, loaded } from './view.js';

interface Person { id: string; name: string; email?: string; timezone: string }
interface Now { schedule: string; person?: Person; source?: string; until?: string }
interface Shift { start: string; end: string; person: Person; source: string }
interface Override { id: number; person: string; start: string; end: string; comment?: string; created_by: string }
interface Schedule { id: string; now: Now; shifts: Shift[]; gaps: { start: string; end: string }[]; overrides: Override[] }
interface Feed { id: string; schedule?: string; person?: string; name?: string; created_by: string }

/** Who is on call now and next in each schedule; overrides by form; calendar feeds of one's shifts (or, admins, a schedule's). */
export function onCallView(ctx: Ctx): View {
  let data: Loaded<Schedule[]> = { state: 'loading' };
  const refresh = () =>
    load(ctx, async () => {
      const now = await api<Now[]>('GET', '/v1/oncall/now');
      return Promise.all(
        now.map(async (n) => {
          const [r, overrides] = await Promise.all([
            api<{ shifts: Shift[]; gaps: { start: string; end: string }[] }>('GET', `/v1/oncall/schedules/${encodeURIComponent(n.schedule)}`),
            api<Override[]>('GET', `/v1/oncall/schedules/${encodeURIComponent(n.schedule)}/overrides`),
          ]);
          return { id: n.schedule, now: n, shifts: r.shifts.slice(0, 8), gaps: r.gaps, overrides };
        }),
      );
    }, (l) => (data = l));
  void refresh();
  const responder = can(ctx.me, 'responder');
  const admin = can(ctx.me, 'admin');

  let feeds: Loaded<Feed[]> = { state: 'loading' };
  /** A new feed's URL: its secret, shown once. */
  let feedUrl: string | undefined;
  const refreshFeeds = () => load(ctx, () => api<Feed[]>('GET', '/v1/oncall/calendars'), (l) => (feeds = l));
  if (responder) void refreshFeeds();
  const makeFeed = (target: { person: string } | { schedule: string }) => async () => {
    await attempt(ctx, async () => (feedUrl = (await api<{ url: string }>('POST', '/v1/oncall/calendars', target)).url), 'Calendar feed made: copy its URL now.');
    await refreshFeeds();
  };
  const revokeFeed = (id: string) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/oncall/calendars/${id}`), 'Calendar feed revoked.');
    await refreshFeeds();
  };
  const feedsCard = (schedules: Schedule[]) => html`<section class="card" aria-labelledby="cal-h"><h2 id="cal-h">Calendar feeds</h2>
    <p class="muted">Subscribe to on-call shifts in your calendar app. The URL is the key: keep it to yourself, and revoke a feed whose URL got out.</p>
    ${feedUrl ? html`<p class="secret" role="status">Feed URL (shown once): <code>${feedUrl}</code></p>` : nothing}
    ${loaded(feeds, (list) => html`<ul>${list.map((f) => html`<li>${f.person ? `Shifts of ${f.person}` : `Schedule ${f.schedule}`} ${f.name ?? ''} <span class="muted">(by ${f.created_by})</span>
      <button class="small" @click=${revokeFeed(f.id)} aria-label="Revoke calendar feed ${f.id}">Revoke</button></li>`)}</ul>`)}
    <button @click=${makeFeed({ person: ctx.me.id })}>Feed of my shifts</button>
    ${admin ? schedules.map((s) => html` <button @click=${makeFeed({ schedule: s.id })}>Feed of ${s.id}</button>`) : nothing}
  </section>`;

  const addOverride = (schedule: string) =>
    formAction(
      ctx,
      (f) => api('POST', `/v1/oncall/schedules/${encodeURIComponent(schedule)}/overrides`, { person: f.person, start: new Date(f.start!).toISOString(), end: new Date(f.end!).toISOString(), comment: f.comment }),
      (f) => `${f.person} is on call for ${schedule} from ${time(new Date(f.start!).toISOString())}.`,
      refresh,
    );
  const remove = (schedule: string, id: number) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/oncall/schedules/${encodeURIComponent(schedule)}/overrides/${id}`), 'Override removed.');
    await refresh();
  };

  const start = Date.now();
  return {
    title: 'On call',
    render: () =>
      loaded(data, (schedules) =>
        schedules.length === 0
          ? html`<p class="empty">No schedules: set QOSWATCH_ONCALL to an on-call file.</p>`
          : html`${schedules.map(
              (s) => html`<section class="card" aria-labelledby="sched-${s.id}">
                <h2 id="sched-${s.id}">${s.id}</h2>
                <p class="now">${s.now.person ? html`<strong>${s.now.person.name}</strong> is on call${s.now.until ? html` until ${time(s.now.until)}` : nothing}` : html`<strong class="error">Nobody is on call</strong>`}</p>
                <h3>Next shifts</h3>
                <ol class="shifts">${s.shifts.map((sh) => html`<li><time datetime=${sh.start}>${time(sh.start)}</time> – <time datetime=${sh.end}>${time(sh.end)}</time> ${sh.person.name} <span class="muted">${sh.source}</span></li>`)}</ol>
                ${s.gaps.length ? html`<p class="error">Gaps: ${s.gaps.map((g) => `${time(g.start)} – ${time(g.end)}`).join(', ')}</p>` : nothing}
                ${s.overrides.length
                  ? html`<h3>Overrides</h3><ul>${s.overrides.map((o) => html`<li>${o.person}: ${time(o.start)} – ${time(o.end)} <span class="muted">${o.comment ?? ''} (by ${o.created_by})</span>
                      ${responder ? html`<button class="small" @click=${remove(s.id, o.id)} aria-label="Remove override of ${o.person} from ${time(o.start)}">Remove</button>` : nothing}</li>`)}</ul>`
                  : nothing}
                ${responder
                  ? html`<details><summary>Cover a shift (override)</summary>
                      <form class="stack" @submit=${addOverride(s.id)}>
                        <label>Person (on-call id) <input name="person" required></label>
                        <label>From <input name="start" type="datetime-local" required .value=${toLocalInput(start)}></label>
                        <label>Until <input name="end" type="datetime-local" required .value=${toLocalInput(start + 8 * 3_600_000)}></label>
                        <label>Why <input name="comment" maxlength="2000"></label>
                        <button type="submit">Add override</button>
                      </form></details>`
                  : nothing}
              </section>`,
            )}${responder ? feedsCard(schedules) : nothing}`,
      ),
  };
}
