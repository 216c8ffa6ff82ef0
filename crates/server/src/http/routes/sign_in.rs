//! The sign-in pages (`/login...`): password, an organisation's own identity provider (OIDC, and SAML's metadata and ACS), passkey, second factor, enrollment during
//! sign-in, and the password change a sign-in can require.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::http::{enroll, enroll_sms, federated, login, passkey_login, password_change, saml, second_factor, webauthn_step};
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/login/federated", post(federated::button))
        .route(federated::CALLBACK_PATH, get(federated::callback))
        .route(gatehouse_federation::saml::METADATA_PATH, get(saml::metadata))
        // A SAML answer may be larger than the default body limit.
        .route(gatehouse_federation::saml::ACS_PATH, post(saml::acs).layer(DefaultBodyLimit::max(saml::MAX_ACS_BODY)))
        .route("/login/passkey/options", post(passkey_login::options))
        .route("/login/passkey", post(passkey_login::submit))
        .route("/login/factor", get(second_factor::page).post(second_factor::submit))
        .route("/login/factor/sms", post(second_factor::send_sms))
        .route("/login/factor/webauthn", post(webauthn_step::sign_in_options))
        .route("/login/enroll", get(enroll::page).post(enroll::confirm))
        .route("/login/enroll/done", post(enroll::done))
        .route("/login/password", get(password_change::page).post(password_change::submit))
        .route("/login/enroll/sms", post(enroll_sms::send))
        .route("/login/enroll/sms/confirm", post(enroll_sms::confirm))
        .route("/login/enroll/webauthn/options", post(webauthn_step::enroll_options))
        .route("/login/enroll/webauthn", post(enroll::register_webauthn))
}
