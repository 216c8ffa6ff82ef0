//! The import fixtures the tests start servers with, and the people, passwords, TOTP secrets,
//! client secrets and callback addresses in them, so a test can sign in as someone the
//! fixture created. Tests with a fixture of their own (a console client, an extra tenant)
//! build it on one of these and start it with [`crate::support::app::spawn_with`].

/// The default fixture [`crate::support::app::spawn_app`] imports by default: Acme (Alice,
/// an admin, and Bob, password only) and the `payroll`, `spa`, `reports`, `edge` and
/// `machine` clients.
pub mod basic {
    pub const PAYROLL_SECRET: &str = "payroll-secret-0123456789-abcdefghijklmnopqrstuv";
    pub const MACHINE_SECRET: &str = "machine-secret-0123456789-abcdefghijklmnopqrstuv";
    pub const ALICE: (&str, &str) = ("alice@acme.test", "alice's long passphrase");
    pub const BOB: (&str, &str) = ("bob@acme.test", "bob's long passphrase");
    pub const PAYROLL_CB: &str = "http://127.0.0.1:9999/cb";
    pub const SPA_CB: &str = "http://127.0.0.1:9998/cb";

    pub const FIXTURE: &str = r#"
[[tenant]]
name = "Acme Oy"
domains = ["acme.test"]
  [[tenant.user]]
  email = "alice@acme.test"
  name = "Alice Example"
  password = "alice's long passphrase"
  roles = ["admin"]
  [[tenant.user]]
  email = "bob@acme.test"
  name = "Bob Example"
  password = "bob's long passphrase"

[[application]]
client_id = "payroll"
name = "Payroll"
client_secret = "payroll-secret-0123456789-abcdefghijklmnopqrstuv"
redirect_uris = ["http://127.0.0.1:9999/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9999/signed-out"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[application]]
client_id = "spa"
name = "Single-page app"
redirect_uris = ["http://127.0.0.1:9998/cb"]
grant_types = ["authorization_code", "refresh_token"]

[[application]]
client_id = "reports"
name = "Reports"
client_secret = "reports-secret-0123456789-abcdefghijklmnopqrstuv"
redirect_uris = ["http://127.0.0.1:9997/cb"]
grant_types = ["authorization_code"]
id_token_signed_response_alg = "ES256"

[[application]]
client_id = "edge"
name = "Edge"
client_secret = "edge-secret-0123456789-abcdefghijklmnopqrstuvwx"
redirect_uris = ["http://127.0.0.1:9996/cb"]
grant_types = ["authorization_code"]
id_token_signed_response_alg = "EdDSA"

[[application]]
client_id = "machine"
name = "Machine"
client_secret = "machine-secret-0123456789-abcdefghijklmnopqrstuv"
grant_types = ["client_credentials"]
scopes = ["reports:read"]
"#;
}

/// The two-factor fixture: four tenants with different 2FA policies, one password for
/// everyone ([`PASSWORD`](two_factor::PASSWORD)), known TOTP secrets, and first-party clients
/// that share one client secret.
pub mod two_factor {
    use crate::support::app::{SpawnOptions, TestApp, spawn_with};

    pub const PASSWORD: &str = "a long test passphrase";
    pub const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    pub const DAVE_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    pub const ERIN_TOTP: &str = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U";
    pub const SECRET: &str = "two-factor-secret-0123456789-abcdefghijklmnopq";

    /// acme: domain Optional (alice has TOTP and a phone; bob has nothing). globex: domain Required
    /// (dave has TOTP, carol nothing). initech: an office network 127.0.0.0/29. hooli: Required
    /// with only WebAuthn allowed. Apps: payroll Adaptive, wiki Bypass with a step-up scope, vault
    /// Required.
    pub const FIXTURE: &str = r#"
[[tenant]]
name = "Acme Oy"
domains = ["acme.test"]
  [[tenant.user]]
  email = "alice@acme.test"
  name = "Alice"
  password = "a long test passphrase"
  roles = ["admin"]
  totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
  phone = "+358401234567"
  [[tenant.user]]
  email = "bob@acme.test"
  name = "Bob"
  password = "a long test passphrase"

[[tenant]]
name = "Globex"
domains = ["globex.test"]
  [tenant.policy]
  two_factor = "required"
  allowed_methods = ["totp", "sms"]
  [[tenant.user]]
  email = "carol@globex.test"
  name = "Carol"
  password = "a long test passphrase"
  [[tenant.user]]
  email = "dave@globex.test"
  name = "Dave"
  password = "a long test passphrase"
  roles = ["admin"]
  totp_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

[[tenant]]
name = "Initech"
domains = ["initech.test"]
  [tenant.policy]
  trusted_networks = ["127.0.0.0/29"]
  [[tenant.user]]
  email = "erin@initech.test"
  name = "Erin"
  password = "a long test passphrase"
  totp_secret = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"

[[tenant]]
name = "Hooli"
domains = ["hooli.test"]
  [tenant.policy]
  two_factor = "required"
  allowed_methods = ["webauthn"]
  [[tenant.user]]
  email = "frank@hooli.test"
  name = "Frank"
  password = "a long test passphrase"

[[application]]
client_id = "payroll"
name = "Payroll"
client_secret = "two-factor-secret-0123456789-abcdefghijklmnopq"
redirect_uris = ["http://127.0.0.1:9999/cb"]
grant_types = ["authorization_code", "client_credentials"]
scopes = ["reports"]

[[application]]
client_id = "wiki"
name = "Wiki"
client_secret = "two-factor-secret-0123456789-abcdefghijklmnopq"
redirect_uris = ["http://127.0.0.1:9997/cb"]
grant_types = ["authorization_code"]
two_factor = "bypass"
operator = true
step_up_scopes = { "pages:delete" = "urn:gatehouse:acr:mfa" }

[[application]]
client_id = "ops"
name = "Operations console"
client_secret = "two-factor-secret-0123456789-abcdefghijklmnopq"
grant_types = ["client_credentials"]
operator = true
scopes = ["reports"]

[[application]]
client_id = "vault"
name = "Vault"
client_secret = "two-factor-secret-0123456789-abcdefghijklmnopq"
redirect_uris = ["http://127.0.0.1:9996/cb"]
grant_types = ["authorization_code"]
two_factor = "required"
operator = true
"#;

    /// The server with [`FIXTURE`] imported.
    pub async fn spawn() -> TestApp {
        spawn_with(SpawnOptions { fixture: FIXTURE, ..Default::default() }).await
    }

    /// The registered callback of a client of [`FIXTURE`].
    pub fn callback_of(client: &str) -> &'static str {
        match client {
            "payroll" => "http://127.0.0.1:9999/cb",
            "wiki" => "http://127.0.0.1:9997/cb",
            _ => "http://127.0.0.1:9996/cb",
        }
    }
}
