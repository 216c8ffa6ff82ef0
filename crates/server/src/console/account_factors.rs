//! Adding, confirming, renaming and removing second factors from the account page. The API
//! asks for a fresh sign-in (with a second factor when the person has one) before a change;
//! the console then sends the person through `/authorize` and back to the same step.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::factors::{ConfirmFactor, EnrollmentStarted, FactorList, NewFactor, RegisterCredential};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::account::{chrome, encode, rename_body};
use super::api::NO_BODY;
use super::pages::{RemoveFactorPage, SmsConfirmPage, TotpSetupPage};
use super::session::Setup;
use super::{Console, ConsoleError, Form};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/factors/totp", post(add_totp))
        .route("/account/factors/sms", post(add_sms))
        .route("/account/factors/webauthn/options", post(webauthn_options))
        .route("/account/factors/webauthn", post(register_webauthn))
        .route("/account/factors/{id}/setup", get(setup_page))
        .route("/account/factors/{id}/confirm", post(confirm))
        .route("/account/factors/{id}/rename", post(rename))
        .route("/account/factors/{id}/remove", get(remove_page).post(remove))
}

/// Starts a factor through the API and shows its setup page (Post/Redirect/Get, so a reload
/// or the back button shows the same key rather than starting another).
async fn start(console: &Console, form: &std::collections::HashMap<String, String>, body: NewFactor) -> Result<Response, ConsoleError> {
    console.check_form(form)?;
    let started: EnrollmentStarted = console.api()?.send(Method::POST, "/api/v1/me/factors", Some(&body)).await.map_err(|e| console.failed(e, "/account"))?;
    let setup = match started {
        EnrollmentStarted::App(app) => Setup { factor: app.factor, secret: Zeroizing::new(app.secret), qr_code: app.qr_code, challenge: String::new() },
        EnrollmentStarted::Phone(phone) => {
            Setup { factor: phone.factor, secret: Zeroizing::new(String::new()), qr_code: String::new(), challenge: phone.challenge }
        }
        // Security keys start from `webauthn_options`, never here.
        EnrollmentStarted::Key(_) => return Err(ConsoleError::NotFound),
    };
    let to = format!("/account/factors/{}/setup", encode(&setup.factor));
    console.state.console.set_setup(&console.key, Some(setup));
    Ok(crate::http::respond::see_other(&to))
}

/// `POST /account/factors/totp`
async fn add_totp(console: Console, axum::Form(form): Form) -> Response {
    let result = start(&console, &form, NewFactor { kind: "totp".into(), label: None, phone: None }).await;
    console.finish(result)
}

/// `POST /account/factors/sms`: texts a code to the number.
async fn add_sms(console: Console, axum::Form(form): Form) -> Response {
    let phone = form.get("phone").map(|p| p.trim().to_owned()).unwrap_or_default();
    let result = start(&console, &form, NewFactor { kind: "sms".into(), label: None, phone: Some(phone) }).await;
    console.finish(result)
}

/// `GET /account/factors/{id}/setup`: the QR code and key, or the SMS code form.
async fn setup_page(console: Console, Path(id): Path<String>) -> Response {
    let result = async {
        console.api()?;
        let setup = console.state.console.setup(&console.key, &id).ok_or(ConsoleError::NotFound)?;
        let m = console.m;
        let html = if setup.challenge.is_empty() {
            let page = TotpSetupPage {
                m,
                chrome: Some(chrome(&console).await),
                csrf_token: &console.view.csrf_token,
                factor: &setup.factor,
                secret: &setup.secret,
                qr_code: &setup.qr_code,
            };
            askama::Template::render(&page)?
        } else {
            let page = SmsConfirmPage {
                m,
                chrome: Some(chrome(&console).await),
                csrf_token: &console.view.csrf_token,
                factor: &setup.factor,
                challenge: &setup.challenge,
            };
            askama::Template::render(&page)?
        };
        Ok(Html(html).into_response())
    }
    .await;
    console.finish(result)
}

/// `POST /account/factors/{id}/confirm`: the first code turns the factor on. A wrong code
/// comes back to the setup page with the API's reason.
async fn confirm(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        // Back to the setup page after a wrong code; to the account page when there is no
        // setup any more (a double submit after the first one turned the factor on).
        let back = match console.state.console.setup(&console.key, &id) {
            Some(_) => format!("/account/factors/{}/setup", encode(&id)),
            None => "/account#methods-h".to_owned(),
        };
        let code = form.get("code").map(|c| c.trim().to_owned()).unwrap_or_default();
        let body = ConfirmFactor { code, challenge: form.get("challenge").filter(|c| !c.is_empty()).cloned() };
        let path = format!("/api/v1/me/factors/{}/confirm", encode(&id));
        console.api()?.send_only(Method::POST, &path, Some(&body)).await.map_err(|e| console.failed(e, &back))?;
        console.state.console.set_setup(&console.key, None);
        Ok(console.done("/account#methods-h", console.m.account.method_added))
    }
    .await;
    console.finish(result)
}

