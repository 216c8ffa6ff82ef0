//! The self-service API for the signed-in user (`/api/v1/me`): list, add, confirm, rename and
//! remove second factors, and regenerate recovery codes. Called with the user's own access
//! token. Changing factors needs a fresh sign-in (within ten minutes) that used a second factor
//! when the user has one, so a password-only session can never remove a second factor; a
//! token that falls short gets an RFC 9470 `insufficient_user_authentication` challenge naming
//! `acr_values` and `max_age`, and the application signs the user in again with those.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_api::factors::{
    AppEnrollment, ConfirmFactor, EnrollmentStarted, Factor as FactorBody, FactorList, KeyEnrollment, NewFactor, PhoneEnrollment, RecoveryCodes,
    RegisterCredential, RenameFactor,
};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::factor::parse_label;
use gatehouse_core::ids::{FactorId, UserId};
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, OAuthError, OAuthErrorCode, PhoneNumber};
use gatehouse_policy::{AuthLevel, DomainPolicy};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::problem::{ManagementError, Problem};
use super::userinfo::bearer_from_header;
use crate::delivery::NotificationKind;
use crate::error::{ApiError, Challenge};
use crate::http::flow::policy::method_of;
use crate::mfa::ceremonies::{CEREMONY_LIFETIME, PendingRegistration};
use crate::mfa::{self, MfaError, credentials};
use crate::state::{AppState, now};
use crate::tokens;

/// The scope of a user's token for this API (first-party applications only).
pub const ACCOUNT_SCOPE: &str = "gatehouse:account";

/// How recent a sign-in must be to change factors.
pub const FRESH_SECONDS: u32 = 600;

type Result<T> = std::result::Result<T, ManagementError>;

/// The user behind the access token, and what their sign-in proved.
pub(super) struct Me {
    pub(super) user: Arc<User>,
    level: AuthLevel,
    auth_time: Option<i64>,
    /// The SSO session the token was issued in.
    sid: Option<String>,
}

pub(super) async fn me(state: &AppState, headers: &HeaderMap) -> Result<Me> {
    let token = bearer_from_header(headers)
        .map_err(ManagementError::Token)?
        .ok_or_else(|| ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "an access token is required"))))?;
    let claims = tokens::validate_access_token(state, token, now()).map_err(|e| ManagementError::Token(ApiError::bearer(e)))?;
    if claims.is_client_token() || !claims.has_scope(ACCOUNT_SCOPE) {
        let error = OAuthError::new(OAuthErrorCode::InsufficientScope, "this API needs a user's token with scope gatehouse:account");
        return Err(ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::Bearer, retry_after: None }));
    }
    let user = state
        .user(&UserId::new(claims.sub.clone()))
        .await?
        .ok_or_else(|| ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "the user no longer exists"))))?;
    let level = claims.acr.as_deref().and_then(AuthLevel::from_acr).unwrap_or(AuthLevel::Password);
    Ok(Me { user, level, auth_time: claims.auth_time, sid: claims.sid.clone() })
}

/// The user behind a self-service token (for other `/api/v1/me` endpoints).
pub(super) async fn signed_in_user(state: &AppState, headers: &HeaderMap) -> Result<UserId> {
    Ok(me(state, headers).await?.user.id.clone())
}

/// The user whose `gatehouse:account` token this is, and the SSO session it came from.
pub(super) async fn signed_in_session(state: &AppState, headers: &HeaderMap) -> Result<(Arc<User>, Option<String>)> {
    let me = me(state, headers).await?;
    Ok((me.user, me.sid))
}

/// The user whose `gatehouse:account` token this is.
pub(super) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Arc<User>> {
    Ok(me(state, headers).await?.user)
}

impl Me {
    /// A change to factors: the sign-in must be fresh, and have used a second factor when the
    /// user has one.
    pub(super) fn require_fresh(&self, has_factor: bool, now: OffsetDateTime) -> Result<()> {
        let fresh = self.auth_time.is_some_and(|t| now.unix_timestamp() - t <= i64::from(FRESH_SECONDS));
        if fresh && (!has_factor || self.level >= AuthLevel::Mfa) {
            return Ok(());
        }
        let (acr_values, description) = if has_factor {
            (AuthLevel::Mfa.acr(), "sign in again with a second factor to change your second factors")
        } else {
            (AuthLevel::Password.acr(), "sign in again to set up two-step verification")
        };
        let error = OAuthError::new(OAuthErrorCode::InsufficientUserAuthentication, description);
        Err(ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::BearerStepUp { acr_values, max_age: FRESH_SECONDS }, retry_after: None }))
    }
}

