//! Sign-in through a tenant's own identity provider: the trip out (from the sign-in page's
//! home-realm discovery, a provider's button, or straight from `/authorize`) and the callback
//! at `ISSUER/login/federated/callback`, the one address every provider registers.
//!
//! The `state` sent upstream is `PARKED_ID.SECRET`: the callback finds the parked sign-in by
//! its id, checks it belongs to this browser (its flow cookie), and compares the secret with
//! the digest parked beside the nonce and the PKCE verifier; the trip is spent by
//! compare-and-set before the code is exchanged, so a callback is answered once.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_federation::Provider;
use gatehouse_federation::oidc::{AuthorizationAsk, Trip};
use gatehouse_policy::Outcome;
use gatehouse_signin::federated::{Vouched, ask_provider_first, mfa_trusted};
use gatehouse_signin::parked::{FederatedLeg, FlowState, ParkedSignIn};
use gatehouse_signin::proof::FirstFactor;
use gatehouse_signin::steps::federated::Failure;
use gatehouse_signin::steps::{self, Origin};

use super::ClientAddr;
use super::login::{check_csrf, expired, pending_for_browser, render};
use super::respond::see_other;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::{next, policy};
use crate::messages::messages_for;
use crate::pages::FederationRedirectPage;
use crate::state::{AppState, now};

/// The redirect URI Gatehouse registers at every upstream provider.
pub const CALLBACK_PATH: &str = "/login/federated/callback";

/// The longest `error` code of an upstream's callback kept in the history.
const MAX_UPSTREAM_ERROR: usize = 64;

fn callback_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.issuer)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

/// How the browser leaves for the provider.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// A redirect (the answer to a navigation).
    Redirect,
    /// A page whose script follows the link: the answer to a form, whose redirect to another
    /// origin the sign-in page's `form-action` policy would block.
    Page,
}

/// A new trip to `provider` for the parked sign-in, parked by compare-and-set before the
/// browser leaves: `step_up` asks the provider for multi-factor authentication again for the
/// person `subject` the first trip proved.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    parked: &mut ParkedSignIn,
    provider: &Provider,
    ask: &AuthorizationAsk<'_>,
    step_up: Option<String>,
    leave: Leave,
) -> Result<Response, PageError> {
    let secret = gatehouse_crypto::random::token()?;
    let upstream_state = format!("{}.{secret}", parked.id);
    if provider.config.saml().is_some() {
        let Some(idp) = provider.saml_metadata() else { return unavailable(state, headers, parked, provider, &"its SAML metadata is no longer accepted") };
        let trip = super::saml::Trip { upstream_state: &upstream_state, secret: &secret, step_up, leave };
        return super::saml::start(state, headers, parked, provider, idp, ask, trip).await;
    }
    let started = match state.federation.upstreams.begin(&provider.config, &callback_uri(state), &upstream_state, ask).await {
        Ok(started) => started,
        Err(error) => return unavailable(state, headers, parked, provider, &error),
    };
    let leg = FederatedLeg { nonce: started.nonce, code_verifier: started.code_verifier.to_string(), ..leg(state, provider, &secret, step_up) };
    park(state, parked, leg).await?;
    match leave {
        Leave::Redirect => Ok(see_other(&started.url)),
        Leave::Page => {
            let page = FederationRedirectPage { m: messages_for(headers), url: &started.url, name: &provider.config.name };
            Ok(Html(page.render()?).into_response())
        }
    }
}

/// A trip's record for `provider` (OIDC or SAML fill in the rest): the state secret's digest,
/// the subject a step-up must prove again, when it started.
pub(super) fn leg(state: &AppState, provider: &Provider, secret: &str, step_up: Option<String>) -> FederatedLeg {
    FederatedLeg {
        provider: provider.config.key(),
        state_digest: hex(&state.digester.digest(secret)),
        nonce: String::new(),
        code_verifier: String::new(),
        step_up: step_up.is_some(),
        subject: step_up,
        started_at: now().unix_timestamp(),
        saml_request_id: None,
    }
}

