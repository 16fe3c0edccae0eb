import { html, nothing, render } from 'lit-html';
import { ApiError, type Me, api, useSession } from './api.js';
import { ago, time } from './format.js';
import { loginView } from './views/login.js';

/** A tenant's status page: signed in as a customer (or staff, with ?tenant=), or opened by a share link (#s=…). */
interface Incident {
  id: string;
  title: string;
  region?: string;
  impact: 'degraded' | 'outage';
  phase: 'investigating' | 'identified' | 'monitoring' | 'resolved';
  started_at: string;
  restored_at?: string;
  resolved_at?: string;
  restore_target?: string;
  updates: { at: string; text: string }[];
}

interface Request {
  id: string;
  title: string;
  status: string;
  opened_at: string;
  updates: { at: string; text: string }[];
}

interface Page {
  requests?: Request[];
  tenant: { id: string; name: string };
  regions: { region: string; status: 'operational' | 'degraded' | 'outage' }[];
  current?: Incident[];
  history?: Incident[];
  generated_at: string;
}

interface Link { id: string; name?: string; summary_only: boolean; created_at: string }

const root = document.getElementById('app')!;
// lit-html renders beside what is there: the static 'Loading…' goes first.
root.replaceChildren();
// The secret stays in the fragment: browsers never send it to a server, so it reaches no log and no Referer.
const shared = new URLSearchParams(location.hash.slice(1)).get('s') ?? undefined;
const tenant = new URLSearchParams(location.search).get('tenant') ?? undefined;
let me: Me | undefined;
let page: Page | undefined;
let links: Link[] | undefined;
let newLink: string | undefined;
let error = '';

const STATUS_TEXT = { operational: 'Operational', degraded: 'Degraded', outage: 'Outage' } as const;
const PHASE_TEXT = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' } as const;
const STATUS_CLASS = { operational: 'state-resolved', degraded: 'state-acknowledged', outage: 'state-open' } as const;

async function refresh(): Promise<void> {
  try {
    if (shared) {
      const res = await fetch('/v1/status/shared', { headers: { authorization: `Bearer ${shared}` } });
      const body = (await res.json()) as Page & { message?: string };
      if (!res.ok) throw new ApiError(res.status, 'error', body.message ?? res.statusText);
      page = body;
    } else {
      page = await api<Page>('GET', `/v1/status${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`);
      if (me?.role === 'customer') links = await api<Link[]>('GET', '/v1/status/links');
    }
    error = '';
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  draw();
}

const incident = (i: Incident) => html`<li class="card">
  <p><strong>${i.title}</strong></p>
  <div class="meta"><span class="badge ${i.impact === 'outage' ? 'state-open' : 'state-acknowledged'}">${i.impact}</span>
    <span class="badge">${PHASE_TEXT[i.phase]}</span> <span class="muted">since ${time(i.started_at)} (${ago(i.started_at)})</span></div>
  ${i.restored_at ? html`<p>Service restored ${time(i.restored_at)}</p>` : nothing}
  ${i.restore_target ? html`<p>We aim to restore service by <strong>${time(i.restore_target)}</strong>.</p>` : nothing}
  ${i.updates.length ? html`<ol class="timeline" aria-label="Updates">${[...i.updates].reverse().map((u) => html`<li><time datetime=${u.at}>${time(u.at)}</time> ${u.text}</li>`)}</ol>` : nothing}
</li>`;

async function createLink(e: SubmitEvent): Promise<void> {
  e.preventDefault();
  const form = e.target as HTMLFormElement;
  const data = new FormData(form);
  const made = await api<{ path: string }>('POST', '/v1/status/links', { name: String(data.get('name') || '') || undefined, summary_only: data.get('summary_only') === 'on' });
  newLink = `${location.origin}${made.path}`;
  form.reset();
  await refresh();
}

async function revoke(id: string): Promise<void> {
  await api('DELETE', `/v1/status/links/${id}`);
  await refresh();
}

async function signOut(): Promise<void> {
  await api('POST', '/v1/auth/logout').catch(() => undefined);
  location.reload();
}

function draw(): void {
  if (!page) {
    render(html`<main><h1>Service status</h1>${error ? html`<p class="error" role="alert">${error}</p>` : html`<p role="status">Loading…</p>`}</main>`, root);
    return;
  }
  render(
    html`<header><span class="brand">${page.tenant.name}</span>
        ${me ? html`<span class="who">${me.name} <button class="small" @click=${signOut}>Sign out</button></span>` : nothing}</header>
      <main>
        <h1>Service status</h1>
        ${error ? html`<p class="error" role="alert">${error}</p>` : nothing}
        <section aria-labelledby="regions-h"><h2 id="regions-h">Regions</h2>
          ${page.regions.length === 0
            ? html`<p>All systems operational.</p>`
            : html`<ul class="cards" aria-label="Regions">${page.regions.map((r) => html`<li class="card region"><strong>${r.region}</strong> <span class="badge ${STATUS_CLASS[r.status]}">${STATUS_TEXT[r.status]}</span></li>`)}</ul>`}
        </section>
        ${page.current
          ? html`<section aria-labelledby="current-h"><h2 id="current-h">Current incidents</h2>
              ${page.current.length ? html`<ul class="cards">${page.current.map(incident)}</ul>` : html`<p class="empty">No incidents right now.</p>`}</section>
            <section aria-labelledby="history-h"><h2 id="history-h">Past 30 days</h2>
              ${page.history?.length ? html`<ul class="cards">${page.history.map(incident)}</ul>` : html`<p class="empty">Nothing to report.</p>`}</section>
            ${page.requests?.length
              ? html`<section aria-labelledby="requests-h"><h2 id="requests-h">Your requests</h2><ul class="cards">${page.requests.map(
                  (r) => html`<li class="card"><p><strong>${r.title}</strong> <span class="badge">${r.status}</span></p>
                    <p class="muted">opened ${time(r.opened_at)}</p>
                    ${r.updates.length ? html`<ol class="timeline" aria-label="Updates">${[...r.updates].reverse().map((u) => html`<li><time datetime=${u.at}>${time(u.at)}</time> ${u.text}</li>`)}</ol>` : nothing}</li>`,
                )}</ul></section>`
              : nothing}`
          : nothing}
        ${links
          ? html`<section class="card" aria-labelledby="share-h"><h2 id="share-h">Share this page</h2>
              ${newLink ? html`<p class="secret" role="status">New link (shown once): <code>${newLink}</code></p>` : nothing}
              <ul>${links.map((l) => html`<li>${l.name ?? l.id} ${l.summary_only ? '(regions only)' : ''} <span class="muted">created ${ago(l.created_at)}</span>
                <button class="small" @click=${() => revoke(l.id)} aria-label="Revoke link ${l.name ?? l.id}">Revoke</button></li>`)}</ul>
              <form class="stack" @submit=${createLink}>
                <label>Name <input name="name" maxlength="200"></label>
                <label><input type="checkbox" name="summary_only"> Regions only (for a public page)</label>
                <button type="submit">Create link</button>
              </form></section>`
          : nothing}
        <p class="muted">Updated ${time(page.generated_at)}</p>
      </main>`,
    root,
  );
}

async function start(): Promise<void> {
  if (!shared) {
    try {
      me = await api<Me>('GET', '/v1/me');
      useSession(me.csrf_token, () => location.reload());
    } catch {
      const login = loginView((m) => {
        me = m;
        useSession(m.csrf_token, () => location.reload());
        void refresh();
      }, () => render(login(), root));
      render(login(), root);
      return;
    }
  }
  draw();
  await refresh();
  setInterval(() => void refresh(), 30_000);
}

void start();
