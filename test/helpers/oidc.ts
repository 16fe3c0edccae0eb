import type { Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './ports.js';

export const OIDC_CLIENT_ID = 'qoswatch-console';
export const OIDC_CLIENT_SECRET = 'oidc-client-secret-0123456789';

/**
 * A real OpenID Connect provider (panva's oidc-provider) on loopback for sign-in tests. Its development login form
 * takes any login: the account `<login>` has the email `<login>@example.com`, verified unless the login starts with
 * "unverified".
 */
export class OidcProvider {
  issuer = '';
  private server: Server | undefined;

  async start(redirectUri: (issuer: string) => string | string[]): Promise<void> {
    const port = await freePort();
    this.issuer = `http://127.0.0.1:${port}`;
    const provider = new Provider(this.issuer, {
      clients: [{ client_id: OIDC_CLIENT_ID, client_secret: OIDC_CLIENT_SECRET, redirect_uris: [redirectUri(this.issuer)].flat(), grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: !id.startsWith('unverified'), name: id }) }),
      features: { devInteractions: { enabled: true } },
    });
    this.server = provider.listen(port, '127.0.0.1');
    await new Promise<void>((resolve) => this.server!.once('listening', resolve));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    s?.closeAllConnections();
    if (s) await new Promise((resolve) => s.close(resolve));
  }
}