/// `POST /account/factors/webauthn/options` (from `webauthn.js`): starts a registration and
/// answers the browser's options; the ceremony stays with this console session.
async fn webauthn_options(console: Console, axum::Form(form): Form) -> Response {
    let error = |status: StatusCode, text: &str| (status, Json(json!({ "error": text }))).into_response();
    if console.check_form(&form).is_err() {
        return error(StatusCode::BAD_REQUEST, console.m.common.form_expired);
    }
    // No token (it expired): sign in first, then come back to the account page.
    let Ok(api) = console.api() else {
        return match console.sign_in_url("/account#methods-h", None) {
            Ok(url) => Json(json!({ "redirect": url })).into_response(),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, console.m.common.not_found),
        };
    };
    let kind = form.get("kind").cloned().unwrap_or_default();
    match api.send::<_, EnrollmentStarted>(Method::POST, "/api/v1/me/factors", Some(&NewFactor { kind, label: None, phone: None })).await {
        Ok(EnrollmentStarted::Key(key)) => {
            console.state.console.set_ceremony(&console.key, key.ceremony);
            Json(key.options).into_response()
        }
        Ok(EnrollmentStarted::App(_) | EnrollmentStarted::Phone(_)) => error(StatusCode::BAD_GATEWAY, console.m.common.not_found),
        // A fresh sign-in is needed first: `webauthn.js` follows `redirect` there, and the
        // person comes back to the account page to add the key.
        Err(failure @ (super::api::ApiFailure::StepUp { .. } | super::api::ApiFailure::SignIn)) => {
            let step_up = match failure {
                super::api::ApiFailure::StepUp { acr_values, max_age } => Some((acr_values, max_age)),
                _ => None,
            };
            match console.sign_in_url("/account#methods-h", step_up.as_ref()) {
                Ok(url) => Json(json!({ "redirect": url })).into_response(),
                Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, console.m.common.not_found),
            }
        }
        Err(super::api::ApiFailure::Refused { detail, .. }) => error(StatusCode::BAD_REQUEST, &detail),
        Err(super::api::ApiFailure::Internal(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, console.m.common.not_found),
    }
}

/// `POST /account/factors/webauthn`: the browser's credential finishes the registration.
async fn register_webauthn(console: Console, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let ceremony = console.state.console.take_ceremony(&console.key).ok_or(ConsoleError::FormExpired)?;
        let credential: Value = form.get("credential").and_then(|c| serde_json::from_str(c).ok()).ok_or(ConsoleError::FormExpired)?;
        let body = RegisterCredential { ceremony, credential };
        console.api()?.send_only(Method::POST, "/api/v1/me/factors/webauthn", Some(&body)).await.map_err(|e| console.failed(e, "/account"))?;
        Ok(console.done("/account#methods-h", console.m.account.method_added))
    }
    .await;
    console.finish(result)
}

/// `POST /account/factors/{id}/rename`
async fn rename(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let label = form.get("label").map(|l| l.trim().to_owned()).unwrap_or_default();
        let path = format!("/api/v1/me/factors/{}", encode(&id));
        console.api()?.send_only(Method::PATCH, &path, Some(&rename_body(&label))).await.map_err(|e| console.failed(e, "/account#methods-h"))?;
        Ok(console.done("/account#methods-h", console.m.account.renamed))
    }
    .await;
    console.finish(result)
}

/// `GET /account/factors/{id}/remove`: asks to confirm (and is where a re-authentication
/// comes back to).
async fn remove_page(console: Console, Path(id): Path<String>) -> Response {
    let result = async {
        let factors: FactorList = console.api()?.get("/api/v1/me/factors").await.map_err(|e| console.failed(e, "/account"))?;
        let factor = factors.factors.into_iter().find(|f| f.id == id).ok_or(ConsoleError::NotFound)?;
        let kind = gatehouse_core::FactorKind::parse(&factor.kind).map_or(factor.kind.clone(), |k| k.label().to_owned());
        let page = RemoveFactorPage {
            m: console.m,
            chrome: Some(chrome(&console).await),
            csrf_token: &console.view.csrf_token,
            id: &factor.id,
            label: &factor.label,
            kind: &kind,
        };
        Ok(Html(askama::Template::render(&page)?).into_response())
    }
    .await;
    console.finish(result)
}

/// `POST /account/factors/{id}/remove`
async fn remove(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = format!("/account/factors/{}/remove", encode(&id));
        let path = format!("/api/v1/me/factors/{}", encode(&id));
        console.api()?.send_only(Method::DELETE, &path, NO_BODY).await.map_err(|e| match console.failed(e, &back) {
            // Already gone (a double submit) or never this person's: say so on the account page.
            ConsoleError::Refused { detail, .. } => ConsoleError::Refused { back_to: "/account#methods-h".into(), detail },
            other => other,
        })?;
        Ok(console.done("/account#methods-h", console.m.account.removed))
    }
    .await;
    console.finish(result)
}
