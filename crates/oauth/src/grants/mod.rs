//! The token endpoint's grants (RFC 6749 §3.2): authorization code with PKCE, refresh with
//! rotation and reuse detection, client credentials. The client is already authenticated; the
//! answer is a typed token response or a typed error, which the edge turns into JSON.

use gatehouse_core::params::Params;
use gatehouse_core::pkce::CodeChallenge;
use gatehouse_core::token_request::TokenGrant;
use gatehouse_core::{Client, GrantType, OAuthError, OAuthErrorCode, Scopes};
use gatehouse_store::{CodeRedemption, GrantRecord, RefreshRecord, RefreshRotation};
use serde::Serialize;
use time::OffsetDateTime;

use crate::context::OAuthContext;
use crate::error::{Replay, ServiceError};
use crate::tokens;

/// Gatehouse's own administration scope: only operator applications get it, by client
/// credentials or through a person's sign-in.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Tokens issued, and by which grant (the edge counts each).
#[derive(Debug)]
pub struct Issued {
    pub grant_type: GrantType,
    pub response: TokenResponse,
}

/// Answers a token request of an authenticated client from its form parameters.
pub async fn exchange(ctx: &OAuthContext<'_>, client: &Client, params: &Params, now: OffsetDateTime) -> Result<Issued, ServiceError> {
    let grant = TokenGrant::parse(params)?;
    let grant_type = match &grant {
        TokenGrant::AuthorizationCode { .. } => GrantType::AuthorizationCode,
        TokenGrant::RefreshToken { .. } => GrantType::RefreshToken,
        TokenGrant::ClientCredentials { .. } => GrantType::ClientCredentials,
    };
    if !client.allows(grant_type) {
        return Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "this client may not use this grant type").into());
    }
    let response = match grant {
        TokenGrant::AuthorizationCode { code, redirect_uri, code_verifier } => {
            authorization_code(ctx, client, &code, redirect_uri.as_deref(), code_verifier.as_deref(), now).await?
        }
        TokenGrant::RefreshToken { refresh_token, scope } => refresh(ctx, client, &refresh_token, scope, now).await?,
        TokenGrant::ClientCredentials { scope } => client_credentials(ctx, client, &scope, now)?,
    };
    Ok(Issued { grant_type, response })
}

fn client_credentials(ctx: &OAuthContext<'_>, client: &Client, scope: &Scopes, now: OffsetDateTime) -> Result<TokenResponse, ServiceError> {
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
    let (access_token, _) = tokens::mint_client_access_token(ctx, client, &scope, now)?;
    Ok(TokenResponse { access_token, token_type: "Bearer", expires_in: ctx.lifetimes.access_token.whole_seconds(), scope, id_token: None, refresh_token: None })
}

fn invalid_grant(description: &'static str) -> ServiceError {
    OAuthError::invalid_grant(description).into()
}

/// Revokes the grant of a replayed code or refresh token, in the store and in memory, and
/// answers the replay.
async fn replayed(ctx: &OAuthContext<'_>, replay: Replay, grant_id: gatehouse_core::ids::GrantId, now: OffsetDateTime) -> ServiceError {
    let revoking = match ctx.store().revoke_grant(&grant_id, now).await {
        Ok(_) => {
            ctx.directory.revocations().revoke_grant(grant_id);
            None
        }
        Err(e) => Some(e),
    };
    ServiceError::Replayed { replay, revoking }
}

