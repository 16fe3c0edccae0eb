import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { time } from '../format.js';
import { type Ctx, type Loaded, type View, attempt, badge, formAction, load, loaded } from './view.js';

interface Silence {
  id: number;
  matchers: Record<string, string | string[]>;
  starts_at: string;
  ends_at?: string;
  recurrence?: { timezone: string; days: string[]; start: string; duration_ms: number };
  comment: string;
  created_by: string;
  active: boolean;
}

const HOURS = [1, 2, 4, 8, 24];
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Silences and maintenance windows: they stop paging for what they match, never the recording of incidents. */
export function silencesView(ctx: Ctx): View {
  let list: Loaded<Silence[]> = { state: 'loading' };
  const refresh = () => load(ctx, () => api<Silence[]>('GET', '/v1/silences'), (l) => (list = l));
  void refresh();
  const responder = can(ctx.me, 'responder');

  const create = formAction(ctx, (f, form) => {
    const matchers = Object.fromEntries(['tenant', 'region', 'rule'].filter((k) => f[k]).map((k) => [k, f[k]!]));
    const days = new FormData(form).getAll('days').map(String);
    // A maintenance window recurs (weekdays, a local start, a duration); a silence ends after its hours.
    const body = f.kind === 'window'
      ? { matchers, comment: f.comment, recurrence: { timezone: f.timezone, days, start: f.start, duration: `${f.duration}m` } }
      : { matchers, comment: f.comment, ends_at: new Date(Date.now() + Number(f.hours) * 3_600_000).toISOString() };
    return api('POST', '/v1/silences', body);
  }, () => 'Silence created.', refresh);
  const end = (id: number) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/silences/${id}`), 'Silence ended.');
    await refresh();
  };
  const matcherText = (m: Silence['matchers']) => Object.entries(m).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(' ');

  return {
    title: 'Silences and maintenance',
    render: () => html`
      ${responder
        ? html`<details class="card"><summary>New silence</summary>
            <form class="stack" @submit=${create}>
              <p class="muted">Match at least one of tenant, region or rule. Incidents are still recorded; nobody is paged.</p>
              <label>Tenant <input name="tenant"></label>
              <label>Region <input name="region"></label>
              <label>Rule <input name="rule"></label>
              <fieldset><legend>When</legend>
                <label><input type="radio" name="kind" value="once" checked> From now, for <select name="hours" aria-label="Hours">${HOURS.map((h) => html`<option value=${h}>${h} h</option>`)}</select></label>
                <label><input type="radio" name="kind" value="window"> Every week (maintenance window)</label>
              </fieldset>
              <fieldset><legend>Maintenance window</legend>
                ${WEEKDAYS.map((d) => html`<label><input type="checkbox" name="days" value=${d}> ${d}</label>`)}
                <label>Starts at <input name="start" type="time" value="02:00"></label>
                <label>For (minutes) <input name="duration" type="number" min="1" max="1440" value="120"></label>
                <label>Time zone <input name="timezone" .value=${ZONE}></label>
              </fieldset>
              <label>Why <input name="comment" required maxlength="2000"></label>
              <button type="submit">Silence</button>
            </form></details>`
        : nothing}
      ${loaded(list, (silences) =>
        silences.length === 0
          ? html`<p class="empty">No silences.</p>`
          : html`<ul class="cards" aria-label="Silences">${silences.map(
              (s) => html`<li class="card">
                <p><strong>${matcherText(s.matchers)}</strong> ${s.active ? badge('state-open', 'active') : badge('state-resolved', 'not now')}</p>
                <p>${s.comment} <span class="muted">— ${s.created_by}</span></p>
                <p class="muted">${s.recurrence ? `${s.recurrence.days.join(', ')} at ${s.recurrence.start} (${s.recurrence.timezone})` : `${time(s.starts_at)} – ${s.ends_at ? time(s.ends_at) : 'until ended'}`}</p>
                ${responder ? html`<button class="small" @click=${end(s.id)} aria-label="End silence ${matcherText(s.matchers)}">End</button>` : nothing}
              </li>`,
            )}</ul>`,
      )}`,
  };
}
