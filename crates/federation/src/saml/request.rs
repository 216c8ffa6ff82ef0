//! The AuthnRequest: over HTTP-Redirect when the provider offers it (deflated, in the query),
//! else over HTTP-POST (a form the browser submits). Unsigned, as Gatehouse's metadata says;
//! what binds the answer to this browser's sign-in is its `InResponseTo`, a random ID the
//! parked sign-in keeps.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use samael::schema::{AuthnContextClassRef, AuthnContextComparison, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext};
use samael::traits::ToXml;
use std::io::Write;
use url::Url;

use super::{HTTP_POST, IdpMetadata, ServiceProvider};

/// What Gatehouse asks of the provider besides a sign-in.
#[derive(Clone, Debug, Default)]
pub struct SamlAsk<'a> {
    /// Passed as the `login_hint` query parameter on HTTP-Redirect (Entra ID and Okta read it).
    pub login_hint: Option<&'a str>,
    /// `ForceAuthn`: authenticate again even with a session at the provider (a step-up).
    pub force_authn: bool,
    /// `RequestedAuthnContext` (exact): the multi-factor classes a step-up asks for.
    pub authn_contexts: Vec<String>,
}

/// How the browser carries the request to the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// HTTP-Redirect: the whole request is in this URL.
    Redirect(String),
    /// HTTP-POST: a form to `url` with `SAMLRequest` and `RelayState`.
    Post { url: String, saml_request: String, relay_state: String },
}

/// A started sign-in: the request's ID (the answer's `InResponseTo`) and how to send it.
#[derive(Clone, Debug)]
pub struct Started {
    pub request_id: String,
    pub outbound: Outbound,
}

/// Builds the AuthnRequest for `idp` under `relay_state` (which finds the parked sign-in).
pub fn begin(sp: &ServiceProvider, idp: &IdpMetadata, relay_state: &str, ask: &SamlAsk<'_>, now: i64) -> Result<Started, String> {
    let now = DateTime::<Utc>::from_timestamp(now, 0).ok_or("the clock is out of range")?;
    // An XML ID starts with a letter or underscore; 256 random bits follow.
    let request_id = format!("_gh{}", gatehouse_crypto::random::token().map_err(|_| "the random source failed".to_owned())?);
    let destination = idp.sso_redirect.clone().or_else(|| idp.sso_post.clone()).ok_or("the provider has no SingleSignOnService")?;
    let requested_authn_context = (!ask.authn_contexts.is_empty()).then(|| RequestedAuthnContext {
        authn_context_class_refs: Some(ask.authn_contexts.iter().map(|c| AuthnContextClassRef { value: Some(c.clone()) }).collect()),
        authn_context_decl_refs: None,
        comparison: Some(AuthnContextComparison::Exact),
    });
    let request = AuthnRequest {
        id: request_id.clone(),
        version: "2.0".to_owned(),
        issue_instant: now,
        destination: Some(destination.clone()),
        issuer: Some(Issuer { value: Some(sp.entity_id.clone()), ..Issuer::default() }),
        name_id_policy: Some(NameIdPolicy { allow_create: Some(true), ..NameIdPolicy::default() }),
        requested_authn_context,
        force_authn: ask.force_authn.then_some(true),
        assertion_consumer_service_url: Some(sp.acs_url.clone()),
        protocol_binding: Some(HTTP_POST.to_owned()),
        ..AuthnRequest::default()
    };
    let xml = request.to_string().map_err(|e| format!("the AuthnRequest could not be written: {e}"))?;
    let outbound = if idp.sso_redirect.is_some() {
        let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
        deflater.write_all(xml.as_bytes()).map_err(|e| e.to_string())?;
        let deflated = deflater.finish().map_err(|e| e.to_string())?;
        let mut url = Url::parse(&destination).map_err(|_| "the SingleSignOnService is not a URL".to_owned())?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("SAMLRequest", &STANDARD.encode(deflated)).append_pair("RelayState", relay_state);
            if let Some(hint) = ask.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Outbound::Redirect(url.into())
    } else {
        Outbound::Post { url: destination, saml_request: STANDARD.encode(xml), relay_state: relay_state.to_owned() }
    };
    Ok(Started { request_id, outbound })
}
