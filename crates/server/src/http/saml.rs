//! SAML 2.0 upstreams at the edge: Gatehouse's SP metadata (`GET /saml/metadata`, whose URL is
//! the entityID), the trip out (an AuthnRequest by HTTP-Redirect or HTTP-POST) and the
//! AssertionConsumerService (`POST /saml/acs`).
//!
//! The `RelayState` is `PARKED_ID.SECRET`, as the OIDC `state`: the ACS finds the parked
//! sign-in by its id, checks it belongs to this browser (its flow cookie) and compares the
//! secret with the digest parked beside the AuthnRequest's ID; the trip is spent by
//! compare-and-set before the answer is read, and the answer must be `InResponseTo` that ID.
//!
//! An answer that names no request (IdP-initiated) goes to [`super::saml_unsolicited`].
//!
//! The provider's answer arrives by a cross-site POST, which carries no SameSite=Lax cookie.
//! Without the cookie the ACS answers with a page that posts the same form once more from
//! Gatehouse's own origin, where the cookie comes along; posted again without it, the answer
//! was opened in another browser and is refused.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_federation::Provider;
use gatehouse_federation::oidc::AuthorizationAsk;
use gatehouse_federation::saml::{self, Expected, IdpMetadata, Opened, Outbound, Received, SamlAsk};
use gatehouse_signin::parked::{FederatedLeg, ParkedSignIn};

use super::ClientAddr;
use super::cookies;
use super::federated::{Leave, TripKind, hex, leg, park, refused, spend_trip, unavailable, vouched_for};
use super::login::expired;
use super::respond::{auto_post, see_other};
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::messages::messages_for;
use crate::pages::FederationRedirectPage;
use crate::state::{AppState, now};

/// The largest ACS body taken: a `SAMLResponse` of [`saml::MAX_RESPONSE`] bytes, base64 and
/// form encoded.
pub const MAX_ACS_BODY: usize = 4 * saml::MAX_RESPONSE;

/// `GET /saml/metadata`: Gatehouse's SP metadata, for the provider's admin to import.
pub async fn metadata(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], state.federation.sp.metadata_xml()).into_response()
}

/// What the trip out carries besides the ask.
pub struct Trip<'a> {
    /// `PARKED_ID.SECRET`, the `RelayState`.
    pub upstream_state: &'a str,
    pub secret: &'a str,
    /// A step-up: the upstream subject the first trip proved.
    pub step_up: Option<String>,
    pub leave: Leave,
}

/// Starts a SAML trip: the AuthnRequest built, its ID parked by compare-and-set, the browser
/// sent on its way.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    parked: &mut ParkedSignIn,
    provider: &Provider,
    idp: &IdpMetadata,
    ask: &AuthorizationAsk<'_>,
    trip: Trip<'_>,
) -> Result<Response, PageError> {
    // A step-up asks for the provider's multi-factor classes, exactly, and a fresh sign-in.
    let authn_contexts = if ask.acr_values.is_some() { provider.config.mfa_acr_values.clone() } else { Vec::new() };
    let saml_ask = SamlAsk { login_hint: ask.login_hint, force_authn: ask.prompt_login, authn_contexts };
    let started = match saml::begin(&state.federation.sp, idp, trip.upstream_state, &saml_ask, now().unix_timestamp()) {
        Ok(started) => started,
        Err(error) => return unavailable(state, headers, parked, provider, &error),
    };
    let leg = FederatedLeg { saml_request_id: Some(started.request_id), ..leg(state, provider, trip.secret, trip.step_up) };
    park(state, parked, leg).await?;
    match (started.outbound, trip.leave) {
        (Outbound::Redirect(url), Leave::Redirect) => Ok(see_other(&url)),
        (Outbound::Redirect(url), Leave::Page) => {
            let page = FederationRedirectPage { m: messages_for(headers), url: &url, name: &provider.config.name };
            Ok(axum::response::Html(askama::Template::render(&page)?).into_response())
        }
        (Outbound::Post { url, saml_request, relay_state }, _) => auto_post(&url, vec![("SAMLRequest", saml_request), ("RelayState", relay_state)]),
    }
}

