//! Answering a parked authorization request once the user met every requirement:
//! `gatehouse_signin::completion` builds the session, grant, code, device and history entry;
//! this writes them with the parked request's removal in one transaction, sets the cookies and
//! sends the browser back to the application.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use gatehouse_core::model::User;
use gatehouse_signin::SystemRandomness;
use gatehouse_signin::completion::{Completer, Finished};
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::Proof;
use gatehouse_store::StoreError;
use time::OffsetDateTime;

use super::attempt::Attempt;
use crate::error::PageError;
use crate::http::{authorize, cookies};
use crate::messages::EN;
use crate::state::AppState;

/// Where a sign-in came from and what was decided about it, for the history and the device.
pub struct Context<'a> {
    pub attempt: &'a Attempt,
    pub decision: Option<&'a serde_json::Value>,
    /// The user asked to remember this browser's second factor.
    pub remember_device: bool,
    /// The identity provider the first factor came through (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<&'a str>,
}

/// What finishing a sign-in needs from the server.
pub fn completer(state: &AppState) -> Completer<'_> {
    Completer { digester: &state.digester, rng: &SystemRandomness, code_lifetime: state.config.tokens.authorization_code }
}

/// Writes the session, the code, the sign-in history entry and the browser's device row in one
/// transaction (one write on the password path), and redirects to the client.
pub async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    parked: &ParkedSignIn,
    user: &User,
    proof: Proof,
    context: Context<'_>,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    // Callers pass a user read after any report (the password step reads the store; a report
    // drops the cached copy the later steps read).
    if user.credentials_reset_required {
        return crate::http::password_change::park(state, parked, user, &proof, &context, now).await;
    }
    // Every step ends here: a tenant terminated while its person was mid-sign-in gets no code.
    if super::next::tenant_closed(state, user) {
        state.store.delete_pending(&parked.id).await?;
        return super::next::account_closed(state, &parked.request);
    }
    let existing = cookies::current_session(state, headers, now).await?;
    let done = Finished {
        parked_id: &parked.id,
        request: &parked.request,
        user,
        proof,
        existing,
        attempt: context.attempt,
        decision: context.decision,
        remember_device: context.remember_device,
        idp: context.idp.map(str::to_owned),
    };
    let completion = completer(state).complete(done, now)?;
    let revoked = match state.store.complete_sign_in(&completion.write, now).await {
        Err(StoreError::Conflict(_)) => {
            return Err(PageError::bad_request(EN.flow.sign_in_ended_title, EN.flow.sign_in_ended));
        }
        other => other?,
    };
    for grant in revoked {
        state.revocations.revoke_grant(grant);
    }
    let session = &completion.session;
    tracing::info!(user = %user.id, session = %session.id, acr = %session.acr, "sign-in succeeded");
    let event_id = completion.write.event.as_ref().map(|e| e.id.clone()).unwrap_or_default();
    // A browser without a device cookie is new to us; the rest is looked at after the answer.
    let new_device = completion.new_device_token.is_some();
    super::novelty::after_sign_in(state, user, context.attempt, new_device, event_id, now);
    let secure = state.config.secure_cookies();
    let session_cookie = cookies::set(cookies::session_cookie_name(secure), &completion.session_secret, secure, None);
    let device_cookie = completion
        .new_device_token
        .as_deref()
        .map(|token| cookies::set(cookies::device_cookie_name(secure), token, secure, Some(cookies::DEVICE_COOKIE_MAX_AGE)));
    let mut response = authorize::code_response(state, &parked.request, completion.code)?;
    for cookie in [Some(session_cookie), device_cookie].into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
