import * as client from 'openid-client';

/** Where a sign-in through the identity provider stands between the redirect there and the callback. */
export interface Flow {
  state: string;
  nonce: string;
  verifier: string;
}

export interface OidcOptions {
  issuer: URL;
  clientId: string;
  clientSecret: string | undefined;
  /** `<QOSWATCH_PUBLIC_URL>/v1/auth/oidc/callback`, as registered with the provider. */
  redirectUri: URL;
}

/** Who the provider says signed in. */
export interface OidcIdentity {
  subject: string;
  email: string | undefined;
  emailVerified: boolean | undefined;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * OpenID Connect sign-in (authorization code with PKCE, state and nonce) through openid-client: discovery on first
 * use (a provider down at start does not stop the service) and again after a failure. Plain HTTP only for a
 * provider on loopback (tests, a provider beside the service).
 */
export class OidcLogin {
  private config: Promise<client.Configuration> | undefined;

  constructor(private readonly opts: OidcOptions) {}

  private configuration(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret } = this.opts;
    const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
    this.config ??= client
      .discovery(issuer, clientId, clientSecret, clientSecret === undefined ? client.None() : client.ClientSecretPost(clientSecret), insecure ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        this.config = undefined;
        throw err;
      });
    return this.config;
  }

  /** Where to send the browser, and what the callback will check. */
  async start(): Promise<{ url: URL; flow: Flow }> {
    const config = await this.configuration();
    const flow: Flow = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.opts.redirectUri.href,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url, flow };
  }

  /** Redeems the code of the callback (its query string as received) and reads the ID token's claims. */
  async finish(query: string, flow: Flow): Promise<OidcIdentity> {
    const config = await this.configuration();
    const callback = new URL(this.opts.redirectUri.href);
    callback.search = query;
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
    const id = tokens.claims()!;
    // Many providers put the email in the ID token; others (conforming to the core spec) only at userinfo.
    const claims: Record<string, unknown> = typeof id.email === 'string' ? id : await client.fetchUserInfo(config, tokens.access_token, id.sub);
    return {
      subject: id.sub,
      email: typeof claims.email === 'string' ? claims.email : undefined,
      emailVerified: typeof claims.email_verified === 'boolean' ? claims.email_verified : undefined,
    };
  }
}