/// Parks the trip by compare-and-set before the browser leaves (a racing step: expired).
pub(super) async fn park(state: &AppState, parked: &mut ParkedSignIn, leg: FederatedLeg) -> Result<(), PageError> {
    if parked.advance_to(state.store.as_ref(), FlowState::Started { passkey_login: None, federated: Some(Box::new(leg)) }).await? {
        Ok(())
    } else {
        Err(expired())
    }
}

/// The trip could not start (the provider unreachable, its request not built): the sign-in page
/// again, the reason in the log.
pub(super) fn unavailable(
    state: &AppState,
    headers: &HeaderMap,
    parked: &ParkedSignIn,
    provider: &Provider,
    error: &dyn std::fmt::Display,
) -> Result<Response, PageError> {
    tracing::warn!(provider = %provider.config.key(), %error, "the sign-in at the identity provider could not start");
    let m = messages_for(headers);
    render(state, m, parked, "", Some(m.flow.federation_unavailable), StatusCode::BAD_GATEWAY)
}

/// `POST /login/federated`: a provider's button on the sign-in page (the application named it
/// with `idp_hint`).
pub async fn button(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut parked = pending_for_browser(&state, &headers, form.get("request").unwrap_or_default(), now()).await?;
    if parked.progress().is_ok() {
        return Err(expired());
    }
    check_csrf(&form, &parked)?;
    // Only a provider the application suggested (`idp_hint`) has a button.
    let key = form.get("provider").filter(|key| parked.request.idp_hint.as_deref().unwrap_or_default().split(' ').any(|hinted| hinted == *key));
    let provider = key.and_then(|key| state.federation.providers.get(key)).ok_or_else(expired)?;
    let hint = parked.request.login_hint.clone();
    start(&state, &headers, &mut parked, &provider, &AuthorizationAsk { login_hint: hint.as_deref(), ..Default::default() }, None, Leave::Page).await
}

/// A trip that signed nobody in: the check that failed goes to the log and the history (for
/// the admin), the browser gets the sign-in page with one generic message.
#[allow(clippy::too_many_arguments)]
pub(super) async fn refused(
    state: &AppState,
    parked: &ParkedSignIn,
    attempt: &attempt::Attempt,
    provider: &Provider,
    check: &str,
    m: &'static crate::messages::Messages,
    message: &'static str,
    now: time::OffsetDateTime,
) -> Result<Response, PageError> {
    let key = provider.config.key();
    refused_for(state, parked, attempt, Failure { user: None, idp: &key, check, identity: None }, m, message, now).await
}

/// As [`refused`], with the account and the upstream identity the refusal concerns.
async fn refused_for(
    state: &AppState,
    parked: &ParkedSignIn,
    attempt: &attempt::Attempt,
    failure: Failure<'_>,
    m: &'static crate::messages::Messages,
    message: &'static str,
    now: time::OffsetDateTime,
) -> Result<Response, PageError> {
    tracing::warn!(provider = %failure.idp, check = %failure.check, "a sign-in through an identity provider was refused");
    let cx = policy::password_context(state);
    steps::federated::record_failure(&cx, &parked.request, &failure, attempt, now).await?;
    render(state, m, parked, "", Some(message), StatusCode::OK)
}

/// Which protocol's answer a trip waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TripKind {
    Oidc,
    Saml,
}

/// The trip an answer comes back to: the parked sign-in `PARKED_ID` of the `state` (OIDC) or
/// `RelayState` (SAML) names, this browser's (its flow cookie), waiting for this protocol's
/// answer, its secret's digest matching; spent by compare-and-set before the answer is read,
/// so a replayed or doubled answer finds no trip.
pub(super) async fn spend_trip(
    state: &AppState,
    headers: &HeaderMap,
    upstream_state: &str,
    kind: TripKind,
    now: time::OffsetDateTime,
) -> Result<(ParkedSignIn, FederatedLeg), PageError> {
    let (parked_id, secret) = upstream_state.split_once('.').ok_or_else(expired)?;
    let mut parked = pending_for_browser(state, headers, parked_id, now).await?;
    let leg = parked.federated().cloned().ok_or_else(expired)?;
    let digest = unhex(&leg.state_digest).ok_or_else(expired)?;
    if (leg.saml_request_id.is_some()) != (kind == TripKind::Saml) || !state.digester.matches(secret, &digest) {
        return Err(expired());
    }
    if !parked.advance_to(state.store.as_ref(), FlowState::fresh()).await? {
        return Err(expired());
    }
    Ok((parked, leg))
}

