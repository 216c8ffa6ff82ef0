//! Declarative import files: TOML parsed into spanned values, validated into an
//! [`ImportPlan`] with errors that name the field and line, then applied in one transaction.

use anyhow::Result;
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, GrantType, PhoneNumber, RedirectUri, SigningAlg};
use gatehouse_crypto::otp::TotpSecret;
use gatehouse_crypto::{PasswordHasher, SecretDigester};
use gatehouse_policy::{AppPolicy, AppTwoFactor, DomainPolicy};
use gatehouse_store::{ImportPlan, ImportSummary, Store, TenantPlan, UserPlan};
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

pub use crate::import_spans::ImportError;
use crate::import_spans::Validator;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportFile {
    #[serde(default)]
    tenant: Vec<TenantEntry>,
    #[serde(default)]
    application: Vec<ApplicationEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantEntry {
    name: Spanned<String>,
    domains: Spanned<Vec<Spanned<String>>>,
    /// The domain policy (`[tenant.policy]`); absent leaves the current one.
    policy: Option<Spanned<DomainPolicy>>,
    #[serde(default)]
    user: Vec<UserEntry>,
    /// The tenant's own identity providers (`[[tenant.identity_provider]]`).
    #[serde(default)]
    identity_provider: Vec<crate::import_providers::ProviderEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    email: Spanned<String>,
    name: Spanned<String>,
    password: Option<Spanned<String>>,
    password_hash: Option<Spanned<String>>,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    /// Base32 TOTP secret from another provider.
    totp_secret: Option<Spanned<String>>,
    /// E.164 phone number for SMS codes.
    phone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationEntry {
    client_id: Spanned<String>,
    name: Spanned<String>,
    client_secret: Option<Spanned<String>>,
    #[serde(default)]
    redirect_uris: Vec<Spanned<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<Spanned<String>>,
    grant_types: Spanned<Vec<Spanned<String>>>,
    id_token_signed_response_alg: Option<Spanned<String>>,
    /// bypass, adaptive (default) or required.
    two_factor: Option<Spanned<AppTwoFactor>>,
    /// Scopes that need a step-up: `{ "payments:approve" = "urn:gatehouse:acr:mfa" }`.
    step_up_scopes: Option<Spanned<toml::Table>>,
    /// Acts for the instance's operators (may obtain `gatehouse:admin`).
    #[serde(default)]
    operator: bool,
    /// API scopes it may obtain for itself with client credentials.
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
}

/// Known roles. Unknown ones are refused so a typo never silently grants nothing.
const ROLES: [&str; 2] = ["admin", "operator"];

/// What a parsed file needs from the outside world to become a plan.
pub struct PlanContext<'a> {
    pub hasher: &'a PasswordHasher,
    pub digester: &'a SecretDigester,
    pub store: &'a dyn Store,
    /// Printed warnings (weak secrets) go here.
    pub warnings: &'a mut Vec<String>,
}

pub async fn plan(file: &str, text: &str, ctx: PlanContext<'_>) -> Result<ImportPlan> {
    let parsed: ImportFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text.get(..s.start).map(|t| t.matches('\n').count() + 1).unwrap_or(1)).unwrap_or(0);
        ImportError { file: file.to_owned(), line, field: "(syntax)".into(), message: e.message().to_owned() }
    })?;
    let v = Validator::new(file, text);
    let mut plan = ImportPlan::default();
    let mut tenant_names = HashSet::new();
    let mut all_domains = HashSet::new();
    let mut emails = HashSet::new();
    for tenant in &parsed.tenant {
        let name = tenant.name.get_ref().trim();
        if name.is_empty() || name.len() > 200 {
            return Err(v.error(&tenant.name, "tenant.name", "must be 1 to 200 characters").into());
        }
        if !tenant_names.insert(name.to_owned()) {
            return Err(v.error(&tenant.name, "tenant.name", format!("tenant `{name}` appears twice")).into());
        }
        if tenant.domains.get_ref().is_empty() {
            return Err(v.error(&tenant.domains, "tenant.domains", "a tenant needs at least one email domain").into());
        }
        let mut domains = Vec::new();
        for raw in tenant.domains.get_ref() {
            let domain = EmailDomain::parse(raw.get_ref()).map_err(|e| v.error(raw, "tenant.domains", e.to_string()))?;
            if !all_domains.insert(domain.clone()) {
                return Err(v.error(raw, "tenant.domains", format!("domain `{domain}` is listed twice")).into());
            }
            domains.push(domain);
        }
        let policy = match &tenant.policy {
            Some(policy) => {
                policy.get_ref().validate().map_err(|errors| {
                    let text = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                    v.error(policy, "tenant.policy", text)
                })?;
                Some(policy.get_ref().clone())
            }
            None => None,
        };
        let mut users = Vec::new();
        for user in &tenant.user {
            users.push(user_plan(&v, user, &domains, &mut emails, &ctx).await?);
        }
        let mut taken = crate::import_providers::Taken::default();
        for entry in &tenant.identity_provider {
            plan.identity_providers.push(crate::import_providers::plan(&v, entry, name, &domains, &mut taken).await?);
        }
        plan.tenants.push(TenantPlan { new_id: TenantId::new(gatehouse_crypto::random::id()?), name: name.to_owned(), domains, users, policy });
    }
    let mut client_ids = HashSet::new();
    for app in &parsed.application {
        let client = client_plan(&v, app, ctx.digester, ctx.warnings)?;
        if !client_ids.insert(client.client_id.clone()) {
            return Err(v.error(&app.client_id, "application.client_id", "this client_id appears twice").into());
        }
        plan.clients.push(client);
    }
    Ok(plan)
}

