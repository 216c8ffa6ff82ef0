//! Acting on `gatehouse_signin::next`'s answer once the first factor is known: answer the
//! request, send the browser to the second-factor step or the enrollment wizard, or refuse
//! with the OIDC error.

use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_core::OAuthError;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::User;
use gatehouse_signin::next::{self as flow, Next};
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::FirstFactor;
use gatehouse_store::SignInResult;
use time::OffsetDateTime;

use super::attempt::{self, Attempt};
use super::complete::{Context, finish};
use super::policy::Verdict;
use crate::error::PageError;
use crate::http::respond::{authorization_error, see_other};
use crate::messages::EN;
use crate::state::AppState;

fn to_client(state: &AppState, request: &AuthorizationRequest, error: &OAuthError) -> Result<Response, PageError> {
    authorization_error(state, request.redirect_uri.as_str(), request.response_mode, error, request.state.as_deref())
}

/// The error sent to the client when no allowed method can meet what the request needs.
pub fn refusal(state: &AppState, request: &AuthorizationRequest) -> Result<Response, PageError> {
    to_client(state, request, &flow::unmet_requirements())
}

/// Whether the user's organisation was terminated: nobody on its domains signs in any more.
pub fn tenant_closed(state: &AppState, user: &User) -> bool {
    state.directory.tenant_closed(user)
}

/// Answers the application with `access_denied`: the organisation's account is closed.
pub fn account_closed(state: &AppState, request: &AuthorizationRequest) -> Result<Response, PageError> {
    to_client(state, request, &flow::account_closed())
}

/// After the first factor `entry`: answer, ask for more, or refuse.
#[allow(clippy::too_many_arguments)]
pub async fn after_first_factor(
    state: &AppState,
    headers: &HeaderMap,
    mut parked: ParkedSignIn,
    user: &User,
    verdict: &Verdict,
    entry: FirstFactor,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    match flow::after_first_factor(verdict, user, &entry, now) {
        Next::Refuse => {
            state.store.delete_pending(&parked.id).await?;
            let outcome = attempt::Outcome {
                user: Some(user),
                client_id: Some(parked.request.client_id.as_str()),
                result: SignInResult::Denied,
                amr: entry.proved.amr,
                acr: None,
                decision: Some(&verdict.record),
                device_id: attempt.device_id(&state.digester, user),
                idp: entry.idp.as_deref(),
            };
            attempt::record(state, attempt, outcome, now).await?;
            refusal(state, &parked.request)
        }
        Next::Complete => {
            let context = Context { attempt, decision: Some(&verdict.record), remember_device: false, idp: entry.idp.as_deref() };
            finish(state, headers, &parked, user, entry.proved, context, now).await
        }
        Next::Ask { progress, page } => {
            if !parked.advance(state.store.as_ref(), *progress).await? {
                return Err(PageError::bad_request(EN.flow.page_expired_title, EN.flow.continued_elsewhere));
            }
            Ok(see_other(&format!("{}?request={}", page.path(), parked.id)))
        }
    }
}
