import { html } from 'lit-html';
import { ApiError, type Me, api } from '../api.js';

/** The sign-in form; `done` gets the signed-in user (with its CSRF token). */
export function loginView(done: (me: Me) => void, rerender: () => void) {
  // A single sign-on that failed comes back here saying why.
  let error = new URLSearchParams(location.search).get('signin_error') ?? '';
  let busy = false;
  let sso: { name: string; login: string } | undefined;
  void api<{ oidc?: { name: string; login: string } }>('GET', '/v1/auth/methods').then((m) => ((sso = m.oidc), rerender()), () => undefined);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    busy = true;
    error = '';
    rerender();
    try {
      done(await api<Me>('POST', '/v1/auth/login', { login: data.get('login'), password: data.get('password') }));
    } catch (err) {
      error = err instanceof ApiError && err.status === 401 ? 'Wrong user or password.' : err instanceof Error ? err.message : String(err);
      busy = false;
      rerender();
    }
  };
  return () => html`
    <main class="login">
      <h1>qoswatch</h1>
      <form @submit=${submit} aria-describedby="login-error">
        <label>User or email <input name="login" autocomplete="username" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit" ?disabled=${busy}>Sign in</button>
        <p id="login-error" class="error" role="alert">${error}</p>
      </form>
      ${sso ? html`<p class="sso"><a class="button" href=${sso.login}>Sign in with ${sso.name}</a></p>` : ''}
    </main>`;
}