async fn user_plan(v: &Validator<'_>, user: &UserEntry, domains: &[EmailDomain], emails: &mut HashSet<String>, ctx: &PlanContext<'_>) -> Result<UserPlan> {
    let email = Email::parse(user.email.get_ref()).map_err(|e| v.error(&user.email, "tenant.user.email", e.to_string()))?;
    if !domains.contains(&email.domain()) {
        return Err(v.error(&user.email, "tenant.user.email", format!("`{}` is not on one of this tenant's domains", email.domain())).into());
    }
    if !emails.insert(email.key()) {
        return Err(v.error(&user.email, "tenant.user.email", format!("`{email}` appears twice")).into());
    }
    let name = user.name.get_ref().trim();
    if name.is_empty() || name.len() > 200 {
        return Err(v.error(&user.name, "tenant.user.name", "must be 1 to 200 characters").into());
    }
    for role in &user.roles {
        if !ROLES.contains(&role.get_ref().as_str()) {
            return Err(v.error(role, "tenant.user.roles", format!("unknown role `{}` (known: {})", role.get_ref(), ROLES.join(", "))).into());
        }
    }
    let password_hash = match (&user.password, &user.password_hash) {
        (Some(_), Some(hash)) => return Err(v.error(hash, "tenant.user.password_hash", "give password or password_hash, not both").into()),
        (Some(password), None) => {
            if let Err(problem) = gatehouse_core::password::check_new_password(password.get_ref(), email.as_str()) {
                return Err(v.error(password, "tenant.user.password", problem.to_string()).into());
            }
            // Keep the stored hash when it already matches, so re-importing changes nothing.
            let existing = ctx.store.user_by_email(&email).await?.and_then(|u| u.password_hash);
            let plain = password.get_ref().clone();
            if existing.as_deref().is_some_and(|h| ctx.hasher.verify(&plain, Some(h))) { None } else { Some(ctx.hasher.hash(&plain)?) }
        }
        (None, Some(hash)) => {
            PasswordHasher::validate_hash(hash.get_ref()).map_err(|e| match e {
                gatehouse_crypto::CryptoError::PasswordHashCost(cost) => {
                    v.error(hash, "tenant.user.password_hash", format!("costs too much to verify at each sign-in ({cost})"))
                }
                _ => v.error(hash, "tenant.user.password_hash", "must be an Argon2 PHC string ($argon2id$...)"),
            })?;
            Some(hash.get_ref().clone())
        }
        (None, None) => None,
    };
    let mut roles: Vec<String> = user.roles.iter().map(|r| r.get_ref().clone()).collect();
    roles.sort();
    roles.dedup();
    let totp_secret = match &user.totp_secret {
        Some(secret) => Some(
            TotpSecret::from_base32(secret.get_ref())
                .map_err(|_| v.error(secret, "tenant.user.totp_secret", "must be Base32 (RFC 4648) of at least 128 bits, as authenticator apps export it"))?
                .as_bytes()
                .to_vec(),
        ),
        None => None,
    };
    let phone = match &user.phone {
        Some(phone) => Some(PhoneNumber::parse(phone.get_ref()).map_err(|e| v.error(phone, "tenant.user.phone", e.to_string()))?),
        None => None,
    };
    let id = || -> Result<FactorId> { Ok(FactorId::new(gatehouse_crypto::random::id()?)) };
    Ok(UserPlan {
        new_id: UserId::new(gatehouse_crypto::random::id()?),
        email,
        name: name.to_owned(),
        password_hash,
        roles,
        totp_secret,
        phone,
        new_factor_ids: [id()?, id()?],
    })
}

