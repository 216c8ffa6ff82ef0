//! Passkey sign-in without a password (`/login/passkey`): the form and JSON around
//! `gatehouse_signin::steps::passkey` (the ceremony parked before anyone is known, the
//! assertion that names the account and proves two factors, the policy's verdict); the
//! answer then goes where every first factor's does (`flow::next`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::FirstFactor;
use gatehouse_signin::steps::passkey;
use serde_json::json;

use super::ClientAddr;
use super::login::{check_csrf, expired, pending_for_browser, render_with_error};
use super::second_factor::failure;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::next;
use crate::messages::messages_for;
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
    match passkey::options(&state.factors, &mut pending).await? {
        Ok(options) => Ok(Json(options).into_response()),
        // The reason, for `webauthn.js` to show on the page.
        Err(error) => Ok((StatusCode::BAD_REQUEST, Json(json!({ "error": failure(messages_for(&headers), &error).2 }))).into_response()),
    }
}

/// `POST /login/passkey`: verifies the assertion and continues the sign-in.
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut pending, form) = load(&state, &headers, &body).await?;
    let signed_in = match passkey::verify(&state.factors, &mut pending, form.get("credential").unwrap_or_default(), now).await? {
        Ok(signed_in) => signed_in,
        Err(error) => {
            let m = messages_for(&headers);
            return render_with_error(&state, m, &pending, &failure(m, &error).2);
        }
    };
    let user = state.user(&signed_in.user).await?.ok_or_else(expired)?;
    let client = state.client(&pending.request.client_id).ok_or_else(expired)?;
    let tenant = state.tenant_for_domain(&user.email.domain());
    if gatehouse_signin::next::tenant_closed(tenant.as_deref()) {
        state.store.delete_pending(&pending.id).await?;
        return next::account_closed(&state, &pending.request);
    }
    let attempt = attempt::of_request(&state, &headers, addr);
    let presented = signed_in.presented;
    let verdict = passkey::decide(&state.factors, tenant.as_deref(), &user, &client, &pending.request, &presented, &attempt, now).await?;
    let entry = FirstFactor::passkey(presented.amr, presented.level);
    next::after_first_factor(&state, &headers, pending, &user, &verdict, entry, &attempt, now).await
}
