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
use gatehouse_policy::SessionState;
use gatehouse_signin::parked::{FlowState, ParkedSignIn};
use gatehouse_signin::proof::FirstFactor;
use serde_json::json;

use super::ClientAddr;
use super::login::{check_csrf, expired, pending_for_browser, render_with_error};
use super::second_factor::failure;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::next;
use crate::http::flow::policy::{Ask, Observed, decide_with};
use crate::messages::messages_for;
use crate::mfa::credentials;
use crate::state::{AppState, now};

async fn load(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(ParkedSignIn, Params), PageError> {
    let form = Params::parse(body).map_err(|_| expired())?;
    let pending = pending_for_browser(state, headers, form.get("request").unwrap_or_default(), now()).await?;
    check_csrf(&form, &pending)?;
    Ok((pending, form))
}

/// `POST /login/passkey/options`: options for a discoverable-credential sign-in.
pub async fn options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let (mut pending, _) = load(&state, &headers, &body).await?;
    if pending.progress().is_ok() {
        return Err(expired());
    }
    let (options, ceremony) = match credentials::begin_passwordless(&state.factors) {
        Ok(started) => started,
        // The reason, for `webauthn.js` to show on the page.
        Err(error) => return Ok((StatusCode::BAD_REQUEST, Json(json!({ "error": failure(messages_for(&headers), &error).2 }))).into_response()),
    };
    if !pending.advance_to(state.store.as_ref(), FlowState::Started { passkey_login: Some(ceremony) }).await? {
        return Err(expired());
    }
    Ok(Json(options).into_response())
}

/// `POST /login/passkey`: verifies the assertion and continues the sign-in.
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut pending, form) = load(&state, &headers, &body).await?;
    let ceremony = pending.passkey_login().map(str::to_owned).ok_or_else(expired)?;
    // The ceremony is used once, whatever the outcome.
    if !pending.advance_to(state.store.as_ref(), FlowState::Started { passkey_login: None }).await? {
        return Err(expired());
    }
    let verified = credentials::finish_passwordless(&state.factors, &ceremony, form.get("credential").unwrap_or_default(), now).await;
    let signed_in = match verified {
        Ok(signed_in) => signed_in,
        Err(error) => {
            let m = messages_for(&headers);
            return render_with_error(&state, m, &pending, &failure(m, &error).2);
        }
    };
    let user = state.user(&signed_in.user).await?.ok_or_else(expired)?;
    let request = &pending.request;
    let client = state.client(&request.client_id).ok_or_else(expired)?;
    if next::tenant_closed(&state, &user) {
        state.store.delete_pending(&pending.id).await?;
        return next::account_closed(&state, &pending.request);
    }
    let attempt = attempt::of_request(&state, &headers, addr);
    let presented = signed_in.presented;
    let ask = Ask {
        acr_values: &request.acr_values,
        scopes: request.scopes.iter().collect(),
        max_age: request.max_age,
        session: Some(SessionState { level: presented.level, second_factor_at: Some(now) }),
    };
    let device = match attempt.device_id(&state.digester, &user) {
        Some(id) => state.store.device(&id).await?,
        None => None,
    };
    let observed = Observed { address: addr, device, failures_for_user: 0, failures_for_address: 0 };
    let tenant = state.tenant_for_domain(&user.email.domain());
    let verdict = decide_with(state.store.as_ref(), tenant.as_deref(), &user, &client, &ask, &observed, now).await?;
    // The passkey alone proved two factors; where the policy asks for more (a device-bound
    // key asked of a synced passkey), the second-factor step continues with the passkey as
    // the first factor.
    let entry = FirstFactor::passkey(presented.amr, presented.level);
    next::after_first_factor(&state, &headers, pending, &user, &verdict, entry, &attempt, now).await
}
