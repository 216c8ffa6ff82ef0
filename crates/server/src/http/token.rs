//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh with rotation and
//! reuse detection, client credentials.

use crate::rate_limit::TOKEN_FAILURES_PER_ADDRESS;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::pkce::CodeChallenge;
use gatehouse_core::token_request::TokenGrant;
use gatehouse_core::{Client, GrantType, OAuthError, OAuthErrorCode, Scopes};
use gatehouse_store::{CodeRedemption, GrantRecord, RefreshRecord, RefreshRotation};
use serde::Serialize;
use time::OffsetDateTime;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::client_auth::{authenticate, form_params};
use crate::error::ApiError;
use crate::http::admin_api::ADMIN_SCOPE;
use crate::state::{AppState, now};
use crate::tokens;
use std::net::IpAddr;

#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    token_type: &'static str,
    pub(crate) expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

pub async fn token(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    if let Some(retry_after) = state.limits.token_failure.blocked_for(&addr, TOKEN_FAILURES_PER_ADDRESS, now) {
        state.metrics.token_errors.inc();
        return Err(ApiError::Throttled { retry_after });
    }
    let result = handle(&state, &headers, addr, &body, now).await;
    if let Err(error) = &result {
        state.metrics.token_errors.inc();
        // Only guesses count (a code, a refresh token, a client secret), not malformed requests.
        if let ApiError::OAuth { error, .. } = error
            && matches!(error.code, OAuthErrorCode::InvalidGrant | OAuthErrorCode::InvalidClient)
        {
            state.limits.token_failure.record_failure(&addr, TOKEN_FAILURES_PER_ADDRESS, now);
        }
    }
    result.map(IntoResponse::into_response)
}

pub(crate) async fn handle(state: &AppState, headers: &HeaderMap, addr: IpAddr, body: &[u8], now: OffsetDateTime) -> Result<TokenResponse, ApiError> {
    let params = form_params(headers, body)?;
    let client = authenticate(state, headers, addr, &params, false, now)?;
    let grant = TokenGrant::parse(&params)?;
    let grant_type = match &grant {
        TokenGrant::AuthorizationCode { .. } => GrantType::AuthorizationCode,
        TokenGrant::RefreshToken { .. } => GrantType::RefreshToken,
        TokenGrant::ClientCredentials { .. } => GrantType::ClientCredentials,
    };
    if !client.allows(grant_type) {
        return Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "this client may not use this grant type").into());
    }
    match grant {
        TokenGrant::AuthorizationCode { code, redirect_uri, code_verifier } => {
            let response = authorization_code(state, &client, &code, redirect_uri.as_deref(), code_verifier.as_deref(), now).await?;
            state.metrics.tokens_authorization_code.inc();
            Ok(response)
        }
        TokenGrant::RefreshToken { refresh_token, scope } => {
            let response = refresh(state, &client, &refresh_token, scope, now).await?;
            state.metrics.tokens_refresh.inc();
            Ok(response)
        }
        TokenGrant::ClientCredentials { scope } => {
            if client.is_public() {
                return Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "public clients cannot use client_credentials").into());
            }
            if scope.contains("openid") {
                return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "openid needs a user; use the authorization code grant").into());
            }
            // `gatehouse:` scopes are Gatehouse's own; only operator applications get them.
            if !scope.iter().filter(|s| s.starts_with("gatehouse:")).all(|s| client.operator && s == ADMIN_SCOPE) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "of Gatehouse's own scopes only gatehouse:admin can be granted to a client, and only to applications marked operator",
                )
                .into());
            }
            // Any other scope must be registered for this application: a token for an API the
            // application was never given is never minted.
            if let Some(unregistered) = scope.iter().find(|s| !s.starts_with("gatehouse:") && !client.scopes.iter().any(|r| r == s)) {
                return Err(OAuthError::new(OAuthErrorCode::InvalidScope, format!("scope `{unregistered}` is not registered for this application")).into());
            }
            let scope = scope.to_string();
            let (access_token, _) = tokens::mint_client_access_token(state, &client, &scope, now)?;
            state.metrics.tokens_client_credentials.inc();
            Ok(TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in: state.config.tokens.access_token.whole_seconds(),
                scope,
                id_token: None,
                refresh_token: None,
            })
        }
    }
}

fn invalid_grant(description: &'static str) -> ApiError {
    OAuthError::invalid_grant(description).into()
}