/// The replay cache's name for the session keys of encrypted assertions (a provider's name
/// always holds a slash), and how long a used key is remembered: a ciphertext under it is
/// never opened again, so no CBC oracle gets a second question about it.
const SESSION_KEYS: &str = "saml:session-keys";
const SESSION_KEY_MEMORY: time::Duration = time::Duration::days(30);

/// Opens a received answer, an encrypted assertion only if its session key was never used
/// before (recorded first, in one atomic insert every node shares).
pub(super) async fn open_once(state: &AppState, received: Received, now: time::OffsetDateTime) -> Result<Result<Opened, saml::Rejection>, PageError> {
    if let Some(digest) = received.session_key_digest()
        && !state.store.first_use_of_assertion(SESSION_KEYS, &hex(&digest), now + SESSION_KEY_MEMORY, now).await?
    {
        return Ok(Err(saml::Rejection::Decryption("its session key was used before (a replayed or altered ciphertext)".into())));
    }
    Ok(received.open())
}

/// `POST /saml/acs`: the provider's answer (HTTP-POST binding).
pub async fn acs(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let encoded = form.get("SAMLResponse").ok_or_else(expired)?;
    // Decoded and scanned once. An answer that names no request is an IdP-initiated one; one
    // that does not even scan goes on to fail where its sign-in's history records the check.
    let scanned = match saml::read(encoded) {
        Ok(scanned) if !scanned.answers_a_request() => return super::saml_unsolicited::answer(&state, addr, &headers, scanned, now).await,
        other => other,
    };
    let relay_state = form.get("RelayState").ok_or_else(expired)?;
    let has_cookie = cookies::read(&headers, cookies::flow_cookie_name(state.config.secure_cookies())).is_some();
    if !has_cookie && form.get("resubmitted").is_none() {
        let fields = vec![("SAMLResponse", encoded.to_owned()), ("RelayState", relay_state.to_owned()), ("resubmitted", "1".to_owned())];
        return auto_post(&state.federation.sp.acs_url, fields);
    }
    let (parked, leg) = spend_trip(&state, &headers, relay_state, TripKind::Saml, now).await?;
    let request_id = leg.saml_request_id.clone().ok_or_else(expired)?;
    let provider = state.federation.providers.get(&leg.provider).ok_or_else(expired)?;
    let idp = provider.saml_metadata().ok_or_else(expired)?;
    let attempt = attempt::of_request(&state, &headers, addr);
    let m = messages_for(&headers);
    let expected = Expected { sp: &state.federation.sp, request_id: Some(&request_id) };
    let opened = match scanned.and_then(|scanned| scanned.receive(&state.federation.sp)) {
        Ok(received) => open_once(&state, received, now).await?,
        Err(rejection) => Err(rejection),
    };
    let asserted = match opened.and_then(|opened| saml::finish(&provider.config, idp, &opened, &expected)) {
        Ok(asserted) => asserted,
        Err(rejection) => return refused(&state, &parked, &attempt, &provider, &rejection.to_string(), m, m.flow.federation_failed, now).await,
    };
    // A step-up asked for a fresh authentication: an older one is a session the provider reused.
    if leg.step_up && asserted.authn_instant.is_none_or(|at| at < leg.started_at - saml::SKEW_SECONDS) {
        return refused(&state, &parked, &attempt, &provider, "saml: the step-up's authentication is not fresh", m, m.flow.federation_failed, now).await;
    }
    let valid_until = time::OffsetDateTime::from_unix_timestamp(asserted.valid_until).map_err(|_| expired())?;
    if !state.store.first_use_of_assertion(&leg.provider, &asserted.assertion_id, valid_until, now).await? {
        let check = saml::Rejection::Replayed.to_string();
        return refused(&state, &parked, &attempt, &provider, &check, m, m.flow.federation_failed, now).await;
    }
    vouched_for(&state, &headers, parked, &provider, &leg, asserted.identity, &attempt, now).await
}