/// Records a change the user made to their own factors. Appended after the change (the factor
/// writes are their own transactions); a failure to record is an error the user sees.
async fn audit(state: &AppState, me: &Me, addr: IpAddr, headers: &HeaderMap, action: &str, target: &FactorId, after: Option<Value>) -> Result<()> {
    let entry = AuditEntry { after, ..super::audit_entry(format!("user:{}", me.user.id), action, format!("factor:{target}"), addr, headers) }
        .in_tenant(me.user.tenant_id.as_str());
    state.audit.append(&entry).await?;
    Ok(())
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("the body is not valid: {e}")).into())
}

fn factor_body(factor: &Factor) -> FactorBody {
    FactorBody {
        id: factor.id.as_str().to_owned(),
        kind: factor.kind.as_str().to_owned(),
        label: factor.label.clone(),
        confirmed: factor.is_confirmed(),
        created_at: factor.created_at.unix_timestamp(),
        last_used_at: factor.last_used_at.map(OffsetDateTime::unix_timestamp),
    }
}

/// What the audit trail keeps of a factor: never its label, which people fill with names.
fn factor_audit(factor: &Factor) -> Value {
    json!({ "kind": factor.kind.as_str(), "confirmed": factor.is_confirmed() })
}

async fn has_confirmed_factor(state: &AppState, user: &User) -> Result<bool> {
    Ok(state.store.factors(&user.id).await?.iter().any(Factor::is_confirmed))
}

/// `GET /api/v1/me/factors`: every factor (never a secret) and how many recovery codes are left.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let factors = state.store.factors(&me.user.id).await?;
    let left = state.store.recovery_codes_left(&me.user.id).await?;
    Ok(Json(FactorList { factors: factors.iter().map(factor_body).collect(), recovery_codes_left: left }).into_response())
}

