//! `serve --demo`: a demo tenant, user and application, created once. The demo password is
//! random, kept in `DATA_DIR/demo-credentials.txt` (mode 0600) so it can be shown again.

use anyhow::{Context, Result};
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, GrantType, RedirectUri, SigningAlg};
use gatehouse_crypto::PasswordHasher;
use gatehouse_server::http::demo::{DEMO_CLIENT_ID, callback_uri, home_uri};
use gatehouse_store::{ImportPlan, Store, TenantPlan, UserPlan};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const DEMO_EMAIL: &str = "demo@demo.test";
const CREDENTIALS_FILE: &str = "demo-credentials.txt";

pub struct DemoCredentials {
    pub email: String,
    pub password: String,
}

fn load_or_create_password(data_dir: &Path) -> Result<(String, bool)> {
    let path = data_dir.join(CREDENTIALS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some(pw) = text.lines().find_map(|l| l.strip_prefix("password = "))
    {
        return Ok((pw.trim().to_owned(), false));
    }
    let password = gatehouse_crypto::random::id()?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "email = {DEMO_EMAIL}\npassword = {password}")?;
    Ok((password, true))
}

pub async fn ensure(store: &dyn Store, hasher: &PasswordHasher, data_dir: &Path, issuer: &str, now: time::OffsetDateTime) -> Result<DemoCredentials> {
    let (password, fresh) = load_or_create_password(data_dir)?;
    let email = Email::parse(DEMO_EMAIL)?;
    let existing = store.user_by_email(&email).await?.and_then(|u| u.password_hash);
    let password_hash = match existing {
        Some(hash) if !fresh && hasher.verify(&password, Some(&hash)) => None,
        _ => Some(hasher.hash(&password)?),
    };
    let redirect = RedirectUri::parse(&callback_uri(issuer)).context("the issuer cannot host the demo application's redirect URI")?;
    let home = RedirectUri::parse(&home_uri(issuer))?;
    let plan = ImportPlan {
        identity_providers: vec![],
        audit: vec![],
        tenants: vec![TenantPlan {
            new_id: TenantId::new(gatehouse_crypto::random::id()?),
            name: "Demo Company".into(),
            domains: vec![EmailDomain::parse("demo.test")?],
            users: vec![UserPlan {
                new_id: UserId::new(gatehouse_crypto::random::id()?),
                email,
                name: "Demo User".into(),
                password_hash,
                roles: vec!["admin".into(), "operator".into()],
                totp_secret: None,
                phone: None,
                new_factor_ids: [FactorId::new(gatehouse_crypto::random::id()?), FactorId::new(gatehouse_crypto::random::id()?)],
            }],
            policy: None,
        }],
        clients: vec![Client {
            client_id: ClientId::parse(DEMO_CLIENT_ID)?,
            name: "Demo application".into(),
            secret_digest: None,
            redirect_uris: vec![redirect],
            post_logout_redirect_uris: vec![home],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            id_token_signed_response_alg: SigningAlg::RS256,
            policy: Default::default(),
            operator: false,
            scopes: vec![],
        }],
    };
    store.apply_import(&plan, now).await?;
    Ok(DemoCredentials { email: DEMO_EMAIL.into(), password })
}
