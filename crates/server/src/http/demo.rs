//! A built-in demo relying party (`serve --demo`): a person opens `/demo`, signs in through the
//! real authorization-code + PKCE flow, and sees the verified ID token's claims. The code is
//! exchanged by calling the token endpoint's handler in-process, with the same checks.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::claims::IdTokenClaims;
use gatehouse_core::pkce::CodeChallenge;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use url::Url;

use super::cookies;
use super::respond::see_other;
use crate::error::PageError;
use crate::messages::{EN, messages_for};
use crate::pages::{DemoClaimsPage, DemoHomePage};
use crate::state::{AppState, now};

pub const DEMO_CLIENT_ID: &str = "demo";
const COOKIE: &str = "gatehouse_demo";

pub fn callback_uri(issuer: &str) -> String {
    format!("{issuer}/demo/callback")
}

pub fn home_uri(issuer: &str) -> String {
    format!("{issuer}/demo")
}

pub async fn home(headers: HeaderMap) -> Result<Response, PageError> {
    Ok(Html(DemoHomePage { m: messages_for(&headers) }.render()?).into_response())
}

pub async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    let client_state = gatehouse_crypto::random::id()?;
    let nonce = gatehouse_crypto::random::id()?;
    let verifier = gatehouse_crypto::random::token()?;
    let issuer = &state.config.issuer;
    let mut url = Url::parse(&format!("{issuer}/authorize")).map_err(|_| PageError::bad_request(EN.flow.demo_unavailable_title, EN.flow.demo_bad_issuer))?;
    url.query_pairs_mut()
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("redirect_uri", &callback_uri(issuer))
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", &client_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", CodeChallenge::s256_of(&verifier).as_str())
        .append_pair("code_challenge_method", "S256");
    let mut response = see_other(url.as_str());
    let secure = state.config.secure_cookies();
    let cookie = format!("{COOKIE}={client_state}.{nonce}.{verifier}; Path=/demo; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" });
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Result<Response, PageError> {
    let m = messages_for(&headers);
    let failed = |msg: String| PageError::bad_request(m.flow.demo_failed_title, msg);
    if let Some(error) = query.error {
        return Err(failed(m.flow.demo_error_answer.with(format_args!("{error}: {}", query.error_description.unwrap_or_default()))));
    }
    let saved = cookies::read(&headers, COOKIE).ok_or_else(|| failed(m.flow.demo_cookie_missing.into()))?;
    let mut parts = saved.splitn(3, '.');
    let (Some(expected_state), Some(nonce), Some(verifier)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(failed(m.flow.demo_cookie_malformed.into()));
    };
    let state_ok = query.state.as_deref().is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_ok {
        return Err(failed(m.flow.demo_state_mismatch.into()));
    }
    if query.iss.as_deref() != Some(state.config.issuer.as_str()) {
        return Err(failed(m.flow.demo_iss_mismatch.into()));
    }
    let code = query.code.ok_or_else(|| failed(m.flow.demo_no_code.into()))?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &callback_uri(&state.config.issuer))
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("code_verifier", verifier)
        .finish();
    let mut form_headers = HeaderMap::new();
    form_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    let tokens = super::token::handle(&state, &form_headers, std::net::Ipv4Addr::LOCALHOST.into(), body.as_bytes(), now()).await.map_err(|e| {
        // The OAuth error's description is meant for the application's developer: the demo
        // shows it; anything else stays in the log.
        let reason = match e {
            crate::error::ApiError::OAuth { error, .. } => error.description.to_string(),
            other => {
                tracing::warn!(error = ?other, "the demo's token request failed");
                m.flow.demo_token_unavailable.to_owned()
            }
        };
        failed(m.flow.demo_token_failed.with(reason))
    })?;
    let id_token = tokens.id_token.ok_or_else(|| failed(m.flow.demo_no_id_token.into()))?;
    let keys = state.keys();
    let (_, claims) = keys.set.verify::<IdTokenClaims>(&id_token).map_err(|_| failed(m.flow.demo_bad_signature.into()))?;
    if claims.aud != DEMO_CLIENT_ID || claims.nonce.as_deref() != Some(nonce) || claims.iss != state.config.issuer {
        return Err(failed(m.flow.demo_bad_claims.into()));
    }
    let json = serde_json::to_value(&claims).map_err(|_| failed(m.flow.demo_undisplayable.into()))?;
    let rows = json.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()).unwrap_or_default();
    let mut logout = Url::parse(&format!("{}/logout", state.config.issuer)).map_err(|_| failed(m.flow.demo_bad_issuer.into()))?;
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", &home_uri(&state.config.issuer))
        .append_pair("state", expected_state);
    let page = DemoClaimsPage { m, claims: rows, logout_url: logout.to_string() };
    let mut response = Html(page.render()?).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}=; Path=/demo; HttpOnly; SameSite=Lax; Max-Age=0")) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