async fn authorization_code(
    ctx: &OAuthContext<'_>,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<TokenResponse, ServiceError> {
    let store = ctx.store();
    let digest = ctx.digester.digest(code);
    let (record, used) = store.code(&digest).await?.ok_or_else(|| invalid_grant("the authorization code is not valid"))?;
    if record.client_id != client.client_id.as_str() {
        return Err(invalid_grant("the authorization code is not valid"));
    }
    if used {
        // RFC 6749 §4.1.2: a replayed code revokes every token issued from it.
        tracing::warn!(client = %client.client_id, grant = %record.grant_id, "authorization code replayed; revoking its grant");
        return Err(replayed(ctx, Replay::Code, record.grant_id, now).await);
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
    match store.redeem_code(&digest, client.client_id.as_str(), now).await? {
        CodeRedemption::Redeemed(_) => {}
        // Lost a race with a concurrent redemption of the same code: treat as a replay.
        CodeRedemption::AlreadyUsed { grant_id } => return Err(replayed(ctx, Replay::Code, grant_id, now).await),
        CodeRedemption::WrongClient | CodeRedemption::NotFound => return Err(invalid_grant("the authorization code is not valid")),
    }
    let grant = store.grant(&record.grant_id).await?.filter(|g| g.revoked_at.is_none()).ok_or_else(|| invalid_grant("the grant was revoked"))?;
    issue_user_tokens(ctx, client, &grant, &grant.scope, now).await
}

async fn refresh(ctx: &OAuthContext<'_>, client: &Client, token: &str, requested: Option<Scopes>, now: OffsetDateTime) -> Result<TokenResponse, ServiceError> {
    let store = ctx.store();
    let digest = ctx.digester.digest(token);
    if let Some(current) = store.refresh_token(&digest).await? {
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
        digest: ctx.digester.digest(&successor_secret),
        grant_id: gatehouse_core::ids::GrantId::new(String::new()),
        client_id: client.client_id.as_str().to_owned(),
        scope: placeholder_scope.clone().unwrap_or_default(),
        created_at: now,
        expires_at: now + ctx.lifetimes.refresh_token,
    };
    let (previous, grant) = match store.rotate_refresh_token(&digest, &successor, now).await? {
        RefreshRotation::Rotated { previous, grant } => (previous, grant),
        RefreshRotation::Reused { grant_id } => {
            tracing::warn!(client = %client.client_id, grant = %grant_id, "refresh token reused; revoking the family");
            return Err(replayed(ctx, Replay::RefreshToken, grant_id, now).await);
        }
        RefreshRotation::Invalid => return Err(invalid_grant("the refresh token is not valid")),
    };
    let scope = placeholder_scope.filter(|s| !s.is_empty()).unwrap_or(previous.scope);
    let mut response = mint(ctx, client, &grant, &scope, now).await?;
    response.refresh_token = Some(successor_secret);
    Ok(response)
}

async fn issue_user_tokens(
    ctx: &OAuthContext<'_>,
    client: &Client,
    grant: &GrantRecord,
    scope: &str,
    now: OffsetDateTime,
) -> Result<TokenResponse, ServiceError> {
    let mut response = mint(ctx, client, grant, scope, now).await?;
    if client.allows(GrantType::RefreshToken) {
        let secret = gatehouse_crypto::random::token()?;
        ctx.store()
            .create_refresh_token(&RefreshRecord {
                digest: ctx.digester.digest(&secret),
                grant_id: grant.id.clone(),
                client_id: client.client_id.as_str().to_owned(),
                scope: scope.to_owned(),
                created_at: now,
                expires_at: now + ctx.lifetimes.refresh_token,
            })
            .await?;
        response.refresh_token = Some(secret);
    }
    Ok(response)
}

async fn mint(ctx: &OAuthContext<'_>, client: &Client, grant: &GrantRecord, scope: &str, now: OffsetDateTime) -> Result<TokenResponse, ServiceError> {
    let user = ctx.directory.user(&grant.user_id).await?.ok_or_else(|| invalid_grant("the user no longer exists"))?;
    if ctx.directory.tenant_closed(&user) {
        return Err(invalid_grant("this organisation's account is closed"));
    }
    let (access_token, _) = tokens::mint_user_access_token(ctx, grant, scope, now)?;
    let id_token = if scope.split(' ').any(|s| s == "openid") { Some(tokens::mint_id_token(ctx, client, &user, grant, &access_token, now)?) } else { None };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ctx.lifetimes.access_token.whole_seconds(),
        scope: scope.to_owned(),
        id_token,
        refresh_token: None,
    })
}

#[cfg(test)]
mod tests;
