import { html, nothing, render } from 'lit-html';
import { type Me, api, can, useSession } from './api.js';
import { Live } from './live.js';
import { accountView } from './views/account.js';
import { auditView } from './views/audit.js';
import { eventsView } from './views/events.js';
import { incidentView } from './views/incident.js';
import { incidentsView } from './views/incidents.js';
import { loginView } from './views/login.js';
import { onCallView } from './views/oncall.js';
import { rulesView } from './views/rules.js';
import { silencesView } from './views/silences.js';
import { sourcesView } from './views/sources.js';
import { ticketView } from './views/ticket.js';
import { ticketsView } from './views/tickets.js';
import type { Ctx, View, ViewFactory } from './views/view.js';

const ROUTES: [RegExp, ViewFactory][] = [
  [/^\/incidents\/(\d+)$/, incidentView],
  [/^\/incidents$/, incidentsView],
  [/^\/tickets\/(\d+)$/, ticketView],
  [/^\/tickets$/, ticketsView],
  [/^\/oncall$/, onCallView],
  [/^\/silences$/, silencesView],
  [/^\/events$/, eventsView],
  [/^\/rules$/, rulesView],
  [/^\/sources$/, sourcesView],
  [/^\/audit$/, auditView],
  [/^\/account$/, accountView],
];

const NAV: [string, string][] = [
  ['#/incidents', 'Incidents'],
  ['#/tickets', 'Tickets'],
  ['#/oncall', 'On call'],
  ['#/silences', 'Silences'],
  ['#/events', 'Events'],
  ['#/rules', 'Rules'],
  ['#/sources', 'Sources'],
  ['#/audit', 'Audit'],
];

const root = document.getElementById('app')!;
// lit-html renders beside what is there: the static 'Loading…' goes first.
root.replaceChildren();
const live = new Live();
let me: Me | undefined;
let view: View | undefined;
let message: { text: string; kind: 'ok' | 'error' | 'info' } | undefined;
let messageTimer: ReturnType<typeof setTimeout> | undefined;

const ctx = (): Ctx => ({
  me: me!,
  live,
  update: draw,
  notify(text, kind = 'info') {
    message = { text, kind };
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => ((message = undefined), draw()), 8000);
    draw();
  },
});

function signedOut(): void {
  me = undefined;
  view?.dispose?.();
  view = undefined;
  live.stop();
  showLogin();
}

function showLogin(): void {
  const login = loginView((m) => {
    me = m;
    useSession(m.csrf_token, signedOut);
    start();
  }, () => render(login(), root));
  render(login(), root);
}

async function signOut(): Promise<void> {
  await api('POST', '/v1/auth/logout').catch(() => undefined);
  signedOut();
}

function route(): void {
  if (!me) return;
  const path = location.hash.replace(/^#/, '') || '/incidents';
  const match = ROUTES.map(([re, f]) => [re.exec(path), f] as const).find(([m]) => m);
  view?.dispose?.();
  view = match ? match[1](ctx(), match[0]!.slice(1)) : undefined;
  if (!match) location.hash = '#/incidents';
  draw();
  document.title = `${view?.title ?? 'qoswatch'} · qoswatch`;
  // Moving to a page moves focus to its heading, as a page load would (screen readers announce it).
  document.querySelector<HTMLElement>('main h1')?.focus();
}

function draw(): void {
  if (!me || !view) return;
  const here = `#${location.hash.replace(/^#/, '').split('/').slice(0, 2).join('/')}`;
  render(
    html`<a class="skip" href="#main">Skip to content</a>
      <header>
        <span class="brand">qoswatch</span>
        <nav aria-label="Console">
          <ul>${NAV.map(([href, label]) => html`<li><a href=${href} aria-current=${href === here ? 'page' : nothing}>${label}</a></li>`)}</ul>
        </nav>
        <span class="who"><a href="#/account">${me.name}</a> <span class="muted">(${me.role})</span>
          <span class="live ${live.connected ? 'on' : 'off'}" title=${live.connected ? 'Live updates on' : 'Live updates reconnecting'}>${live.connected ? 'live' : 'offline'}</span>
          <button class="small" @click=${signOut}>Sign out</button></span>
      </header>
      <main id="main">
        <h1 tabindex="-1">${view.title}</h1>
        <div class="message ${message?.kind ?? ''}" role="status" aria-live="polite">${message?.text ?? ''}</div>
        ${view.render()}
      </main>`,
    root,
  );
}

function start(): void {
  if (me && !can(me, 'viewer')) {
    // Customers follow their tenant on the status page, not here.
    render(html`<main class="login"><h1>qoswatch</h1><p>This console is for the support team. Your account follows its tenant's status page.</p><button @click=${signOut}>Sign out</button></main>`, root);
    return;
  }
  live.start();
  live.onState(draw);
  route();
}

window.addEventListener('hashchange', route);
api<Me>('GET', '/v1/me')
  .then((m) => {
    me = m;
    useSession(m.csrf_token, signedOut);
    start();
  })
  .catch(showLogin);
