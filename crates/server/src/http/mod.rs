//! The HTTP edge: routes, extractors and cross-cutting middleware.

mod account_api;
pub(crate) mod admin_api;
mod admin_directory;
mod api_body;
pub(crate) mod authorize;
mod client_auth;
pub(crate) mod cookies;
pub mod demo;
mod enroll;
mod enroll_sms;
mod introspect;
mod login;
mod logout;
mod meta;
mod monitoring_api;
mod passkey_login;
pub(crate) mod password_change;
mod privacy_api;
mod problem;
mod rejections;
mod reported_addresses_api;
mod reset_code;
pub(crate) mod respond;
mod second_factor;
mod security;
mod sessions_api;
mod sign_in_history;
pub(crate) mod token;
mod userinfo;
mod webauthn_step;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::middleware;
use axum::routing::{get, post};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::state::AppState;

/// The client's address: the TCP peer, or, when the peer is a configured trusted proxy, the
/// address `X-Forwarded-For` names (see [`client_address`]).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        Ok(Self(client_address(peer, forwarded, &state.config.trusted_proxies)))
    }
}

/// Walks `X-Forwarded-For` from the right (the hop nearest to us) past trusted proxies: the
/// first address not a trusted proxy is the client. Only a trusted peer's header counts, so
/// nobody can claim an office address by sending the header themselves; an unparsable entry
/// stops the walk at the last address known good.
pub fn client_address<'a>(peer: IpAddr, forwarded: impl Iterator<Item = &'a str>, trusted: &[gatehouse_policy::Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).filter(|h| !h.is_empty()).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The `User-Agent` header, at most 256 characters (it is attacker-controlled); empty if absent.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> String {
    headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(256).collect()
}

