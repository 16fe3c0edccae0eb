import { html, nothing } from 'lit-html';
import { api, can } from '../api.js';
import { ago } from '../format.js';
import { type Ctx, type Loaded, type View, attempt, formAction, load, loaded } from './view.js';

interface Token { id: string; name?: string; created_at: string; used_at?: string }
interface User { id: string; name: string; email?: string; role: string; tenant?: string; has_password: boolean; disabled: boolean; source: string }

/** Your password and personal API tokens; admins also manage users here. */
export function accountView(ctx: Ctx): View {
  let tokens: Loaded<Token[]> = { state: 'loading' };
  let users: Loaded<User[]> = { state: 'loading' };
  let secret: string | undefined;
  const admin = can(ctx.me, 'admin');
  const refresh = async () => {
    await load(ctx, () => api<Token[]>('GET', '/v1/me/tokens'), (l) => (tokens = l));
    if (admin) await load(ctx, () => api<User[]>('GET', '/v1/users'), (l) => (users = l));
  };
  void refresh();

  const password = formAction(ctx, (f) => api('POST', '/v1/me/password', { current: f.current, password: f.password }), () => 'Password changed.');
  const newToken = formAction(ctx, async (f) => (secret = (await api<{ token: string }>('POST', '/v1/me/tokens', { name: f.name })).token), () => 'Token created: copy it now.', refresh);
  const revoke = (id: string) => async () => {
    await attempt(ctx, () => api('DELETE', `/v1/me/tokens/${id}`), 'Token revoked.');
    await refresh();
  };
  const createUser = formAction(ctx, (f) => api('POST', '/v1/users', { id: f.id, name: f.name, email: f.email, role: f.role, tenant: f.tenant, password: f.password }), (f) => `User ${f.id} created.`, refresh);
  const setRole = (id: string) => async (e: Event) => {
    await attempt(ctx, () => api('PATCH', `/v1/users/${id}`, { role: (e.target as HTMLSelectElement).value }), `Role of ${id} changed.`);
    await refresh();
  };

  return {
    title: 'Account',
    render: () => html`
      <section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Password</h2>
        <form class="stack" @submit=${password}>
          <input type="text" name="username" autocomplete="username" .value=${ctx.me.id} hidden>
          <label>Current password <input name="current" type="password" autocomplete="current-password"></label>
          <label>New password (12 characters or more) <input name="password" type="password" autocomplete="new-password" minlength="12" required></label>
          <button type="submit">Change password</button>
        </form></section>
      <section class="card" aria-labelledby="tok-h"><h2 id="tok-h">Personal API tokens</h2>
        <p class="muted">A token acts as you, with your role, for scripts and tools.</p>
        ${secret ? html`<p class="secret" role="status">New token (shown once): <code>${secret}</code></p>` : nothing}
        ${loaded(tokens, (list) => html`<ul>${list.map((t) => html`<li>${t.name ?? t.id} <span class="muted">created ${ago(t.created_at)}${t.used_at ? `, used ${ago(t.used_at)}` : ', never used'}</span>
          <button class="small" @click=${revoke(t.id)} aria-label="Revoke token ${t.name ?? t.id}">Revoke</button></li>`)}</ul>`)}
        <form class="inline" @submit=${newToken}><label>Name <input name="name" maxlength="200"></label><button type="submit">Create token</button></form>
      </section>
      ${admin
        ? html`<section class="card" aria-labelledby="users-h"><h2 id="users-h">Users</h2>
            ${loaded(users, (list) => html`<ul>${list.map((u) => html`<li>${u.name} <span class="muted">(${u.id}${u.email ? `, ${u.email}` : ''}${u.tenant ? `, tenant ${u.tenant}` : ''}${u.has_password ? '' : ', no password yet'}${u.disabled ? ', disabled' : ''})</span>
              <label class="inline">Role <select @change=${setRole(u.id)} ?disabled=${u.id === ctx.me.id}>${['viewer', 'responder', 'admin', 'customer'].map((r) => html`<option ?selected=${r === u.role}>${r}</option>`)}</select></label></li>`)}</ul>`)}
            <details><summary>New user</summary>
              <form class="stack" @submit=${createUser}>
                <label>Id <input name="id" required pattern="[a-z0-9][a-z0-9_.\\-]{0,62}"></label>
                <label>Name <input name="name" required></label>
                <label>Email <input name="email" type="email"></label>
                <label>Role <select name="role">${['viewer', 'responder', 'admin', 'customer'].map((r) => html`<option>${r}</option>`)}</select></label>
                <label>Tenant (customers) <input name="tenant"></label>
                <label>Password <input name="password" type="password" minlength="12" autocomplete="new-password"></label>
                <button type="submit">Create user</button>
              </form></details></section>`
        : nothing}`,
  };
}