/// `GET /login/federated/callback`: the provider's answer.
pub async fn callback(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, RawQuery(raw): RawQuery) -> Result<Response, PageError> {
    let now = now();
    // Parsed as every query Gatehouse reads: a parameter given twice is refused.
    let query = Params::parse(raw.unwrap_or_default().as_bytes()).map_err(|_| expired())?;
    let (parked, leg) = spend_trip(&state, &headers, query.get("state").ok_or_else(expired)?, TripKind::Oidc, now).await?;
    let provider = state.federation.providers.get(&leg.provider).ok_or_else(expired)?;
    let attempt = attempt::of_request(&state, &headers, addr);
    let m = messages_for(&headers);
    // RFC 9207: the answer names the provider this trip went to; a provider that says it always
    // names itself must have (a mix-up attack strips it).
    let names_itself = state.federation.upstreams.metadata(&provider.config).await.is_ok_and(|m| m.authorization_response_iss_parameter_supported);
    match query.get("iss") {
        Some(iss) if provider.config.oidc().is_none_or(|oidc| oidc.issuer != iss) => {
            return refused(&state, &parked, &attempt, &provider, "iss_mismatch", m, m.flow.federation_failed, now).await;
        }
        None if names_itself => return refused(&state, &parked, &attempt, &provider, "iss_missing", m, m.flow.federation_failed, now).await,
        _ => {}
    }
    if let Some(error) = query.get("error") {
        let check = format!("upstream_error:{}", error.chars().take(MAX_UPSTREAM_ERROR).collect::<String>());
        return refused(&state, &parked, &attempt, &provider, &check, m, m.flow.federation_failed, now).await;
    }
    let code = query.get("code").ok_or_else(expired)?;
    let callback = callback_uri(&state);
    let trip = Trip {
        redirect_uri: &callback,
        code,
        code_verifier: &leg.code_verifier,
        nonce: &leg.nonce,
        authenticated_since: leg.step_up.then_some(leg.started_at),
    };
    let verified = state.federation.upstreams.finish(&provider.config, provider.client_secret(), &trip, now.unix_timestamp()).await;
    let identity = match verified.map(|claims| gatehouse_federation::identity::from_oidc(&provider.config, claims)) {
        Ok(Ok(identity)) => identity,
        Ok(Err(rejection)) => return refused(&state, &parked, &attempt, &provider, &format!("id_token: {rejection}"), m, m.flow.federation_failed, now).await,
        Err(error) => return refused(&state, &parked, &attempt, &provider, &error.to_string(), m, m.flow.federation_failed, now).await,
    };
    vouched_for(&state, &headers, parked, &provider, &leg, identity, &attempt, now).await
}