/// `POST /api/v1/me/factors`: starts enrolling an authenticator app (returns its key and QR
/// code), a phone (sends a code to it), or a security key or passkey (returns WebAuthn
/// options and a ceremony to answer). Only methods the user's domain allows.
pub async fn add(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let now = now();
    let me = me(&state, &headers).await?;
    let request: NewFactor = parse_body(&body)?;
    let kind = FactorKind::parse(&request.kind).ok_or_else(|| Problem::bad_request("kind must be totp, sms, security_key or passkey"))?;
    let label = match &request.label {
        Some(label) => parse_label(label).ok_or_else(|| Problem::bad_request("label must be 1 to 64 characters"))?,
        None => kind.label().to_owned(),
    };
    me.require_fresh(has_confirmed_factor(&state, &me.user).await?, now)?;
    let domain = state.store.tenant_for_domain(&me.user.email.domain()).await?.map(|t| t.policy).unwrap_or_else(DomainPolicy::default);
    if !domain.configurable_methods().contains(method_of(kind)) {
        return Err(MfaError::NotAllowed.into());
    }
    let body = match (kind, request.phone) {
        (FactorKind::Totp, None) => {
            let enrollment = mfa::totp::begin(&state.factors, &me.user, &label, now).await?;
            EnrollmentStarted::App(AppEnrollment {
                factor: enrollment.factor_id.as_str().to_owned(),
                secret: enrollment.secret_text.as_str().to_owned(),
                otpauth_uri: enrollment.uri.as_str().to_owned(),
                qr_code: format!("data:image/svg+xml;base64,{}", STANDARD.encode(enrollment.qr_svg.as_bytes())),
            })
        }
        (FactorKind::Sms, Some(phone)) => {
            let phone = PhoneNumber::parse(&phone).map_err(|e| Problem::bad_request(format!("phone: {e}")))?;
            let (factor, challenge) = mfa::sms::begin(&state.factors, &me.user, phone, &label, addr, now).await?;
            EnrollmentStarted::Phone(PhoneEnrollment { factor: factor.id.as_str().to_owned(), challenge })
        }
        (FactorKind::Sms, None) => return Err(Problem::bad_request("phone is required for sms").into()),
        (FactorKind::Totp, Some(_)) => return Err(Problem::bad_request("phone belongs to sms only").into()),
        (FactorKind::SecurityKey | FactorKind::Passkey, None) => {
            let (options, ceremony_state) = credentials::begin_registration(&state.factors, &me.user).await?.options(kind, &me.user)?;
            let ceremony = gatehouse_crypto::random::id()?;
            let pending = PendingRegistration { user: me.user.id.clone(), kind, label, state: ceremony_state, expires_at: now + CEREMONY_LIFETIME };
            state.factors.services.ceremonies.park(ceremony.clone(), pending, now);
            EnrollmentStarted::Key(KeyEnrollment { ceremony, options })
        }
        (FactorKind::SecurityKey | FactorKind::Passkey, Some(_)) => return Err(Problem::bad_request("phone belongs to sms only").into()),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/v1/me/factors/webauthn`: finishes registering a security key or passkey started
/// by `POST /api/v1/me/factors` (the ceremony is used once and lives five minutes).
pub async fn register_webauthn(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let now = now();
    let me = me(&state, &headers).await?;
    let request: RegisterCredential = parse_body(&body)?;
    let pending = state.factors.services.ceremonies.take(&request.ceremony, &me.user.id, now).ok_or(MfaError::Expired)?;
    let factor =
        credentials::finish_registration(&state.factors, &me.user, pending.kind, &pending.state, &request.credential.to_string(), &pending.label, now).await?;
    audit(&state, &me, addr, &headers, "factor.add", &factor.id, Some(factor_audit(&factor))).await?;
    Ok((StatusCode::CREATED, Json(factor_body(&factor))).into_response())
}

/// `POST /api/v1/me/factors/{id}/confirm`: activates an enrolling factor with its first code.
pub async fn confirm(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let now = now();
    let me = me(&state, &headers).await?;
    let request: ConfirmFactor = parse_body(&body)?;
    let id = FactorId::new(id);
    let factor = state.store.factor(&id).await?.filter(|f| f.user_id == me.user.id && !f.is_confirmed()).ok_or(MfaError::UnknownFactor)?;
    match (factor.kind, request.challenge) {
        (FactorKind::Totp, None) => {
            mfa::totp::confirm(&state.factors, &me.user, &id, &request.code, now).await?;
        }
        (FactorKind::Sms, Some(challenge)) => mfa::sms::confirm(&state.factors, &me.user, &id, &challenge, &request.code, now).await?,
        _ => return Err(Problem::bad_request("an sms factor is confirmed with its challenge, an authenticator app without").into()),
    }
    let confirmed = state.store.factor(&id).await?.ok_or(MfaError::UnknownFactor)?;
    audit(&state, &me, addr, &headers, "factor.add", &id, Some(factor_audit(&confirmed))).await?;
    Ok(Json(factor_body(&confirmed)).into_response())
}

/// `PATCH /api/v1/me/factors/{id}`: renames a factor.
pub async fn rename(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request: RenameFactor = parse_body(&body)?;
    let label = parse_label(&request.label).ok_or_else(|| Problem::bad_request("label must be 1 to 64 characters"))?;
    let id = FactorId::new(id);
    if !state.store.rename_factor(&me.user.id, &id, &label).await? {
        return Err(MfaError::UnknownFactor.into());
    }
    mfa::notify(&state.factors, &me.user, NotificationKind::FactorRenamed { factor: id.to_string(), label: label.clone() }, now());
    let factor = state.store.factor(&id).await?.ok_or(MfaError::UnknownFactor)?;
    audit(&state, &me, addr, &headers, "factor.rename", &id, Some(json!({ "changed": ["label"] }))).await?;
    Ok(Json(factor_body(&factor)).into_response())
}

/// `DELETE /api/v1/me/factors/{id}`: removes a factor (fresh two-factor sign-in required).
pub async fn remove(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let now = now();
    let me = me(&state, &headers).await?;
    let id = FactorId::new(id);
    let factor = state.store.factor(&id).await?.filter(|f| f.user_id == me.user.id).ok_or(MfaError::UnknownFactor)?;
    me.require_fresh(has_confirmed_factor(&state, &me.user).await?, now)?;
    if !state.store.remove_factor(&me.user.id, &id).await? {
        return Err(MfaError::UnknownFactor.into());
    }
    tracing::info!(user = %me.user.id, factor = %id, "second factor removed");
    audit(&state, &me, addr, &headers, "factor.remove", &id, None).await?;
    mfa::notify(&state.factors, &me.user, NotificationKind::FactorRemoved { factor: id.to_string(), label: factor.label }, now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/me/recovery-codes`: ten new codes, shown once; the old ones stop working.
pub async fn regenerate_recovery_codes(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap) -> Result<Response> {
    let now = now();
    let me = me(&state, &headers).await?;
    if !has_confirmed_factor(&state, &me.user).await? {
        return Err(Problem::new(StatusCode::CONFLICT, "No second factor", "recovery codes back up a second factor; set one up first").into());
    }
    me.require_fresh(true, now)?;
    let codes = mfa::recovery::regenerate(&state.factors, &me.user, now).await?;
    mfa::notify(&state.factors, &me.user, NotificationKind::RecoveryCodesRegenerated, now);
    audit(&state, &me, addr, &headers, "recovery_codes.regenerate", &FactorId::new("recovery-codes"), None).await?;
    Ok(Json(RecoveryCodes { codes: codes.iter().map(|c| c.as_str().to_owned()).collect() }).into_response())
}