async fn revoke_family(state: &AppState, grant_id: gatehouse_core::ids::GrantId, now: OffsetDateTime) -> Result<(), ApiError> {
    state.store.revoke_grant(&grant_id, now).await?;
    state.revocations.revoke_grant(grant_id);
    Ok(())
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<TokenResponse, ApiError> {
    let digest = state.digester.digest(code);
    let (record, used) = state.store.code(&digest).await?.ok_or_else(|| invalid_grant("the authorization code is not valid"))?;
    if record.client_id != client.client_id.as_str() {
        return Err(invalid_grant("the authorization code is not valid"));
    }
    if used {
        // RFC 6749 §4.1.2: a replayed code revokes every token issued from it.
        tracing::warn!(client = %client.client_id, grant = %record.grant_id, "authorization code replayed; revoking its grant");
        state.metrics.code_replays.inc();
        revoke_family(state, record.grant_id, now).await?;
        return Err(invalid_grant("the authorization code was already used"));
    }
    // Every check happens before the code is consumed, so a bad request changes nothing.
    if record.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    let Some(redirect_uri) = redirect_uri else {
        return Err(OAuthError::invalid_request("redirect_uri is required: it was part of the authorization request").into());
    };
    if redirect_uri != record.redirect_uri {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&record.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => CodeChallenge::from_stored(challenge.clone()).verify(verifier)?,
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier without a challenge is a PKCE downgrade attempt.
        (None, Some(_)) => return Err(invalid_grant("code_verifier sent but the request had no code_challenge")),
        (None, None) => {}
    }
    match state.store.redeem_code(&digest, client.client_id.as_str(), now).await? {
        CodeRedemption::Redeemed(_) => {}
        CodeRedemption::AlreadyUsed { grant_id } => {
            // Lost a race with a concurrent redemption of the same code: treat as a replay.
            state.metrics.code_replays.inc();
            revoke_family(state, grant_id, now).await?;
            return Err(invalid_grant("the authorization code was already used"));
        }
        CodeRedemption::WrongClient | CodeRedemption::NotFound => return Err(invalid_grant("the authorization code is not valid")),
    }
    let grant = state.store.grant(&record.grant_id).await?.filter(|g| g.revoked_at.is_none()).ok_or_else(|| invalid_grant("the grant was revoked"))?;
    let scope = grant.scope.clone();
    issue_user_tokens(state, client, &grant, &scope, now).await
}

async fn refresh(state: &AppState, client: &Client, token: &str, requested: Option<Scopes>, now: OffsetDateTime) -> Result<TokenResponse, ApiError> {
    let digest = state.digester.digest(token);
    if let Some(current) = state.store.refresh_token(&digest).await? {
        if current.client_id != client.client_id.as_str() {
            return Err(invalid_grant("the refresh token was issued to another client"));
        }
        if let Some(requested) = &requested {
            let granted = Scopes::parse(&current.scope).unwrap_or_default();
            if !requested.is_subset_of(&granted) {
                return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "a refresh may not widen the scope").into());
            }
        }
    }
    let successor_secret = gatehouse_crypto::random::token()?;
    let placeholder_scope = requested.as_ref().map(ToString::to_string);
    let successor = RefreshRecord {
        digest: state.digester.digest(&successor_secret),
        grant_id: gatehouse_core::ids::GrantId::new(String::new()),
        client_id: client.client_id.as_str().to_owned(),
        scope: placeholder_scope.clone().unwrap_or_default(),
        created_at: now,
        expires_at: now + state.config.tokens.refresh_token,
    };
    let (previous, grant) = match state.store.rotate_refresh_token(&digest, &successor, now).await? {
        RefreshRotation::Rotated { previous, grant } => (previous, grant),
        RefreshRotation::Reused { grant_id } => {
            tracing::warn!(client = %client.client_id, grant = %grant_id, "refresh token reused; revoking the family");
            state.metrics.refresh_replays.inc();
            revoke_family(state, grant_id, now).await?;
            return Err(invalid_grant("the refresh token was already used"));
        }
        RefreshRotation::Invalid => return Err(invalid_grant("the refresh token is not valid")),
    };
    let scope = placeholder_scope.filter(|s| !s.is_empty()).unwrap_or(previous.scope);
    let mut response = mint(state, client, &grant, &scope, now).await?;
    response.refresh_token = Some(successor_secret);
    Ok(response)
}

async fn issue_user_tokens(state: &AppState, client: &Client, grant: &GrantRecord, scope: &str, now: OffsetDateTime) -> Result<TokenResponse, ApiError> {
    let mut response = mint(state, client, grant, scope, now).await?;
    if client.allows(GrantType::RefreshToken) {
        let secret = gatehouse_crypto::random::token()?;
        state
            .store
            .create_refresh_token(&RefreshRecord {
                digest: state.digester.digest(&secret),
                grant_id: grant.id.clone(),
                client_id: client.client_id.as_str().to_owned(),
                scope: scope.to_owned(),
                created_at: now,
                expires_at: now + state.config.tokens.refresh_token,
            })
            .await?;
        response.refresh_token = Some(secret);
    }
    Ok(response)
}

async fn mint(state: &AppState, client: &Client, grant: &GrantRecord, scope: &str, now: OffsetDateTime) -> Result<TokenResponse, ApiError> {
    let user = state.user(&grant.user_id).await?.ok_or_else(|| invalid_grant("the user no longer exists"))?;
    if crate::http::flow::next::tenant_closed(state, &user) {
        return Err(invalid_grant("this organisation's account is closed"));
    }
    let (access_token, _) = tokens::mint_user_access_token(state, grant, scope, now)?;
    let id_token = if scope.split(' ').any(|s| s == "openid") { Some(tokens::mint_id_token(state, client, &user, grant, &access_token, now)?) } else { None };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.config.tokens.access_token.whole_seconds(),
        scope: scope.to_owned(),
        id_token,
        refresh_token: None,
    })
}
