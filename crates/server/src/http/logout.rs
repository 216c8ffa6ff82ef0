//! RP-Initiated Logout 1.0. An invalid `id_token_hint` or an unregistered
//! `post_logout_redirect_uri` (`gatehouse_oauth::logout`) is shown as an error and never
//! redirected. Without a hint that
//! names the current session the user confirms first, so a third-party page cannot sign them
//! out (the confirmation form carries a CSRF token).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::ids::SessionId;
use gatehouse_core::params::Params;
use gatehouse_oauth::logout::{self, CheckedLogout, LogoutRefusal};
use subtle::ConstantTimeEq;
use url::Url;

use super::cookies;
use super::respond::see_other;
use super::security::{CSP_BASE, form_target};
use crate::error::PageError;
use crate::messages::{EN, messages_for};
use crate::pages::{LoggedOutPage, LogoutConfirmPage};
use crate::state::{AppState, now};

const FORWARDED: [&str; 4] = ["id_token_hint", "post_logout_redirect_uri", "state", "client_id"];

pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).map_err(|e| PageError::bad_request(EN.flow.logout_invalid_title, e.description))?;
    logout(&state, &headers, &params, false).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let params = Params::parse(&body).map_err(|e| PageError::bad_request(EN.flow.logout_invalid_title, e.description))?;
    logout(&state, &headers, &params, true).await
}

async fn logout(state: &AppState, headers: &HeaderMap, params: &Params, is_post: bool) -> Result<Response, PageError> {
    let now = now();
    let m = messages_for(headers);
    let invalid = |msg: &'static str| PageError::bad_request(m.flow.logout_invalid_title, msg);
    let checked = logout::check(&state.oauth(), params.get("id_token_hint"), params.get("client_id"), params.get("post_logout_redirect_uri"));
    let CheckedLogout { hint, redirect } = checked.map_err(|refusal| {
        invalid(match refusal {
            LogoutRefusal::BadHint => m.flow.logout_bad_hint,
            LogoutRefusal::ClientMismatch => m.flow.logout_client_mismatch,
            LogoutRefusal::RedirectNeedsClient => m.flow.logout_redirect_needs_client,
            LogoutRefusal::RedirectUnregistered => m.flow.logout_redirect_unregistered,
        })
    })?;

    let session = match cookies::current_session(state, headers, now).await? {
        Some(session) => Some(session),
        // A cross-site POST carries no SameSite=Lax cookie: the session a valid hint names by
        // `sid` is ended all the same, so its tokens do not outlive the logout.
        None => match hint.as_ref().and_then(|h| Some((h.sid.as_deref()?, h.sub.as_str()))) {
            Some((sid, sub)) => state.store.session(&SessionId::new(sid)).await?.filter(|s| s.ended_at.is_none() && s.user_id.as_str() == sub),
            None => None,
        },
    };
    if let Some(session) = &session {
        let hint_names_session = hint.as_ref().is_some_and(|h| h.sid.as_deref() == Some(session.id.as_str()) || h.sub == session.user_id.as_str());
        let confirmed = is_post
            && params.get("confirm") == Some("yes")
            && params
                .get("csrf_token")
                .zip(cookies::session_csrf(state, headers))
                .is_some_and(|(sent, expected)| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())));
        if !hint_names_session && !confirmed {
            let csrf = cookies::session_csrf(state, headers).unwrap_or_default();
            let fields = FORWARDED.iter().filter_map(|n| params.get(n).map(|v| (*n, v.to_owned()))).collect();
            let page = LogoutConfirmPage { m, csrf_token: &csrf, fields };
            let mut response = Html(page.render()?).into_response();
            let target = redirect.as_deref().map(form_target).unwrap_or_else(|| "'self'".into());
            if let Ok(v) = HeaderValue::from_str(&format!("{CSP_BASE}; form-action {target}")) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            return Ok(response);
        }
        for grant in state.store.end_session(&session.id, now).await? {
            state.revocations.revoke_grant(grant);
        }
        tracing::info!(session = %session.id, "signed out");
    }
    // A session that came through a company's provider: offer its own sign-out too.
    let provider_sign_out = match session.as_ref().and_then(|s| s.idp.as_deref()).and_then(|key| state.federation.providers.get(key)) {
        Some(provider) if redirect.is_none() => super::federated::sign_out_link(state, &provider).await,
        _ => None,
    };

    let mut response = match redirect {
        Some(uri) => {
            let mut url = Url::parse(&uri).map_err(|_| invalid(m.flow.logout_redirect_invalid))?;
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            see_other(url.as_str())
        }
        None => {
            let provider = provider_sign_out.as_ref().map(|(name, url)| (name.as_str(), url.as_str()));
            Html(LoggedOutPage { m, provider }.render()?).into_response()
        }
    };
    let secure = state.config.secure_cookies();
    response.headers_mut().append(header::SET_COOKIE, cookies::set(cookies::session_cookie_name(secure), "", secure, Some(0)));
    Ok(response)
}
