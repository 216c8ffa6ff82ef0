//! Who calls the management API, from the bearer token: [`AdminCall`] for the admin API (an
//! operator application, an operator, or a tenant admin, with a `gatehouse:admin` token) and
//! [`AccountCall`] for `/api/v1/me` (a person with their own `gatehouse:account` token). Each
//! carries the services' context for the request and where it came from, so a handler is its
//! call and its answer. Handlers take the caller after their path and query (a malformed one is
//! a 400 whoever asks, as before) and before their body, which is read only for a caller.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use gatehouse_admin::{Account, Admin, Caches, Caller, Origin, SignedIn};
use gatehouse_core::claims::AccessTokenClaims;
use gatehouse_core::ids::{GrantId, UserId};
use gatehouse_core::{ClientId, OAuthError, OAuthErrorCode};
use gatehouse_policy::AuthLevel;
use std::sync::Arc;

use super::ClientAddr;
use super::problem::ManagementError;
use super::userinfo::bearer_from_header;
use crate::error::{ApiError, Challenge};
use crate::state::{AppState, now};

/// The scope of an operator's client-credentials token.
pub use gatehouse_oauth::ADMIN_SCOPE;
/// The scope of a user's token for the self-service API (first-party applications only).
pub const ACCOUNT_SCOPE: &str = "gatehouse:account";

type Result<T> = std::result::Result<T, ManagementError>;

/// An admin API request from an operator or a tenant admin.
pub struct AdminCall {
    pub state: AppState,
    pub caller: Caller,
    pub origin: Origin,
}

impl AdminCall {
    /// The management services' context for this request.
    pub fn admin(&self) -> Admin<'_> {
        admin(&self.state)
    }
}

impl FromRequestParts<AppState> for AdminCall {
    type Rejection = ManagementError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = caller(state, &parts.headers).await?;
        let Ok(ClientAddr(address)) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Self { state: state.clone(), caller, origin: origin(address, &parts.headers) })
    }
}

/// A self-service request from the person the token was issued to.
pub struct AccountCall {
    pub state: AppState,
    pub me: SignedIn,
    pub origin: Origin,
}

impl AccountCall {
    /// The self-service context for this request.
    pub fn account(&self) -> Account<'_> {
        Account { factors: &self.state.factors, audit: &self.state.audit, caches: &self.state, now: now() }
    }

    /// The management services, for what a person may read about themselves there.
    pub fn admin(&self) -> Admin<'_> {
        admin(&self.state)
    }
}

impl FromRequestParts<AppState> for AccountCall {
    type Rejection = ManagementError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let me = me(state, &parts.headers).await?;
        let Ok(ClientAddr(address)) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Self { state: state.clone(), me, origin: origin(address, &parts.headers) })
    }
}

/// A revoked grant or a changed account reaches the in-memory caches at once.
impl Caches for AppState {
    fn revoke_grant(&self, grant: GrantId) {
        self.revocations.revoke_grant(grant);
    }
    fn forget_user(&self, user: &UserId) {
        AppState::forget_user(self, user);
    }
}

fn admin(state: &AppState) -> Admin<'_> {
    Admin { store: state.store.as_ref(), audit: &state.audit, monitor: &state.monitor, outbox: &state.factors.services.outbox, now: now() }
}

/// Where the request came from, as the audit trail records it.
fn origin(address: std::net::IpAddr, headers: &HeaderMap) -> Origin {
    let user_agent = super::user_agent(headers);
    Origin { address, user_agent: (!user_agent.is_empty()).then_some(user_agent) }
}

fn forbidden(description: &'static str) -> ManagementError {
    let error = OAuthError::new(OAuthErrorCode::InsufficientScope, description);
    ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::Bearer, retry_after: None })
}

fn invalid_token(description: &'static str) -> ManagementError {
    ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, description)))
}

/// The claims of the request's valid access token.
fn bearer_claims(state: &AppState, headers: &HeaderMap) -> Result<Arc<AccessTokenClaims>> {
    let token = bearer_from_header(headers).map_err(ManagementError::Token)?.ok_or_else(|| invalid_token("an access token is required"))?;
    gatehouse_oauth::tokens::validate_access_token(&state.oauth(), token, now()).map_err(|e| ManagementError::Token(ApiError::bearer(e)))
}

/// An operator application, an operator or a tenant admin with a `gatehouse:admin` token.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller> {
    let claims = bearer_claims(state, headers)?;
    if claims.is_client_token() {
        let operator = state.client(&ClientId::parse(&claims.client_id).map_err(|_| forbidden("unknown client"))?).is_some_and(|c| c.operator);
        return if operator && claims.has_scope(ADMIN_SCOPE) {
            Ok(Caller::Operator { actor: format!("client:{}", claims.client_id) })
        } else {
            Err(forbidden("an operator token with scope gatehouse:admin is required"))
        };
    }
    let user = state.user(&UserId::new(claims.sub.clone())).await?.ok_or_else(|| forbidden("the user no longer exists"))?;
    if !claims.has_scope(ADMIN_SCOPE) {
        return Err(forbidden("a tenant admin's token needs scope gatehouse:admin, from a first-party application"));
    }
    if user.roles.iter().any(|r| r == "operator") {
        Ok(Caller::Operator { actor: format!("user:{}", user.id) })
    } else if user.roles.iter().any(|r| r == "admin") {
        Ok(Caller::TenantAdmin(user))
    } else {
        Err(forbidden("only tenant admins and operators may use the admin API"))
    }
}

/// The person behind a `gatehouse:account` token, and what their sign-in proved.
async fn me(state: &AppState, headers: &HeaderMap) -> Result<SignedIn> {
    let claims = bearer_claims(state, headers)?;
    if claims.is_client_token() || !claims.has_scope(ACCOUNT_SCOPE) {
        return Err(forbidden("this API needs a user's token with scope gatehouse:account"));
    }
    let user = state.user(&UserId::new(claims.sub.clone())).await?.ok_or_else(|| invalid_token("the user no longer exists"))?;
    let level = claims.acr.as_deref().and_then(AuthLevel::from_acr).unwrap_or(AuthLevel::Password);
    Ok(SignedIn { user, level, auth_time: claims.auth_time, sid: claims.sid.clone() })
}
