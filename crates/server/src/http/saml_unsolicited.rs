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
//! Several tenants may take answers from one IdP: the address the answer claims narrows them to
//! the providers bound to its domain, and exactly one must verify it (two that can is ambiguous
//! and refused, never a guess). Refusals go to the log
//! (no application and no parked sign-in exists yet to record them against); the browser sees
//! one generic page.

use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_federation::saml::{self, Expected, Scanned};
use std::net::IpAddr;
use url::form_urlencoded;

use super::authorize::count_started_sign_in;
use super::respond::see_other;
use super::saml::open_once;
use crate::error::PageError;
use crate::messages::messages_for;
use crate::state::AppState;

/// The most providers whose domains an unsolicited answer's claimed address may fall in before
/// it is refused (each is a signature verification).
const MAX_MATCHING: usize = 4;

fn refuse(headers: &HeaderMap, check: &str) -> PageError {
    // The check is the sender's doing at most: bounded before it is logged.
    let check: String = check.chars().filter(|c| !c.is_control()).take(300).collect();
    tracing::warn!(%check, "an unsolicited SAML answer (IdP-initiated sign-in) was refused");
    let m = messages_for(headers);
    PageError::bad_request(m.flow.sign_in, m.flow.federation_failed)
}

/// Verifies an unsolicited answer and sends the browser to start its own sign-in.
pub async fn answer(state: &AppState, addr: IpAddr, headers: &HeaderMap, scanned: Scanned, now: time::OffsetDateTime) -> Result<Response, PageError> {
    // A limit of their own, counted before any signature or decryption work is spent.
    count_started_sign_in(&state.limits.unsolicited, addr, now)?;
    let issuer = scanned.issuer().ok_or_else(|| refuse(headers, "saml: an unsolicited answer must name its Issuer"))?;
    let candidates = state.federation.providers.taking_unsolicited_from(issuer);
    if candidates.is_empty() {
        return Err(refuse(headers, &saml::Rejection::Unsolicited.to_string()));
    }
    let received = scanned.receive(&state.federation.sp).map_err(|rejection| refuse(headers, &rejection.to_string()))?;
    let opened = open_once(state, received, now).await?.map_err(|rejection| refuse(headers, &rejection.to_string()))?;
    // Several tenants may take answers from one IdP: the address the answer claims under each
    // provider's settings (read, not yet trusted) narrows them to those bound to its domain;
    // of those, exactly one must verify it with its pinned keys and hold the verified address.
    // A provider that cannot verify it neither takes nor blocks it; two that both can (two
    // tenants pinning the IdP, each reading another attribute) make it ambiguous: refused, never
    // sent to either.
    let claimed = saml::claimed(&opened);
    let matching: Vec<_> = candidates.iter().filter(|provider| claimed.on_domains_of(&provider.config)).collect();
    if matching.is_empty() {
        return Err(refuse(headers, "saml: an unsolicited answer's email is on no domain of a provider that takes them (domain_not_bound)"));
    }
    if matching.len() > MAX_MATCHING {
        return Err(refuse(headers, "saml: too many providers claim this unsolicited answer"));
    }
    let expected = Expected { sp: &state.federation.sp, request_id: None };
    let mut verified = Vec::new();
    let mut refusal = String::new();
    for provider in matching {
        let Some(idp) = provider.saml_metadata() else { continue };
        match saml::finish(&provider.config, idp, &opened, &expected) {
            Ok(asserted) if asserted.identity.email.as_ref().is_some_and(|email| provider.config.domains.contains(&email.domain())) => {
                verified.push((provider, asserted));
            }
            Ok(_) => refusal = "saml: an unsolicited answer's email is not on the provider's domains (domain_not_bound)".into(),
            Err(rejection) => refusal = rejection.to_string(),
        }
    }
    if verified.len() > 1 {
        let keys: Vec<String> = verified.iter().map(|(provider, _)| provider.config.key()).collect();
        return Err(refuse(headers, &format!("saml: an unsolicited answer is claimed by several providers ({}): ambiguous, refused", keys.join(", "))));
    }
    let (provider, asserted) = verified.pop().ok_or_else(|| refuse(headers, &refusal))?;
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
