// node's oidc-provider configured like bench/bench.toml: one confidential client with the same
// secret and grants, ES256 signing, client credentials and introspection enabled. Access tokens
// requested with `resource=urn:bench` are ES256 JWTs (RFC 9068 style), as Gatehouse issues.
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.env.PORT ?? 18300);
const secret = process.env.CLIENT_SECRET;
const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
Object.assign(jwk, { kid: "bench-es256", alg: "ES256", use: "sig" });

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: "bench",
    client_secret: secret,
    grant_types: ["client_credentials", "authorization_code"], // refresh tokens follow from authorization_code here
    redirect_uris: ["http://127.0.0.1:9999/cb"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "ES256",
  }],
  jwks: { keys: [jwk] },
  scopes: ["openid", "read"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: "read", audience: "urn:bench", accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } }),
    },
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${port}`));
