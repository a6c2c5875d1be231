// A real OpenID Connect provider for tests: panva's certified `oidc-provider` (npm 9.x), configured
// from a JSON file: node oidc_provider.mjs CONFIG.json. The config names the issuer, the port, the
// clients (PKCE always required) and the accounts with their claims (email, oid, tid, ...). The
// development interactions are on: any login name with any password signs in as that account.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = cfg.accounts;
const extra = cfg.extra_claims || [];

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  pkce: { required: () => true },
  // the id token carries the scopes' claims, as Microsoft's does (not only the userinfo endpoint)
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub', ...extra],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['mailark-test-cookie-key'] },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // first-party client: no consent screen
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'preferred_username', ...extra]);
    await grant.save();
    return grant;
  },
});
// loopback only, both families: the issuer is http://localhost:PORT, another site than the web app's 127.0.0.1
const handler = provider.callback();
http.createServer(handler).listen(cfg.port, '127.0.0.1', () => { console.log(`listening ${cfg.issuer}`); });
const v6 = http.createServer(handler);
v6.on('error', () => {});  // no IPv6 loopback here: localhost is 127.0.0.1 then
v6.listen(cfg.port, '::1');
