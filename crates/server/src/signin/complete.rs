//! Answering a parked authorization request once the user met every requirement: the SSO
//! session is created (or refreshed with the new authentication), the grant and code are
//! written with the answered request's removal in one transaction, and the browser goes back
//! to the application.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::ids::SessionId;
use gatehouse_core::model::User;
use gatehouse_policy::AuthLevel;
use gatehouse_store::{PendingAuthorization, SessionRecord, SessionWrite, SignInCompletion, SignInResult, StoreError};
use time::OffsetDateTime;

use super::attempt::{Attempt, Outcome, device_after_sign_in, event};
use crate::error::PageError;
use crate::http::{authorize, cookies};
use crate::messages::EN;
use crate::state::AppState;

/// What the user proved in this sign-in.
pub struct Proof {
    pub level: AuthLevel,
    /// RFC 8176 method references, in the order presented (`pwd`, `otp`, `mfa`...).
    pub amr: Vec<String>,
}

impl Proof {
    /// A password alone.
    pub fn password() -> Self {
        Self { level: AuthLevel::Password, amr: vec![gatehouse_core::claims::AMR_PASSWORD.to_owned()] }
    }

    /// The first factor's method plus a second factor's `method`, reaching `level`. Two proofs
    /// over one channel never make two factors: the same method twice stays one factor.
    pub fn with_second_factor(first: &str, method: &str, level: AuthLevel) -> Self {
        if first == method {
            return Self { level: AuthLevel::Password, amr: vec![first.to_owned()] };
        }
        Self { level, amr: vec![first.to_owned(), method.to_owned(), "mfa".to_owned()] }
    }
}

/// Where a sign-in came from and what was decided about it, for the history and the device.
pub struct Context<'a> {
    pub attempt: &'a Attempt,
    pub decision: Option<&'a serde_json::Value>,
    /// The user asked to remember this browser's second factor.
    pub remember_device: bool,
}

/// Writes the session, the code, the sign-in history entry and the browser's device row in one
/// transaction (one write on the password path), and redirects to the client.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingAuthorization,
    request: &AuthorizationRequest,
    user: &User,
    proof: Proof,
    context: Context<'_>,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    // Callers pass a user read after any report (the password step reads the store; a report
    // drops the cached copy the later steps read).
    if user.credentials_reset_required {
        return crate::http::password_change::park(state, pending, user, &proof, &context, now).await;
    }
    // Every step ends here: a tenant terminated while its person was mid-sign-in gets no code.
    if super::next::tenant_closed(state, user) {
        state.store.delete_pending(&pending.id).await?;
        return super::next::account_closed(state, request);
    }
    let acr = proof.level.acr().to_owned();
    let second_factor = proof.level > AuthLevel::Password;
    let amr = proof.amr;
    let existing = cookies::current_session(state, headers, now).await?;
    let secure = state.config.secure_cookies();
    // Every authentication event gets a new session secret, in the browser's existing session
    // too: a cookie stolen at password level must not gain the level proved now.
    let secret = gatehouse_crypto::random::token()?;
    let secret_digest = state.digester.digest(&secret);
    let cookie = Some(cookies::set(cookies::session_cookie_name(secure), &secret, secure, None));
    let (session, write, ended_session) = match existing {
        Some(session) if session.user_id == user.id => {
            let write = SessionWrite::Reauthenticate {
                id: session.id.clone(),
                secret_digest: secret_digest.clone(),
                auth_time: now,
                acr: acr.clone(),
                amr: amr.clone(),
            };
            (SessionRecord { secret_digest, auth_time: now, last_seen_at: now, acr, amr, ..session }, write, None)
        }
        other => {
            let session = SessionRecord {
                id: SessionId::new(gatehouse_crypto::random::id()?),
                secret_digest,
                user_id: user.id.clone(),
                created_at: now,
                last_seen_at: now,
                auth_time: now,
                acr,
                amr,
                ended_at: None,
            };
            (session.clone(), SessionWrite::Create(session), other.map(|s| s.id))
        }
    };
    let issued = authorize::new_code(state, request, &session, now)?;
    let (device, device_cookie) = device_after_sign_in(state, context.attempt, user, second_factor && context.remember_device, now)?;
    // A browser without a device cookie is new to us; the rest is looked at after the answer.
    let new_device = device_cookie.is_some();
    let outcome = Outcome {
        user: Some(user),
        client_id: Some(request.client_id.as_str()),
        result: SignInResult::Success,
        amr: session.amr.clone(),
        acr: Some(session.acr.clone()),
        decision: context.decision,
        device_id: Some(device.id.clone()),
    };
    let completion = SignInCompletion {
        ended_session,
        session: write,
        pending_id: pending.id.clone(),
        grant: issued.grant,
        code: issued.record,
        event: Some(event(context.attempt, outcome, now)?),
        device: Some(device),
    };
    let revoked = match state.store.complete_sign_in(&completion, now).await {
        Err(StoreError::Conflict(_)) => {
            return Err(PageError::bad_request(EN.flow.sign_in_ended_title, EN.flow.sign_in_ended));
        }
        other => other?,
    };
    for grant in revoked {
        state.revocations.revoke_grant(grant);
    }
    tracing::info!(user = %user.id, session = %session.id, acr = %session.acr, "sign-in succeeded");
    let event_id = completion.event.as_ref().map(|e| e.id.clone()).unwrap_or_default();
    super::novelty::after_sign_in(state, user, context.attempt, new_device, event_id, now);
    let mut response = authorize::code_response(state, request, issued.code)?;
    for cookie in [cookie, device_cookie].into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_adds_mfa_only_over_a_new_channel() {
        let pwd = Proof::password();
        assert_eq!((pwd.level, pwd.amr.clone()), (AuthLevel::Password, vec!["pwd".to_owned()]));
        let totp = Proof::with_second_factor("pwd", "otp", AuthLevel::Mfa);
        assert_eq!(totp.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(totp.level, AuthLevel::Mfa);
        let same = Proof::with_second_factor("otp", "otp", AuthLevel::Mfa);
        assert_eq!((same.level, same.amr), (AuthLevel::Password, vec!["otp".to_owned()]));
    }
}
