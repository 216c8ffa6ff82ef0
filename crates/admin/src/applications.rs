//! Applications (operators only): listing them, registering one (a confidential one gets a
//! 256-bit secret, returned once and stored as its keyed digest) and setting its 2FA behaviour
//! (Bypass, Adaptive or Required, and the scopes that need a step-up). After a write the edge
//! reloads its in-memory clients.

use gatehouse_api::applications::{AppPolicyChanged, Application, ApplicationCreated, ApplicationList, NewApplication};
use gatehouse_core::{Client, ClientId, GrantType, RedirectUri, SigningAlg};
use gatehouse_crypto::SecretDigester;
use gatehouse_policy::{AppPolicy, AppTwoFactor};
use gatehouse_store::{ImportPlan, Store};
use serde_json::json;
use time::OffsetDateTime;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};

/// The admin console's client id: where admins and operators act, so it never skips the second
/// factor.
pub const CONSOLE_CLIENT_ID: &str = "gatehouse-console";

/// Where the console's sign-ins come back to.
pub fn console_callback_uri(issuer: &str) -> String {
    format!("{issuer}/console/callback")
}

/// The console's registration: public (no secret, PKCE), first-party (`operator`, so it may
/// ask for `gatehouse:` scopes), code flow only.
pub fn console_client(issuer: &str, policy: AppPolicy) -> Result<Client> {
    let uri = |s: String| RedirectUri::parse(&s).map_err(|e| AdminError::bad_request(format!("the issuer cannot host the console: {e}")));
    Ok(Client {
        client_id: ClientId::parse(CONSOLE_CLIENT_ID).map_err(|e| bad("client_id", &e))?,
        name: "Gatehouse console".into(),
        secret_digest: None,
        redirect_uris: vec![uri(console_callback_uri(issuer))?],
        post_logout_redirect_uris: vec![uri(format!("{issuer}/account"))?],
        grant_types: vec![GrantType::AuthorizationCode],
        id_token_signed_response_alg: SigningAlg::RS256,
        policy,
        operator: true,
        scopes: vec![],
    })
}

/// Registers the console at start-up (or updates its addresses after an issuer change),
/// keeping the 2FA behaviour an operator gave it.
pub async fn register_console(store: &dyn Store, issuer: &str, now: OffsetDateTime) -> Result<()> {
    let existing = store.clients().await?.into_iter().find(|c| c.client_id.as_str() == CONSOLE_CLIENT_ID);
    let wanted = console_client(issuer, existing.as_ref().map(|c| c.policy.clone()).unwrap_or_default())?;
    if existing.as_ref() != Some(&wanted) {
        store.apply_import(&ImportPlan { clients: vec![wanted], ..Default::default() }, now).await?;
    }
    Ok(())
}

fn bad(field: &str, e: &dyn std::fmt::Display) -> AdminError {
    AdminError::bad_request(format!("{field}: {e}"))
}

fn redirect_uris(list: &[String], field: &str) -> Result<Vec<RedirectUri>> {
    list.iter().map(|u| RedirectUri::parse(u).map_err(|e| bad(field, &e))).collect()
}

