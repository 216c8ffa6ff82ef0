//! An unsolicited SAML answer (IdP-initiated sign-in: the person clicked Gatehouse in their
//! organisation's portal). Taken only from a provider that allows it, verified as fully as an
//! answer to a request (signature, audience, validity, an assertion ID used once) and with no
//! `InResponseTo` anywhere, and then used only to **start** a sign-in of this browser's own:
//! the browser goes to the account page's sign-in with the person's address as `login_hint`,
//! which takes it straight back to the provider, whose session answers at once.
//!
//! Nobody is signed in by the unsolicited answer itself: an answer posted into someone else's
//! browser (login CSRF, the classic weakness of IdP-initiated SAML) only starts a sign-in
//! there that the provider answers for whoever is signed in to it in that browser.
//! Several tenants may take answers from one IdP: the address the answer claims chooses the one
//! provider bound to its domain, whose pinned keys must then verify it. Refusals go to the log
//! (no application and no parked sign-in exists yet to record them against); the browser sees
//! one generic page.

use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_federation::saml::{self, Expected};
use std::net::IpAddr;
use url::form_urlencoded;

use super::respond::see_other;
use super::saml::open_once;
use crate::error::PageError;
use crate::messages::{EN, messages_for};
use crate::state::AppState;

fn refuse(headers: &HeaderMap, check: &str) -> PageError {
    // The check is the sender's doing at most: bounded before it is logged.
    let check: String = check.chars().filter(|c| !c.is_control()).take(300).collect();
    tracing::warn!(%check, "an unsolicited SAML answer (IdP-initiated sign-in) was refused");
    let m = messages_for(headers);
    PageError::bad_request(m.flow.sign_in, m.flow.federation_failed)
}

/// Verifies an unsolicited answer and sends the browser to start its own sign-in.
pub async fn answer(
    state: &AppState,
    addr: IpAddr,
    headers: &HeaderMap,
    encoded: &str,
    issuer: Option<String>,
    now: time::OffsetDateTime,
) -> Result<Response, PageError> {
    // A limit of their own, counted before any signature or decryption work is spent.
    let host = crate::monitor::host_network(addr);
    let limit = crate::rate_limit::PARKED_PER_ADDRESS;
    if let Some(retry_after) = state.limits.unsolicited.blocked_for(&host, limit, now) {
        return Err(PageError::too_many_requests(EN.flow.too_many_sign_ins_title, EN.flow.too_many_sign_ins.with((retry_after + 59) / 60)));
    }
    state.limits.unsolicited.record_failure(&host, limit, now);
    let issuer = issuer.ok_or_else(|| refuse(headers, "saml: an unsolicited answer must name its Issuer"))?;
    let candidates = state.federation.providers.taking_unsolicited_from(&issuer);
    if candidates.is_empty() {
        return Err(refuse(headers, &saml::Rejection::Unsolicited.to_string()));
    }
    let received = saml::receive(encoded, &state.federation.sp).map_err(|rejection| refuse(headers, &rejection.to_string()))?;
    let opened = open_once(state, received, now).await?.map_err(|rejection| refuse(headers, &rejection.to_string()))?;
    // Several tenants may take answers from one IdP: the address the answer claims (read, not
    // yet trusted) chooses the one provider bound to its domain, whose pinned keys must then
    // verify it. Another tenant's providers, however many, neither take nor block it.
    let claimed = saml::claimed(&opened);
    let provider = candidates
        .iter()
        .find(|provider| claimed.on_domains_of(&provider.config))
        .ok_or_else(|| refuse(headers, "saml: an unsolicited answer's email is on no domain of a provider that takes them (domain_not_bound)"))?;
    let idp = provider.saml_metadata().ok_or_else(|| refuse(headers, "saml: the provider's metadata is no longer accepted"))?;
    let expected = Expected { sp: &state.federation.sp, request_id: None };
    let asserted = saml::finish(&provider.config, idp, &opened, &expected).map_err(|rejection| refuse(headers, &rejection.to_string()))?;
    if asserted.identity.email.as_ref().is_none_or(|email| !provider.config.domains.contains(&email.domain())) {
        return Err(refuse(headers, "saml: an unsolicited answer's email is not on the provider's domains (domain_not_bound)"));
    }
    let valid_until =
        time::OffsetDateTime::from_unix_timestamp(asserted.valid_until).map_err(|_| refuse(headers, "saml: the assertion's validity is out of range"))?;
    if !state.store.first_use_of_assertion(&provider.config.key(), &asserted.assertion_id, valid_until, now).await? {
        return Err(refuse(headers, &saml::Rejection::Replayed.to_string()));
    }
    let email = asserted.identity.email.ok_or_else(|| refuse(headers, "saml: no email"))?;
    let hint: String = form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect();
    tracing::info!(provider = %provider.config.key(), "an IdP-initiated sign-in starts a sign-in of this browser's");
    Ok(see_other(&format!("{}/console/sign-in?login_hint={hint}", state.config.issuer)))
}
