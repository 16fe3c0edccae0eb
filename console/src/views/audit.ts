import { html } from 'lit-html';
import { api } from '../api.js';
import { time } from '../format.js';
import { type Ctx, type Loaded, type View, load, loaded } from './view.js';

interface Entry { id: number; at: string; actor: string; action: string; target: string; before?: unknown; after?: unknown }

/** Configuration changes, newest first, with what changed. */
export function auditView(ctx: Ctx): View {
  let data: Loaded<Entry[]> = { state: 'loading' };
  void load(ctx, async () => (await api<{ entries: Entry[] }>('GET', '/v1/audit?limit=200')).entries, (l) => (data = l));
  const show = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v, null, 1));
  return {
    title: 'Audit log',
    render: () =>
      loaded(data, (entries) =>
        entries.length === 0
          ? html`<p class="empty">No configuration changes yet.</p>`
          : html`<ul class="cards" aria-label="Audit log">${entries.map(
              (e) => html`<li class="card"><p><time datetime=${e.at}>${time(e.at)}</time> <strong>${e.actor}</strong> ${e.action} <code>${e.target}</code></p>
                <details><summary>Before and after</summary><div class="diff"><pre aria-label="before">${show(e.before)}</pre><pre aria-label="after">${show(e.after)}</pre></div></details></li>`,
            )}</ul>`,
      ),
  };
}