/// The provider vouched for `identity` on the trip `leg` (its answer verified, the trip
/// spent): the account it means, the 2FA policy, the next step (OIDC and SAML alike).
#[allow(clippy::too_many_arguments)]
pub(super) async fn vouched_for(
    state: &AppState,
    headers: &HeaderMap,
    mut parked: ParkedSignIn,
    provider: &Provider,
    leg: &FederatedLeg,
    identity: gatehouse_federation::UpstreamIdentity,
    attempt: &attempt::Attempt,
    now: time::OffsetDateTime,
) -> Result<Response, PageError> {
    let m = messages_for(headers);
    if leg.subject.as_deref().is_some_and(|first| first != identity.subject) {
        return refused(state, &parked, attempt, provider, "step_up_by_another_person", m, m.flow.federation_failed, now).await;
    }
    let cx = policy::password_context(state);
    let origin = Origin { address: attempt.address, user_agent: &attempt.user_agent };
    let vouched = Vouched { issuer: &identity.issuer, subject: &identity.subject, email: identity.email.as_ref(), email_verified: identity.email_verified };
    let upstream = steps::federated::Upstream { vouched, name: identity.name.as_deref() };
    let user = match steps::federated::account(&cx, &provider.config, &upstream, &origin, now).await? {
        Ok(user) => user,
        Err(refused) => {
            let key = provider.config.key();
            let failure =
                Failure { user: refused.account.as_ref(), idp: &key, check: refused.refusal.code(), identity: Some((&identity.issuer, &identity.subject)) };
            return refused_for(state, &parked, attempt, failure, m, m.flow.federation_no_account, now).await;
        }
    };
    state.forget_user(&user.id);
    let client = state.client(&parked.request.client_id).ok_or_else(expired)?;
    let tenant = state.tenant_for_domain(&user.email.domain());
    if gatehouse_signin::next::tenant_closed(tenant.as_deref()) {
        state.store.delete_pending(&parked.id).await?;
        return next::account_closed(state, &parked.request);
    }
    let trusted = mfa_trusted(&provider.config, identity.mfa_asserted);
    let verdict = steps::federated::decide(&cx, tenant.as_deref(), &user, &client, &parked.request, trusted, attempt, now).await?;
    let owes_second_factor = matches!(verdict.outcome, Outcome::SecondFactor { .. } | Outcome::Enroll { .. });
    if owes_second_factor && !trusted && ask_provider_first(&provider.config, leg.step_up) {
        return step_up(state, headers, &mut parked, provider, &user, identity.subject).await;
    }
    tracing::info!(user = %user.id, provider = %provider.config.key(), rule = verdict.rule.code(), outcome = verdict.outcome.kind(), "identity provider accepted; 2FA policy decided");
    let entry = FirstFactor::federated(&provider.config.key(), identity.first_method.as_deref(), trusted);
    next::after_first_factor(state, headers, parked, &user, &verdict, entry, attempt, now).await
}

/// The policy wants a second factor the provider did not prove: ask the provider for it once
/// (its multi-factor `acr` values, a fresh authentication) before Gatehouse's own factor.
async fn step_up(
    state: &AppState,
    headers: &HeaderMap,
    parked: &mut ParkedSignIn,
    provider: &Provider,
    user: &gatehouse_core::model::User,
    subject: String,
) -> Result<Response, PageError> {
    let acr_values = (!provider.config.mfa_acr_values.is_empty()).then(|| provider.config.mfa_acr_values.join(" "));
    let ask = AuthorizationAsk { login_hint: Some(user.email.as_str()), acr_values, prompt_login: true, max_age: Some(0) };
    start(state, headers, parked, provider, &ask, Some(subject), Leave::Redirect).await
}

/// Whether a sign-in for this email goes to its organisation's provider instead of a password:
/// the provider bound to its domain, for the identifier step; with `password_given`, only a
/// provider that refuses passwords for the account.
pub fn provider_for(state: &AppState, email: &gatehouse_core::Email, password_given: bool) -> Option<std::sync::Arc<Provider>> {
    let provider = state.federation.providers.for_domain(&email.domain())?;
    let goes = !password_given || steps::federated::password_refused(&provider.config, email);
    goes.then_some(provider)
}

/// Starts the trip for `email` to the provider its domain is bound to (`login_hint` passed on).
pub async fn for_email(
    state: &AppState,
    headers: &HeaderMap,
    parked: &mut ParkedSignIn,
    provider: &Provider,
    email: &str,
    leave: Leave,
) -> Result<Response, PageError> {
    start(state, headers, parked, provider, &AuthorizationAsk { login_hint: Some(email), ..Default::default() }, None, leave).await
}

/// The provider's own sign-out (its `end_session_endpoint`, with Gatehouse's `client_id`), for
/// the signed-out page; `None` when it publishes none or cannot be reached.
pub async fn sign_out_link(state: &AppState, provider: &Provider) -> Option<(String, String)> {
    // A SAML provider's single logout takes a LogoutRequest, which Gatehouse does not send yet.
    provider.config.oidc()?;
    let metadata = match state.federation.upstreams.metadata(&provider.config).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(provider = %provider.config.key(), %error, "the identity provider's sign-out address is unknown");
            return None;
        }
    };
    let mut url = url::Url::parse(metadata.end_session_endpoint.as_deref()?).ok()?;
    url.query_pairs_mut().append_pair("client_id", &provider.config.oidc()?.client_id);
    Some((provider.config.name.clone(), url.into()))
}
