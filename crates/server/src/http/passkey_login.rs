//! Passkey sign-in without a password (`/login/passkey`): the browser offers a discoverable
//! credential, its user handle names the account, and an assertion with user verification
//! proves two factors at once (the device, and the PIN or biometric that unlocked it). The 2FA
//! policy then decides as for any sign-in, with the passkey's level already achieved.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_policy::{Outcome, SessionState};
use gatehouse_store::PendingAuthorization;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::login::{check_csrf, expired, pending_for_browser, render_with_error};
use super::respond::see_other;
use super::second_factor::failure;
use super::{ClientAddr, authorize};
use crate::error::PageError;
use crate::messages::messages_for;
use crate::mfa::credentials;
use crate::signin::attempt::Attempt;
use crate::signin::complete::{Context, Proof, finish};
use crate::signin::next::{progress_for, refusal};
use crate::signin::policy::{Ask, Observed, decide_with};
use crate::state::{AppState, now};

/// The ceremony parked with the request before anyone is known (in the progress column).
#[derive(Serialize, Deserialize)]
struct PasskeyLogin {
    passkey_login: String,
}

async fn load(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(PendingAuthorization, Params), PageError> {
    let form = Params::parse(body).map_err(|_| expired())?;
    let pending = pending_for_browser(state, headers, form.get("request").unwrap_or_default(), now()).await?;
    check_csrf(&form, &pending)?;
    Ok((pending, form))
}

/// `POST /login/passkey/options`: options for a discoverable-credential sign-in.
pub async fn options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let (pending, _) = load(&state, &headers, &body).await?;
    let (options, ceremony) = match credentials::begin_passwordless(&state) {
        Ok(started) => started,
        // The reason, for `webauthn.js` to show on the page.
        Err(error) => return Ok((StatusCode::BAD_REQUEST, Json(json!({ "error": failure(messages_for(&headers), &error).2 }))).into_response()),
    };
    let parked = serde_json::to_string(&PasskeyLogin { passkey_login: ceremony }).map_err(|_| expired())?;
    if !state.store.update_pending_progress(&pending.id, pending.progress.as_deref(), &parked).await? {
        return Err(expired());
    }
    Ok(Json(options).into_response())
}

/// `POST /login/passkey`: verifies the assertion and continues the sign-in.
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (pending, form) = load(&state, &headers, &body).await?;
    let ceremony = pending.progress.as_deref().and_then(|p| serde_json::from_str::<PasskeyLogin>(p).ok()).ok_or_else(expired)?;
    // The ceremony is used once, whatever the outcome.
    if !state.store.update_pending_progress(&pending.id, pending.progress.as_deref(), "{}").await? {
        return Err(expired());
    }
    let pending = PendingAuthorization { progress: Some("{}".into()), ..pending };
    let verified = credentials::finish_passwordless(&state, &ceremony.passkey_login, form.get("credential").unwrap_or_default(), now).await;
    let signed_in = match verified {
        Ok(signed_in) => signed_in,
        Err(error) => {
            let m = messages_for(&headers);
            return render_with_error(&state, m, &pending, &failure(m, &error).2);
        }
    };
    let user = state.user(&signed_in.user).await?.ok_or_else(expired)?;
    let request = authorize::parse(&state, &pending.request).map_err(|_| expired())?;
    let client = state.client(&request.client_id).ok_or_else(expired)?;
    if crate::signin::next::tenant_closed(&state, &user) {
        state.store.delete_pending(&pending.id).await?;
        return crate::signin::next::account_closed(&state, &request);
    }
    let attempt = Attempt::new(&state, &headers, addr);
    let presented = signed_in.presented;
    let ask = Ask {
        acr_values: &request.acr_values,
        scopes: request.scopes.iter().collect(),
        max_age: request.max_age,
        session: Some(SessionState { level: presented.level, second_factor_at: Some(now) }),
    };
    let device = match attempt.device_id(&state, &user) {
        Some(id) => state.store.device(&id).await?,
        None => None,
    };
    let observed = Observed { address: addr, device, failures_for_user: 0, failures_for_address: 0 };
    let tenant = state.tenant_for_domain(&user.email.domain());
    let verdict = decide_with(state.store.as_ref(), tenant.as_deref(), &user, &client, &ask, &observed, now).await?;
    let proof = Proof { level: presented.level, amr: vec![presented.amr.to_owned(), "mfa".to_owned()] };
    match verdict.outcome {
        Outcome::NoPrompt => {
            let context = Context { attempt: &attempt, decision: Some(&verdict.record), remember_device: false };
            finish(&state, &headers, &pending, &request, &user, proof, context, now).await
        }
        Outcome::Deny { .. } => {
            state.store.delete_pending(&pending.id).await?;
            let outcome = crate::signin::attempt::Outcome {
                user: Some(&user),
                client_id: Some(request.client_id.as_str()),
                result: gatehouse_store::SignInResult::Denied,
                amr: proof.amr,
                acr: None,
                decision: Some(&verdict.record),
                device_id: attempt.device_id(&state, &user),
            };
            crate::signin::attempt::record(&state, &attempt, outcome, now).await?;
            refusal(&state, &request)
        }
        // A requirement the passkey does not meet (a device-bound key asked of a synced
        // passkey): continue at the second-factor step with the passkey as the first factor.
        _ => {
            let first = Proof { level: proof.level, amr: vec![presented.amr.to_owned()] };
            let (progress, page) = progress_for(&verdict, &user, &first, now).ok_or_else(expired)?;
            if !state.store.update_pending_progress(&pending.id, pending.progress.as_deref(), &progress.encode()).await? {
                return Err(expired());
            }
            Ok(see_other(&format!("{page}?request={}", pending.id)))
        }
    }
}
