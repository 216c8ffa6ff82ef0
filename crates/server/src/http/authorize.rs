//! The authorization endpoint (GET and POST): validates the request, reuses a live SSO session
//! when it may, and otherwise parks the request and sends the browser to the sign-in page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorize::{AuthorizationRequest, AuthorizeRejection, parse_authorization_request};
use gatehouse_core::params::Params;
use gatehouse_core::session::exceeds_max_age;
use gatehouse_core::{ClientId, OAuthError, OAuthErrorCode};
use gatehouse_signin::next as flow;
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::steps::{self, session::Reuse};
use gatehouse_store::SessionRecord;
use time::OffsetDateTime;

use super::respond::{authorization_error, authorization_response, see_other};
use super::{ClientAddr, cookies};
use crate::error::PageError;
use crate::http::flow::complete::completer;
use crate::http::flow::{attempt, next, policy};
use crate::messages::EN;
use crate::rate_limit::RateLimiter;
use crate::state::{AppState, now};
use std::net::IpAddr;

pub async fn get(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let raw = query.unwrap_or_default();
    authorize(&state, &headers, addr, &raw).await
}

pub async fn post(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let is_form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(PageError::bad_request(EN.flow.request_invalid_title, EN.flow.request_not_form));
    }
    let raw = String::from_utf8(body.to_vec()).map_err(|_| PageError::bad_request(EN.flow.request_invalid_title, EN.flow.request_not_utf8))?;
    authorize(&state, &headers, addr, &raw).await
}

/// Parses a stored or incoming request string into a validated request.
pub fn parse(state: &AppState, raw: &str) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let params = Params::parse(raw.as_bytes()).map_err(AuthorizeRejection::NoRedirect)?;
    let client = params.get("client_id").and_then(|c| ClientId::parse(c).ok()).and_then(|id| state.client(&id));
    parse_authorization_request(&params, |_| client.as_deref())
}

