//! Acting on a policy verdict once the first factor is known: answer the request, send the
//! browser to the second-factor step or the enrollment wizard, or refuse with the OIDC error.

use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::User;
use gatehouse_core::{OAuthError, OAuthErrorCode};
use gatehouse_policy::{AuthLevel, MethodSet, Outcome};
use gatehouse_store::{PendingAuthorization, SignInResult};
use time::OffsetDateTime;

use super::attempt::{self, Attempt};
use super::complete::{Context, Proof, finish};
use super::policy::Verdict;
use super::progress::Progress;
use crate::error::PageError;
use crate::http::respond::{authorization_error, see_other};
use crate::messages::EN;
use crate::state::AppState;

/// The progress a verdict that asks for more starts from, and the page that asks; `None` when
/// the verdict asks nothing more or refuses.
pub fn progress_for(verdict: &Verdict, user: &User, first: &Proof, auth_time: OffsetDateTime) -> Option<(Progress, &'static str)> {
    let names = |methods: MethodSet| methods.iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>();
    let (level, methods, enroll, then_enroll, page) = match verdict.outcome {
        Outcome::SecondFactor { level, methods } => (level, names(methods), false, None, "/login/factor"),
        // Only a password so far, and the account already has a factor: that factor first.
        Outcome::Enroll { level, methods } if first.level == AuthLevel::Password && !verdict.existing_factors.is_empty() => {
            (AuthLevel::Mfa, names(verdict.existing_factors), false, Some((level, names(methods))), "/login/factor")
        }
        Outcome::Enroll { level, methods } => (level, names(methods), true, None, "/login/enroll"),
        Outcome::NoPrompt | Outcome::Deny { .. } => return None,
    };
    let progress = Progress {
        enroll,
        then_enroll,
        remember_device_days: verdict.remember_device_days,
        ..Progress::new(user.id.as_str(), first.amr.clone(), auth_time.unix_timestamp(), level, methods, verdict.record.clone())
    };
    Some((progress, page))
}

/// The error sent to the client when no allowed method can meet what the request needs.
pub fn refusal(state: &AppState, request: &AuthorizationRequest) -> Result<Response, PageError> {
    let error = OAuthError::new(
        OAuthErrorCode::UnmetAuthenticationRequirements,
        "no second factor allowed for this account can meet the authentication this request requires",
    );
    authorization_error(state, request.redirect_uri.as_str(), request.response_mode, &error, request.state.as_deref())
}

/// Whether the user's organisation was terminated: nobody on its domains signs in any more.
pub fn tenant_closed(state: &AppState, user: &User) -> bool {
    state.tenant_for_domain(&user.email.domain()).is_some_and(|t| !t.is_active())
}

/// Answers the application with `access_denied`: the organisation's account is closed. Only
/// said after the person proved who they are, so it reveals nothing to a stranger.
pub fn account_closed(state: &AppState, request: &AuthorizationRequest) -> Result<Response, PageError> {
    let error = OAuthError::new(OAuthErrorCode::AccessDenied, "this organisation's account is closed");
    authorization_error(state, request.redirect_uri.as_str(), request.response_mode, &error, request.state.as_deref())
}

/// After the password: answer, ask for more, or refuse.
#[allow(clippy::too_many_arguments)]
pub async fn after_first_factor(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingAuthorization,
    request: &AuthorizationRequest,
    user: &User,
    verdict: &Verdict,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    let first = Proof::password();
    if let Outcome::Deny { .. } = verdict.outcome {
        state.store.delete_pending(&pending.id).await?;
        let outcome = attempt::Outcome {
            user: Some(user),
            client_id: Some(request.client_id.as_str()),
            result: SignInResult::Denied,
            amr: first.amr,
            acr: None,
            decision: Some(&verdict.record),
            device_id: attempt.device_id(state, user),
        };
        attempt::record(state, attempt, outcome, now).await?;
        return refusal(state, request);
    }
    let Some((progress, page)) = progress_for(verdict, user, &first, now) else {
        let context = Context { attempt, decision: Some(&verdict.record), remember_device: false };
        return finish(state, headers, pending, request, user, first, context, now).await;
    };
    if !state.store.update_pending_progress(&pending.id, pending.progress.as_deref(), &progress.encode()).await? {
        return Err(PageError::bad_request(EN.flow.page_expired_title, EN.flow.continued_elsewhere));
    }
    Ok(see_other(&format!("{page}?request={}", pending.id)))
}