/// An audit record of `actor` doing `action` to `target` from this request; the caller fills in
/// before, after and reason where they apply.
pub(crate) fn audit_entry(actor: String, action: &str, target: String, address: IpAddr, headers: &axum::http::HeaderMap) -> gatehouse_core::audit::AuditEntry {
    let user_agent = user_agent(headers);
    gatehouse_core::audit::AuditEntry {
        at: crate::state::now().unix_timestamp(),
        actor,
        on_behalf_of: None,
        action: action.to_owned(),
        // `tenant:<id>` targets belong to that tenant; callers name it for other targets.
        tenant: target.strip_prefix("tenant:").map(str::to_owned),
        target,
        before: None,
        after: None,
        address: Some(address.to_string()),
        user_agent: (!user_agent.is_empty()).then_some(user_agent),
        reason: None,
    }
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/.well-known/openid-configuration", get(meta::discovery))
        .route("/jwks", get(meta::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/login", get(login::page).post(login::submit))
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
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(introspect::revoke))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/api/v1/openapi.json", get(admin_api::openapi))
        .route("/api/v1/tenants", get(admin_api::tenants).post(admin_directory::create_tenant))
        .route("/api/v1/tenants/{id}/domains", post(admin_directory::add_domain))
        .route("/api/v1/users/{id}", axum::routing::patch(admin_directory::update_user).delete(privacy_api::erase))
        .route("/api/v1/users/{id}/personal-data", get(privacy_api::of_user))
        .route("/api/v1/me/personal-data", get(privacy_api::mine))
        .route("/api/v1/tenants/{id}/terminate", post(privacy_api::terminate))
        .route("/api/v1/tenants/{id}/reinstate", post(privacy_api::reinstate))
        .route("/api/v1/users/{id}/factors", axum::routing::delete(admin_directory::reset_factors))
        .route("/api/v1/tenants/{id}", get(admin_api::tenant))
        .route("/api/v1/tenants/{id}/users", get(admin_api::users).post(admin_directory::create_user))
        .route("/api/v1/tenants/{id}/policy", axum::routing::put(admin_api::put_domain_policy))
        .route("/api/v1/tenants/{id}/staged-policy", axum::routing::delete(admin_api::discard_staged))
        .route("/api/v1/tenants/{id}/staged-policy/report", get(admin_api::staged_report))
        .route("/api/v1/applications", get(admin_api::applications).post(admin_directory::create_application))
        .route("/api/v1/applications/{id}/policy", axum::routing::put(admin_api::put_app_policy))
        .route("/api/v1/policy/simulate", post(admin_api::simulate))
        .route("/api/v1/me/factors", get(account_api::list).post(account_api::add))
        .route("/api/v1/me/factors/{id}", axum::routing::patch(account_api::rename).delete(account_api::remove))
        .route("/api/v1/me/factors/{id}/confirm", post(account_api::confirm))
        .route("/api/v1/me/factors/webauthn", post(account_api::register_webauthn))
        .route("/api/v1/me/recovery-codes", post(account_api::regenerate_recovery_codes))
        .route("/api/v1/me/sessions", get(sessions_api::mine))
        .route("/api/v1/me/sessions/{id}", axum::routing::delete(sessions_api::revoke))
        .route("/api/v1/users/{id}/unlock", post(admin_directory::unlock))
        .route("/api/v1/me/sign-ins", get(sign_in_history::mine))
        .route("/api/v1/users/{id}/sign-ins", get(sign_in_history::of_user))
        .route("/api/v1/me/sign-ins/{id}/report", post(monitoring_api::report_sign_in))
        .route("/api/v1/tenants/{id}/reported-addresses", get(reported_addresses_api::list))
        .route("/api/v1/tenants/{id}/reported-addresses/{address}", axum::routing::delete(reported_addresses_api::clear))
        .route("/api/v1/alerts", get(monitoring_api::alerts))
        .route("/api/v1/alerts/{id}/acknowledge", post(monitoring_api::acknowledge))
        .route("/api/v1/audit", get(monitoring_api::change_history))
        .route("/api/v1/siem/events", get(monitoring_api::siem_export))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics))
        .route("/static/gatehouse.css", get(meta::stylesheet))
        .route("/static/form_post.js", get(meta::form_post_script))
        .route("/static/webauthn.js", get(meta::webauthn_script));
    if state.config.demo {
        router = router.route("/demo", get(demo::home)).route("/demo/start", get(demo::start)).route("/demo/callback", get(demo::callback));
    }
    // The console calls the API in-process through this same router (without the response
    // headers layer, which the console's own answer gets).
    let api: Router = router.layer(DefaultBodyLimit::max(state.config.max_body_bytes)).with_state(state.clone());
    // The console's in-process calls get the same error formats as a remote client's.
    let console_api = api.clone().layer(middleware::from_fn(rejections::uniform));
    let console: Router = crate::console::routes()
        .layer(axum::Extension(crate::console::api::ApiRouter(console_api)))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state.clone());
    // Over the whole router, so a path no route matches (the merged fallback) is covered too;
    // once per request.
    api.merge(console).layer(middleware::from_fn(rejections::uniform)).layer(middleware::from_fn_with_state(state, security::headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = vec![gatehouse_policy::Cidr::parse("10.0.0.0/8").unwrap()];
        let peer = ip("10.0.0.5");
        assert_eq!(client_address(ip("198.51.100.1"), ["203.0.113.9"].into_iter(), &trusted), ip("198.51.100.1"), "an untrusted peer's header is ignored");
        assert_eq!(client_address(peer, ["203.0.113.9"].into_iter(), &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(peer, ["127.0.0.2, 203.0.113.9, 10.0.0.7"].into_iter(), &trusted), ip("203.0.113.9"), "spoofed left entries are skipped");
        assert_eq!(client_address(peer, ["203.0.113.9", "10.1.1.1"].into_iter(), &trusted), ip("203.0.113.9"), "several headers are one list");
        assert_eq!(client_address(peer, ["garbage, 203.0.113.9"].into_iter(), &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(peer, ["203.0.113.9, garbage"].into_iter(), &trusted), peer, "an unparsable nearest hop stops at the peer");
        assert_eq!(client_address(peer, std::iter::empty(), &trusted), peer);
        assert_eq!(client_address(peer, ["203.0.113.9"].into_iter(), &[]), peer, "no trusted proxies configured");
    }
}
