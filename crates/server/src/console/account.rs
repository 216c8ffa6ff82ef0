//! `/account`: the signed-in person's profile, second factors, recovery codes, sessions, login
//! history and "download my data", each read from the self-service API.

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::factors::{FactorList, RecoveryCodes, RenameFactor};
use gatehouse_api::sessions::SessionList;
use gatehouse_api::sign_ins::SignInHistory;
use gatehouse_core::{EmailDomain, FactorKind};
use gatehouse_policy::{DomainPolicy, Method as PolicyMethod};
use serde::Deserialize;

use super::account_factors;
use super::api::NO_BODY;
use super::pages::{AccountPage, Chrome, FactorRow, HistoryRow, SessionRow, when};
use super::{Console, Form};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/recovery-codes", post(regenerate_codes))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route("/account/personal-data", get(personal_data))
        .merge(account_factors::routes())
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// The frame of an account page: the admin link shows for admins and operators (the admin API
/// decides what they may do).
pub(super) async fn chrome(console: &Console) -> Chrome<'_> {
    let admin = super::admin_pages::viewer(console).await.admin;
    Chrome { csrf_token: &console.view.csrf_token, admin, section: "account", flash: console.view.flash.clone() }
}

/// The methods the person's domain lets them add.
pub(super) fn domain_policy(console: &Console, email: &str) -> DomainPolicy {
    let domain = email.rsplit_once('@').and_then(|(_, d)| EmailDomain::parse(d).ok());
    domain.and_then(|d| console.state.tenant_for_domain(&d)).map(|t| t.policy.clone()).unwrap_or_default()
}

/// `GET /account`
async fn page(console: Console) -> Response {
    let result = async {
        let api = console.api()?;
        let here = "/account";
        let (info, factors, sessions, history) = tokio::join!(
            api.get::<UserInfo>("/userinfo"),
            api.get::<FactorList>("/api/v1/me/factors"),
            api.get::<SessionList>("/api/v1/me/sessions"),
            api.get::<SignInHistory>("/api/v1/me/sign-ins?limit=10"),
        );
        let info = info.map_err(|e| console.failed(e, here))?;
        let factors = factors.map_err(|e| console.failed(e, here))?;
        let sessions = sessions.map_err(|e| console.failed(e, here))?;
        let history = history.map_err(|e| console.failed(e, here))?;
        let m = console.m;
        let policy = domain_policy(&console, &info.email).configurable_methods();
        let webauthn_ready = console.state.factors.webauthn_available();
        let webauthn = [
            (FactorKind::SecurityKey, PolicyMethod::SecurityKey, m.account.add_security_key),
            (FactorKind::Passkey, PolicyMethod::Passkey, m.account.add_passkey),
        ]
        .into_iter()
        .filter(|(_, method, _)| webauthn_ready && policy.contains(*method))
        .map(|(kind, _, text)| (kind.as_str(), text))
        .collect();
        let codes = console.view.codes.as_ref();
        let page = AccountPage {
            m,
            chrome: Some(chrome(&console).await),
            csrf_token: &console.view.csrf_token,
            name: info.name,
            email: info.email,
            has_factor: factors.factors.iter().any(|f| f.confirmed),
            factors: factors
                .factors
                .into_iter()
                .map(|f| FactorRow {
                    added: when(Some(f.created_at), m.common.never),
                    last_used: when(f.last_used_at, m.common.never),
                    id: f.id,
                    kind: FactorKind::parse(&f.kind).map_or(f.kind.clone(), |k| k.label().to_owned()),
                    label: f.label,
                    confirmed: f.confirmed,
                })
                .collect(),
            allowed_totp: policy.contains(PolicyMethod::Totp),
            allowed_sms: policy.contains(PolicyMethod::Sms),
            webauthn,
            recovery_left: u64::from(factors.recovery_codes_left),
            new_codes: codes.map(|c| c.as_slice()),
            sessions: sessions
                .sessions
                .into_iter()
                .map(|s| SessionRow {
                    started: when(Some(s.created_at), m.common.never),
                    seen: when(Some(s.last_seen_at), m.common.never),
                    methods: s.methods.join(", "),
                    current: s.current,
                    id: s.id,
                })
                .collect(),
            history: history
                .sign_ins
                .into_iter()
                .map(|h| HistoryRow {
                    at: when(Some(h.at), m.common.never),
                    application: h.application.unwrap_or_default(),
                    address: h.address,
                    result: h.result.replace('_', " "),
                })
                .collect(),
        };
        Ok(Html(askama::Template::render(&page)?).into_response())
    }
    .await;
    console.finish(result)
}

/// `POST /account/recovery-codes`: ten new codes, shown once on the account page.
async fn regenerate_codes(console: Console, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let codes: RecoveryCodes = console.api()?.send(Method::POST, "/api/v1/me/recovery-codes", NO_BODY).await.map_err(|e| console.failed(e, "/account"))?;
        console.show_codes(codes.codes);
        Ok(console.done("/account#recovery-h", console.m.account.codes_made))
    }
    .await;
    console.finish(result)
}

/// `POST /account/sessions/{id}/revoke`
async fn revoke_session(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let path = format!("/api/v1/me/sessions/{}", encode(&id));
        console.api()?.send_only(Method::DELETE, &path, NO_BODY).await.map_err(|e| console.failed(e, "/account"))?;
        Ok(console.done("/account#sessions-h", console.m.account.session_revoked))
    }
    .await;
    console.finish(result)
}

/// `GET /account/personal-data`: the access report, as a JSON download.
async fn personal_data(console: Console) -> Response {
    let result = async {
        console.require_same_site()?;
        let (_, body) = console.api()?.call(Method::GET, "/api/v1/me/personal-data", NO_BODY).await.map_err(|e| console.failed(e, "/account"))?;
        Ok(Console::download(body, "my-gatehouse-data.json"))
    }
    .await;
    console.finish(result)
}

/// A path segment from a form or URL, percent-encoded before it goes into an API path (a
/// tampered id then names nothing rather than another route).
pub(super) fn encode(segment: &str) -> String {
    // Form encoding, then what it leaves that a path segment must not carry as is: `+` (its
    // space) and `.` (so `.` and `..` cannot name another path).
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20").replace('.', "%2E")
}

/// The JSON body for a label change (kept here: the rename form lives on this page).
pub(super) fn rename_body(label: &str) -> RenameFactor {
    RenameFactor { label: label.to_owned() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_become_one_inert_path_segment() {
        assert_eq!(super::encode("abc_-XYZ09"), "abc_-XYZ09");
        assert_eq!(super::encode("../me/factors"), "%2E%2E%2Fme%2Ffactors");
        assert_eq!(super::encode("a b+c?d#e"), "a%20b%2Bc%3Fd%23e");
    }
}
