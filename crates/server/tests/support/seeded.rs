//! A server state over an in-memory store seeded with one tenant (`example.test`), one user
//! (`user@example.test`) and one confidential application (`app`, redirecting to
//! `http://127.0.0.1:9999/cb`): shared by the in-process tests and the sign-in bench, which
//! include this file by path.

use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, GrantType, RedirectUri, SigningAlg};
use gatehouse_crypto::{PasswordHasher, PasswordParams, SecretDigester};
use gatehouse_server::{AppState, ServerConfig};
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::{ImportPlan, ImportStore, TenantPlan, UserPlan};
use std::sync::Arc;

pub const EMAIL: &str = "user@example.test";
pub const PEPPER: &[u8] = b"test pepper, 32 bytes long......";

/// The seeded state, its store, and the user's password hash.
pub async fn seeded(password: &str, params: PasswordParams, configure: impl FnOnce(&mut ServerConfig)) -> (AppState, Arc<SqliteStore>, String) {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let hash = PasswordHasher::new(params).expect("hasher").hash(password).expect("hash");
    let plan = ImportPlan {
        identity_providers: vec![],
        audit: vec![],
        tenants: vec![TenantPlan {
            new_id: TenantId::new("t"),
            name: "Example".into(),
            domains: vec![EmailDomain::parse("example.test").expect("domain")],
            users: vec![UserPlan {
                new_id: UserId::new("u"),
                email: Email::parse(EMAIL).expect("email"),
                name: "User".into(),
                password_hash: Some(hash.clone()),
                roles: vec![],
                totp_secret: None,
                phone: None,
                new_factor_ids: [FactorId::new("f1"), FactorId::new("f2")],
            }],
            policy: None,
        }],
        clients: vec![Client {
            client_id: ClientId::parse("app").expect("client id"),
            name: "App".into(),
            secret_digest: Some(SecretDigester::new(PEPPER).digest("secret")),
            redirect_uris: vec![RedirectUri::parse("http://127.0.0.1:9999/cb").expect("redirect")],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_signed_response_alg: SigningAlg::RS256,
            policy: Default::default(),
            operator: false,
            scopes: vec![],
        }],
    };
    store.apply_import(&plan, time::OffsetDateTime::UNIX_EPOCH).await.expect("import");
    let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("address"), "http://127.0.0.1:8080".into());
    config.password = params;
    configure(&mut config);
    let state = AppState::new(config, store.clone(), PEPPER).await.expect("state");
    (state, store, hash)
}
