//! Sending an authorization response (success or error) back to the client: as query
//! parameters on a 303 redirect, or as an auto-submitted form (OAuth 2.0 Form Post Response
//! Mode). Both carry `iss` (RFC 9207) against mix-up attacks.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::OAuthError;
use gatehouse_core::authorize::ResponseMode;
use url::Url;

use super::security::{CSP_BASE, form_target};
use crate::error::PageError;
use crate::messages::EN;
use crate::pages::FormPostPage;
use crate::state::AppState;

pub fn authorization_response(
    state: &AppState,
    redirect_uri: &str,
    mode: ResponseMode,
    mut params: Vec<(&'static str, String)>,
    client_state: Option<&str>,
) -> Result<Response, PageError> {
    if let Some(s) = client_state {
        params.push(("state", s.to_owned()));
    }
    params.push(("iss", state.config.issuer.clone()));
    match mode {
        ResponseMode::Query => {
            let mut url = Url::parse(redirect_uri).map_err(|_| PageError::bad_request(EN.flow.redirect_invalid_title, EN.flow.redirect_invalid))?;
            {
                let mut pairs = url.query_pairs_mut();
                for (name, value) in &params {
                    pairs.append_pair(name, value);
                }
            }
            Ok(see_other(url.as_str()))
        }
        ResponseMode::FormPost => auto_post(redirect_uri, params),
    }
}

/// A page whose form posts `fields` to `action` at once (its script submits it; without
/// script, a button does), with a `form-action` policy that allows that target alone.
pub fn auto_post(action: &str, fields: Vec<(&'static str, String)>) -> Result<Response, PageError> {
    // Answers any step of the flow; no request headers reach here to choose a language by.
    let page = FormPostPage { m: &EN, action, fields };
    let mut response = Html(page.render()?).into_response();
    let csp = format!("{CSP_BASE}; form-action {}", form_target(action));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

pub fn authorization_error(
    state: &AppState,
    redirect_uri: &str,
    mode: ResponseMode,
    error: &OAuthError,
    client_state: Option<&str>,
) -> Result<Response, PageError> {
    let params = vec![("error", error.code.as_str().to_owned()), ("error_description", error.description.to_string())];
    authorization_response(state, redirect_uri, mode, params, client_state)
}

/// 303 See Other: after a POST the browser follows with GET, never re-posting credentials
/// (RFC 9700 §4.11).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
