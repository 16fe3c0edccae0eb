import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, createUser } from '../helpers/accounts.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, browserPerTest } from '../helpers/browser.js';
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OidcProvider } from '../helpers/oidc.js';
import { freePort } from '../helpers/ports.js';

/**
 * Single sign-on through OpenID Connect in headless Chromium: a real provider (oidc-provider) on loopback, its own
 * login and consent pages, the authorization code flow with PKCE back to the console; people are matched by their
 * verified email.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const startClosed = appsClosedAfterEach();
let provider: OidcProvider;
const browser = browserPerTest();
afterEach(async () => {
  await provider.stop();
});

async function service(): Promise<TestApp> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  provider = new OidcProvider();
  await provider.start(() => `${url}/v1/auth/oidc/callback`);
  const t = await startClosed({
    port,
    env: {
      QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, QOSWATCH_PUBLIC_URL: url, QOSWATCH_OIDC_ISSUER: provider.issuer, QOSWATCH_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
      QOSWATCH_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET, QOSWATCH_OIDC_NAME: 'Example SSO',
    },
  });
  await createUser(t.url, { id: 'rita', name: 'Rita', role: 'responder', email: 'rita@example.com' });
  return t;
}

/** Through the provider's own pages: its login form (any password) and its consent. */
async function viaProvider(page: Page, t: TestApp, login: string): Promise<void> {
  await page.goto(`${t.url}/console/`);
  await page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
  await page.waitForURL(`${provider.issuer}/**`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click(); // consent
}

describe.skipIf(!HAVE_CHROMIUM)('single sign-on (OpenID Connect) in a real browser', () => {
  it('signs in a user whose verified email the provider confirms, with a fresh session', async () => {
    const t = await service();
    const page = await browser().newPage();
    await viaProvider(page, t, 'rita');
    await page.getByRole('heading', { level: 1, name: 'Incidents' }).waitFor();
    await page.getByText('Rita').first().waitFor();
    const cookies = await browser().cookies(t.url);
    expect(cookies.find((c) => c.name === '__Host-qw_session')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    expect(cookies.find((c) => c.name === '__Host-qw_oidc'), 'the flow cookie is gone').toBeUndefined();
    expect(t.logs.join('\n')).not.toMatch(/[?&]code=(?!\[redacted\])/);
  });

  it('refuses, in words, an email no account has and an unverified one; a replayed callback does nothing', async () => {
    const t = await service();
    const page = await browser().newPage();
    await viaProvider(page, t, 'stranger');
    await page.getByText('no account here has the email stranger@example.com: ask an admin to create one').waitFor();
    await createUser(t.url, { id: 'unverified-uma', name: 'Uma', role: 'responder', email: 'unverified-uma@example.com' });
    // Signed out at the provider too: its login form comes again.
    await browser().clearCookies();
    await viaProvider(page, t, 'unverified-uma');
    await page.getByText('Example SSO gave no verified email address').waitFor();
    await page.goto(`${t.url}/v1/auth/oidc/callback?code=forged&state=forged`);
    await page.getByText('the sign-in took too long or was started in another browser').waitFor();
    expect((await browser().cookies(t.url)).find((c) => c.name === '__Host-qw_session')).toBeUndefined();
  });
});
