// A real OpenID Connect provider (panva/node-oidc-provider, certified by the OpenID Foundation)
// for the sign-in tests: the trust's "Microsoft 365" on loopback. Not a stub of the protocol:
// discovery, JWKS, authorization code + PKCE, nonce, signed ID tokens, client authentication.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: { "issuer": "http://localhost:PORT", "port": PORT, "accounts_file": PATH,
//                "clients": [{client_id, client_secret, redirect_uris, fault?}] }
// The accounts file is read on every sign-in, so a test can move a teacher out of a group or
// disable her between two sign-ins, as the trust's IT would:
//   { "<login>": {"password", "sub", "email", "name", "groups": [...], "disabled": false} }
// A client's "fault" makes the provider corrupt the ID tokens it issues to that client (after
// signing), so the tests can show the server refusing them through the real flow:
//   "expired"        re-signed with the provider's key, exp an hour ago
//   "wrong_audience" re-signed with the provider's key, aud another application
//   "bad_signature"  payload changed after signing (the signature no longer matches)
// Prints "ready <issuer>" on stdout once listening.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { generateKeyPair, exportJWK, SignJWT, decodeProtectedHeader, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = () => JSON.parse(readFileSync(config.accounts_file, 'utf8'));
const faults = Object.fromEntries(config.clients.filter((c) => c.fault)
  .map((c) => [c.client_id, c.fault]));

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(config.issuer, {
  clients: config.clients.map(({ fault, ...c }) => ({
    response_types: ['code'], grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic', ...c,
  })),
  jwks: { keys: [signingJwk] },
  // Entra ID puts the groups claim in the ID token whatever the scopes; so does this one.
  claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,  // scope claims go in the ID token, as Entra's and Google's do
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // The trust has consented for its users (admin consent in Entra): no consent screen.
  loadExistingGrant: async (ctx) => {
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, sub) {
    const found = Object.values(accounts()).find((a) => a.sub === sub);
    if (!found) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub, email: found.email, email_verified: true, name: found.name,
        groups: found.groups || [],
      }),
    };
  },
  cookies: { keys: ['test-cookie-key-not-secret'] },
});

// Corrupt the ID token of a client with a fault, after the provider has issued it.
provider.use(async (ctx, next) => {
  await next();
  const fault = ctx.oidc?.client && faults[ctx.oidc.client.clientId];
  if (ctx.path !== '/token' || !fault || !ctx.body?.id_token) return;
  const [head, body, sig] = ctx.body.id_token.split('.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  if (fault === 'bad_signature') {
    claims.email = 'head@school.example';  // a forger's wish: someone else's address
    ctx.body.id_token = [head, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig]
      .join('.');
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  if (fault === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  if (fault === 'wrong_audience') claims.aud = 'another-app';
  const key = await importJWK(signingJwk, 'RS256');
  ctx.body.id_token = await new SignJWT(claims)
    .setProtectedHeader(decodeProtectedHeader(ctx.body.id_token)).sign(key);
});

const page = (title, inner) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${title}</title></head><body style="font-family:sans-serif;max-width:26rem;margin:3rem auto">
<h1>Trust accounts</h1>${inner}</body></html>`;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(uid, error) {
  return page('Sign in to your account', `<h2>Sign in to your account</h2>
${error ? `<p role="alert" style="color:#b00">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}">
<label>Email or login <input name="login" autofocus></label><br>
<label>Password <input name="password" type="password"></label><br>
<button type="submit">Sign in</button></form>`);
}

function readForm(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
  });
}

async function interaction(req, res) {
  const { uid } = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(loginForm(uid));
    return;
  }
  const form = await readForm(req);
  const account = accounts()[form.get('login')];
  if (!account || account.password !== form.get('password')) {
    res.writeHead(200, { 'content-type': 'text/html' }).end(
      loginForm(uid, 'Your account or password is incorrect.'));
    return;
  }
  if (account.disabled) {  // the trust's IT disabled the account: no token at all
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'this account is disabled',
    }, { mergeWithLastSubmission: false });
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: account.sub } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
    });
    return;
  }
  callback(req, res);
}).listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${config.issuer}`);
});