pub fn rejection_response(state: &AppState, rejection: AuthorizeRejection) -> Result<Response, PageError> {
    match rejection {
        AuthorizeRejection::NoRedirect(error) => Err(PageError::bad_request(EN.flow.request_rejected_title, EN.flow.request_rejected.with(&error.description))),
        AuthorizeRejection::Redirect { error, redirect_uri, state: client_state, response_mode } => {
            authorization_error(state, redirect_uri.as_str(), response_mode, &error, client_state.as_deref())
        }
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap, addr: IpAddr, raw: &str) -> Result<Response, PageError> {
    let now = now();
    let request = match parse(state, raw) {
        Ok(request) => request,
        Err(rejection) => return rejection_response(state, rejection),
    };
    let error = |code: OAuthErrorCode, description: &'static str| {
        authorization_error(state, request.redirect_uri.as_str(), request.response_mode, &OAuthError::new(code, description), request.state.as_deref())
    };
    // OIDC Core §3.1.2.1: an `id_token_hint` names the user the client expects. A session of
    // another user cannot answer the request (it signs in again, or fails with prompt=none).
    let hinted_sub = match &request.id_token_hint {
        Some(hint) => match gatehouse_oauth::tokens::verify_id_token_hint(&state.oauth(), hint) {
            Some(claims) => Some(claims.sub),
            None => return error(OAuthErrorCode::InvalidRequest, "id_token_hint is not a valid ID token from this provider"),
        },
        None => None,
    };
    let session = cookies::current_session(state, headers, now)
        .await?
        .filter(|s| !exceeds_max_age(s.auth_time, request.max_age, now))
        .filter(|s| hinted_sub.as_deref().is_none_or(|sub| sub == s.user_id.as_str()));

    if request.prompt.none && session.is_none() {
        return error(OAuthErrorCode::LoginRequired, "the user is not signed in, or not as the user the request names");
    }
    // The session stands in for the password; the 2FA policy decides whether it is enough.
    let mut progress = None;
    if let Some(session) = session.filter(|_| !request.prompt.login) {
        let (Some(user), Some(client)) = (state.user(&session.user_id).await?, state.client(&request.client_id)) else {
            return Err(PageError::bad_request(EN.flow.account_unavailable_title, EN.flow.account_gone));
        };
        let attempt = attempt::of_request(state, headers, addr);
        let tenant = state.tenant_for_domain(&user.email.domain());
        let cx = policy::password_context(state);
        match steps::session::reuse(&cx, tenant.as_deref(), &user, &client, &request, &session, &attempt, now).await? {
            Reuse::SignInAgain => return error(OAuthErrorCode::LoginRequired, "this account must sign in again"),
            Reuse::AccountClosed => return next::account_closed(state, &request),
            Reuse::Refuse => return next::refusal(state, &request),
            Reuse::Complete => return issue_code(state, &request, &session, now).await,
            Reuse::InteractionRequired => return error(OAuthErrorCode::InteractionRequired, "a second factor is required to answer this request"),
            Reuse::Ask { progress: owed, page } => progress = Some((*owed, page)),
        }
    }

    // Park the request and send the browser to the sign-in page: only what Gatehouse uses,
    // and only so many per address while they live.
    count_started_sign_in(&state.limits.parking, addr, now)?;
    let (flow_secret, new_cookie) = cookies::flow_secret(state, headers)?;
    let page = progress.as_ref().map_or(flow::FlowPage::SignIn, |(_, page)| *page);
    let mut parked = ParkedSignIn::new(
        gatehouse_crypto::random::id()?,
        state.digester.digest(&flow_secret),
        gatehouse_crypto::random::token()?,
        request,
        now + state.config.tokens.pending_authorization,
        progress.map(|(owed, _)| owed),
    );
    state.store.save_pending(&parked.to_record()?).await?;
    let mut response = match bound_provider(state, &parked, page) {
        // A hint on a domain bound to its organisation's provider goes straight there.
        Some((provider, email)) => super::federated::for_email(state, headers, &mut parked, &provider, &email, super::federated::Leave::Redirect).await?,
        None => see_other(&format!("{}?request={}", page.path(), parked.id)),
    };
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Counts one more sign-in started from `addr`'s network on `limiter` (parked requests, or
/// unsolicited SAML answers), refusing once it has started as many as the limit allows.
pub(super) fn count_started_sign_in(limiter: &RateLimiter<IpAddr>, addr: IpAddr, now: OffsetDateTime) -> Result<(), PageError> {
    let host = crate::monitor::host_network(addr);
    let limit = crate::rate_limit::PARKED_PER_ADDRESS;
    if let Some(retry_after) = limiter.blocked_for(&host, limit, now) {
        return Err(PageError::too_many_requests(EN.flow.too_many_sign_ins_title, EN.flow.too_many_sign_ins.with((retry_after + 59) / 60)));
    }
    limiter.record_failure(&host, limit, now);
    Ok(())
}

/// The provider a sign-in that has proved nothing goes to without a Gatehouse page: its
/// `login_hint` is an email on a domain bound to one.
fn bound_provider(state: &AppState, parked: &ParkedSignIn, page: flow::FlowPage) -> Option<(std::sync::Arc<gatehouse_federation::Provider>, String)> {
    if page != flow::FlowPage::SignIn {
        return None;
    }
    let email = gatehouse_core::Email::parse(parked.request.login_hint.as_deref()?).ok()?;
    let provider = state.federation.providers.for_domain(&email.domain())?;
    Some((provider, email.as_str().to_owned()))
}

/// Creates the grant and a single-use code, and sends the code to the client (SSO reuse; the
/// caller has just read the session's user).
async fn issue_code(state: &AppState, request: &AuthorizationRequest, session: &SessionRecord, now: OffsetDateTime) -> Result<Response, PageError> {
    let code = steps::session::issue_code(state.store.as_ref(), &completer(state), request, session, now).await?;
    code_response(state, request, code)
}

pub fn code_response(state: &AppState, request: &AuthorizationRequest, code: String) -> Result<Response, PageError> {
    let response = authorization_response(state, request.redirect_uri.as_str(), request.response_mode, vec![("code", code)], request.state.as_deref())?;
    Ok(response.into_response())
}