fn client_plan(v: &Validator<'_>, app: &ApplicationEntry, digester: &SecretDigester, warnings: &mut Vec<String>) -> Result<Client> {
    let client_id = ClientId::parse(app.client_id.get_ref()).map_err(|e| v.error(&app.client_id, "application.client_id", e.to_string()))?;
    let name = app.name.get_ref().trim();
    if name.is_empty() || name.len() > 200 {
        return Err(v.error(&app.name, "application.name", "must be 1 to 200 characters").into());
    }
    let uris = |list: &[Spanned<String>], field: &str| -> Result<Vec<RedirectUri>, ImportError> {
        list.iter().map(|u| RedirectUri::parse(u.get_ref()).map_err(|e| v.error(u, field, e.to_string()))).collect()
    };
    let redirect_uris = uris(&app.redirect_uris, "application.redirect_uris")?;
    let post_logout_redirect_uris = uris(&app.post_logout_redirect_uris, "application.post_logout_redirect_uris")?;
    let mut grant_types = Vec::new();
    for g in app.grant_types.get_ref() {
        let grant = GrantType::parse(g.get_ref()).map_err(|e| v.error(g, "application.grant_types", e.to_string()))?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    if grant_types.is_empty() {
        return Err(v.error(&app.grant_types, "application.grant_types", "list at least one grant type").into());
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(v.error(&app.grant_types, "application.redirect_uris", "authorization_code needs at least one redirect URI").into());
    }
    if grant_types.contains(&GrantType::ClientCredentials) && app.client_secret.is_none() {
        return Err(v.error(&app.grant_types, "application.client_secret", "client_credentials needs a confidential client (a client_secret)").into());
    }
    let secret_digest = match &app.client_secret {
        Some(secret) if secret.get_ref().is_empty() => return Err(v.error(secret, "application.client_secret", "must not be empty").into()),
        Some(secret) => {
            if secret.get_ref().len() < 32 {
                warnings.push(format!(
                    "application `{client_id}`: client_secret is shorter than 32 characters; generate a strong one with `gatehouse app rotate-secret --client-id {client_id}`"
                ));
            }
            Some(digester.digest(secret.get_ref()))
        }
        None => None,
    };
    let alg = match &app.id_token_signed_response_alg {
        Some(a) => SigningAlg::parse(a.get_ref()).map_err(|e| v.error(a, "application.id_token_signed_response_alg", e.to_string()))?,
        None => SigningAlg::default(),
    };
    let mut policy = AppPolicy { two_factor: app.two_factor.as_ref().map(|t| *t.get_ref()).unwrap_or_default(), step_up_scopes: Vec::new() };
    if let Some(scopes) = &app.step_up_scopes {
        let table = toml::Value::Table(toml::Table::from_iter([("step_up_scopes".to_owned(), toml::Value::Table(scopes.get_ref().clone()))]));
        let parsed: AppPolicy = table.try_into().map_err(|e: toml::de::Error| v.error(scopes, "application.step_up_scopes", e.message().to_owned()))?;
        policy.step_up_scopes = parsed.step_up_scopes;
    }
    Ok(Client {
        client_id,
        name: name.to_owned(),
        secret_digest,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        id_token_signed_response_alg: alg,
        policy,
        operator: app.operator,
        scopes: app
            .scopes
            .iter()
            .map(|s| gatehouse_core::client::parse_api_scope(s.get_ref()).map_err(|e| v.error(s, "application.scopes", e.to_string())))
            .collect::<Result<_, _>>()?,
    })
}

pub fn describe(summary: &ImportSummary) -> String {
    format!("{} created, {} updated, {} unchanged", summary.created, summary.updated, summary.unchanged)
}