impl Admin<'_> {
    /// Every registered application (operators).
    pub async fn applications(&self, caller: &Caller) -> Result<ApplicationList> {
        caller.require_operator()?;
        let clients = self.store.clients().await?;
        let applications = clients
            .iter()
            .map(|c| Application { client_id: c.client_id.as_str().to_owned(), name: c.name.clone(), policy: c.policy.clone(), operator: c.operator })
            .collect();
        Ok(ApplicationList { applications })
    }

    /// Registers an application (operators); a confidential one gets a secret, digested with
    /// the server's pepper by `digester` and returned once.
    pub async fn create_application(&self, caller: &Caller, origin: &Origin, request: NewApplication, digester: &SecretDigester) -> Result<ApplicationCreated> {
        caller.require_operator()?;
        let client_id = ClientId::parse(&request.client_id).map_err(|e| bad("client_id", &e))?;
        if self.store.client(&client_id).await?.is_some() {
            return Err(AdminError::conflict(format!("client_id {client_id} is taken")));
        }
        let grant_types: Vec<GrantType> = request.grant_types.iter().map(|g| GrantType::parse(g).map_err(|e| bad("grant_types", &e))).collect::<Result<_>>()?;
        if grant_types.is_empty() {
            return Err(AdminError::bad_request("grant_types: at least one"));
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && request.redirect_uris.is_empty() {
            return Err(AdminError::bad_request("redirect_uris: the authorization code grant needs at least one"));
        }
        let name = request.name.trim();
        if name.is_empty() {
            return Err(AdminError::bad_request("name must not be empty"));
        }
        let secret = request.confidential.then(gatehouse_crypto::random::token).transpose()?;
        let client = Client {
            client_id: client_id.clone(),
            name: name.to_owned(),
            secret_digest: secret.as_deref().map(|s| digester.digest(s)),
            redirect_uris: redirect_uris(&request.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: redirect_uris(&request.post_logout_redirect_uris, "post_logout_redirect_uris")?,
            grant_types,
            id_token_signed_response_alg: match &request.id_token_signed_response_alg {
                Some(alg) => SigningAlg::parse(alg).map_err(|e| bad("id_token_signed_response_alg", &e))?,
                None => SigningAlg::default(),
            },
            policy: request.policy,
            operator: false,
            scopes: request.scopes.iter().map(|s| gatehouse_core::client::parse_api_scope(s).map_err(|e| bad("scopes", &e))).collect::<Result<_>>()?,
        };
        // Never the secret: only whether the application has one.
        let after = json!({
            "name": client.name,
            "redirect_uris": client.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "confidential": client.secret_digest.is_some(),
            "policy": client.policy,
            "scopes": client.scopes,
        });
        let audit = caller.audit(origin, self.now, "application.create", format!("client:{client_id}"), None, Some(after));
        self.apply(ImportPlan { clients: vec![client], ..Default::default() }, audit).await?;
        tracing::info!(client = %client_id, "application registered");
        Ok(ApplicationCreated { client_id: client_id.as_str().to_owned(), client_secret: secret })
    }

    /// Sets an application's 2FA behaviour (operators). The console cannot bypass it.
    pub async fn put_app_policy(&self, caller: &Caller, origin: &Origin, client_id: &ClientId, policy: AppPolicy) -> Result<AppPolicyChanged> {
        caller.require_operator()?;
        if client_id.as_str() == CONSOLE_CLIENT_ID && policy.two_factor == AppTwoFactor::Bypass {
            return Err(AdminError::Conflict {
                title: "Not allowed",
                detail: "the Gatehouse console cannot bypass two-step verification; choose adaptive or required".into(),
            });
        }
        let before = self.store.client(client_id).await?.and_then(|c| serde_json::to_value(&c.policy).ok());
        let audit = caller.audit(origin, self.now, "application.policy.update", format!("client:{client_id}"), before, serde_json::to_value(&policy).ok());
        if !self.store.set_app_policy(client_id, &policy, &audit).await? {
            return Err(AdminError::NotFound("no such application"));
        }
        tracing::info!(client = %client_id, two_factor = policy.two_factor.as_str(), "application policy changed");
        Ok(AppPolicyChanged { client_id: client_id.as_str().to_owned(), policy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Fixture, origin};

    fn registration(client_id: &str, grant_types: &[&str], redirect_uris: &[&str]) -> NewApplication {
        NewApplication {
            client_id: client_id.into(),
            name: "Payroll".into(),
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            post_logout_redirect_uris: vec![],
            grant_types: grant_types.iter().map(|g| (*g).to_owned()).collect(),
            confidential: true,
            id_token_signed_response_alg: None,
            policy: AppPolicy::default(),
            scopes: vec![],
        }
    }

    #[tokio::test]
    async fn applications_are_registered_by_operators_with_a_secret_returned_once() {
        let fx = Fixture::new().await;
        let digester = SecretDigester::new(b"pepper");
        let request = registration("payroll", &["authorization_code"], &["https://payroll.test/cb"]);
        let refused = fx.admin().create_application(&fx.tenant_admin().await, &origin(), request.clone(), &digester).await;
        assert!(matches!(refused, Err(AdminError::Forbidden { title: "Operators only", .. })));
        assert!(matches!(fx.admin().applications(&fx.tenant_admin().await).await, Err(AdminError::Forbidden { .. })));
        let created = fx.admin().create_application(&Fixture::operator(), &origin(), request.clone(), &digester).await.unwrap();
        let secret = created.client_secret.unwrap();
        let stored = fx.store.client(&ClientId::parse("payroll").unwrap()).await.unwrap().unwrap();
        assert_eq!(stored.secret_digest, Some(digester.digest(&secret)), "only the digest is kept");
        let again = fx.admin().create_application(&Fixture::operator(), &origin(), request, &digester).await;
        assert!(matches!(again, Err(AdminError::Conflict { .. })), "the client_id is taken");
    }

    #[tokio::test]
    async fn invalid_registrations_are_refused() {
        let fx = Fixture::new().await;
        let digester = SecretDigester::new(b"pepper");
        let create = |request| async { fx.admin().create_application(&Fixture::operator(), &origin(), request, &digester).await };
        assert!(matches!(create(registration("payroll", &[], &[])).await, Err(AdminError::BadRequest(d)) if d.starts_with("grant_types")));
        assert!(
            matches!(create(registration("payroll", &["authorization_code"], &[])).await, Err(AdminError::BadRequest(d)) if d.starts_with("redirect_uris"))
        );
        assert!(matches!(create(registration("payroll", &["password"], &[])).await, Err(AdminError::BadRequest(_))));
        let unnamed = NewApplication { name: " ".into(), ..registration("payroll", &["client_credentials"], &[]) };
        assert!(matches!(create(unnamed).await, Err(AdminError::BadRequest(d)) if d.starts_with("name")));
        assert!(matches!(create(registration("", &["client_credentials"], &[])).await, Err(AdminError::BadRequest(d)) if d.starts_with("client_id")));
    }

    #[tokio::test]
    async fn the_console_never_bypasses_two_step_verification() {
        let fx = Fixture::new().await;
        let bypass = AppPolicy { two_factor: AppTwoFactor::Bypass, ..AppPolicy::default() };
        let console = ClientId::parse(CONSOLE_CLIENT_ID).unwrap();
        let refused = fx.admin().put_app_policy(&Fixture::operator(), &origin(), &console, bypass.clone()).await;
        assert!(matches!(refused, Err(AdminError::Conflict { title: "Not allowed", .. })));
        let missing = fx.admin().put_app_policy(&Fixture::operator(), &origin(), &ClientId::parse("nope").unwrap(), bypass.clone()).await;
        assert!(matches!(missing, Err(AdminError::NotFound("no such application"))));
        let by_admin = fx.admin().put_app_policy(&fx.tenant_admin().await, &origin(), &ClientId::parse("nope").unwrap(), bypass).await;
        assert!(matches!(by_admin, Err(AdminError::Forbidden { .. })));
    }
}
