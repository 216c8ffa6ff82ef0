// A company's own OpenID Connect provider for Gatehouse's federation tests: node's
// oidc-provider, an implementation independent of Gatehouse, with Gatehouse registered as a
// confidential client (client_secret_basic, PKCE required).
//
// There is no login form: the interaction signs in the account named by `login_hint` at once
// (or refuses with access_denied when there is none), so a scripted browser can follow the
// redirects. What each account asserts comes from ACCOUNTS:
//   { "ann@fed.test": { "claims": { "email": ..., "email_verified": true, "name": ... },
//                       "amr": ["pwd"], "step_up_amr": ["pwd", "mfa"] } }
// `step_up_amr` is asserted when the request asks for `acr_values` (a step-up);
// `"userinfo_only": true` keeps the claims out of the ID token (UserInfo gives them).
//
// Test hooks (loopback only, for the tests' eyes):
//   GET  /test/requests   every authorization request's parameters, oldest first
//   PUT  /test/accounts   replaces ACCOUNTS (a name changed upstream, say)
//
// Env: PORT, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS (JSON). Prints "listening PORT" when ready.
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.env.PORT ?? 0);
let accounts = JSON.parse(process.env.ACCOUNTS ?? "{}");
const requests = [];

const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
Object.assign(jwk, { kid: "upstream-rs256", alg: "RS256", use: "sig" });

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: "gatehouse",
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "RS256",
  }],
  jwks: { keys: [jwk] },
  scopes: ["openid", "email", "profile"],
  // `amr` and `acr` ride with `openid`, as Entra ID sends them unasked.
  claims: { openid: ["sub", "amr", "acr"], email: ["email", "email_verified"], profile: ["name"] },
  // Gatehouse reads the person from the ID token, as from Entra ID, Google and Okta.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => {
    const account = accounts[id];
    if (!account) return undefined;
    // `userinfo_only`: the person's claims are given at UserInfo, not in the ID token.
    return { accountId: id, claims: async (use) => (account.userinfo_only && use === "id_token" ? { sub: id } : { sub: id, ...account.claims }) };
  },
  // The tests sign in many times over: no rate of its own, short-lived sessions are enough.
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
});

provider.use(async (ctx, next) => {
  if (ctx.path === "/test/requests" && ctx.method === "GET") {
    ctx.body = requests;
    return;
  }
  if (ctx.path === "/test/accounts" && ctx.method === "PUT") {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    accounts = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/auth") {
    // What Gatehouse sent, as it sent it.
    const q = ctx.query;
    requests.push({
      login_hint: q.login_hint ?? null,
      acr_values: q.acr_values ?? null,
      prompt: q.prompt ?? null,
      max_age: q.max_age ?? null,
      scope: q.scope ?? null,
      code_challenge_method: q.code_challenge_method ?? null,
      has_nonce: Boolean(q.nonce),
      has_state: Boolean(q.state),
    });
    return next();
  }
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const params = details.params;
  const login = params.login_hint;
  const account = login && accounts[login];
  let result;
  if (!account) {
    result = { error: "access_denied", error_description: "no such account here" };
  } else {
    const grant = new provider.Grant({ accountId: login, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    const grantId = await grant.save();
    const amr = params.acr_values && account.step_up_amr ? account.step_up_amr : account.amr;
    result = { login: { accountId: login, amr, remember: false }, consent: { grantId } };
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
});

const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
