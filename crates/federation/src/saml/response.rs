//! The answer at the ACS: decoded within bounds, scanned (no DTD, allowed algorithms, one
//! assertion), an encrypted assertion opened and scanned again, verified by `samael` against the pinned certificates and reduced to its signed
//! subtree, then checked by Gatehouse's own rules, and read into an upstream identity.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::Email;
use gatehouse_core::federation::IdentityProvider;
use gatehouse_core::federation::SamlUpstream;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::schema::Assertion;

use super::{IdpMetadata, MAX_RESPONSE, Rejection, SKEW_SECONDS, ServiceProvider, decrypt, scan};
use crate::identity::{UpstreamIdentity, plain_address};

/// How long after its `IssueInstant` a response is still taken.
const MAX_ISSUE_DELAY_SECONDS: i64 = 120;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// Attributes that carry the email where none is configured: ADFS and Entra ID's claim URI,
/// the LDAP `mail` OID, the common short names.
const EMAIL_ATTRIBUTES: [&str; 4] =
    ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "urn:oid:0.9.2342.19200300.100.1.3", "email", "mail"];
/// Attributes that carry the display name: Entra ID's, ADFS's, the LDAP `displayName` OID.
const NAME_ATTRIBUTES: [&str; 4] = [
    "http://schemas.microsoft.com/identity/claims/displayname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "displayName",
];

/// What the answer must match.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub sp: &'a ServiceProvider,
    /// The ID of the AuthnRequest this browser's sign-in sent; `None` for an unsolicited answer
    /// (IdP-initiated), taken only from a provider that allows it and only without any
    /// `InResponseTo`.
    pub request_id: Option<&'a str>,
}

/// A verified assertion.
#[derive(Clone, Debug)]
pub struct Asserted {
    /// The assertion's ID, accepted once (the replay cache keeps it until `valid_until`).
    pub assertion_id: String,
    /// Unix seconds after which the assertion could no longer be presented.
    pub valid_until: i64,
    pub identity: UpstreamIdentity,
    /// The `AuthnContextClassRef` the provider asserted.
    pub authn_context: Option<String>,
    /// When the provider authenticated the person (unix seconds), if it says.
    pub authn_instant: Option<i64>,
}

fn decode(encoded: &str) -> Result<String, Rejection> {
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > MAX_RESPONSE / 3 * 4 + 4 {
        return Err(Rejection::TooLarge);
    }
    let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| Rejection::Encoding)?;
    String::from_utf8(bytes).map_err(|_| Rejection::Encoding)
}

/// Whether a signed assertion says it answers a request (its bearer confirmation's
/// `InResponseTo`): such an assertion was made for a sign-in some browser started, and is not
/// taken as an unsolicited one.
fn answers_a_request(assertion: &Assertion) -> bool {
    assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .any(|c| c.subject_confirmation_data.as_ref().is_some_and(|d| d.in_response_to.is_some()))
}

/// samael's verifier; `unsolicited` lets an answer without `InResponseTo` through (samael then
/// accepts any: [`finish`] refuses one that names a request).
fn verifier(idp: &IdpMetadata, sp: &ServiceProvider, unsolicited: bool) -> samael::service_provider::ServiceProvider {
    use AllowedSignatureAlgorithm::*;
    samael::service_provider::ServiceProvider {
        entity_id: Some(sp.entity_id.clone()),
        acs_url: Some(sp.acs_url.clone()),
        idp_metadata: idp.descriptor.clone(),
        allow_idp_initiated: unsolicited,
        max_clock_skew: chrono::Duration::seconds(SKEW_SECONDS),
        max_issue_delay: chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS),
        allowed_signature_algorithms: Some(vec![RsaSha256, RsaSha384, RsaSha512, EcdsaSha256, EcdsaSha384, EcdsaSha512]),
        ..Default::default()
    }
}

/// An answer at the ACS decoded within bounds and scanned (no DTD, no comments, allowed
/// algorithms), once: the ACS routes it by what it claims, then [`Scanned::receive`] goes on.
#[derive(Debug)]
pub struct Scanned {
    xml: String,
    shape: scan::Shape,
}

/// Decodes and scans the `SAMLResponse` of an HTTP-POST to the ACS.
pub fn read(encoded: &str) -> Result<Scanned, Rejection> {
    let xml = decode(encoded)?;
    let shape = scan::response(&xml)?;
    Ok(Scanned { xml, shape })
}

impl Scanned {
    /// Whether the response names a request (`InResponseTo`); none is an IdP-initiated answer.
    /// Not trusted: [`finish`] checks it again under the signature.
    pub fn answers_a_request(&self) -> bool {
        self.shape.envelope.in_response_to.is_some()
    }

    /// The response's own `Issuer`, to route an unsolicited answer (not trusted either).
    pub fn issuer(&self) -> Option<&str> {
        self.shape.envelope.issuer.as_deref()
    }

    /// Holds it to one assertion in its place and unwraps an encrypted one's session key.
    pub fn receive(self, sp: &ServiceProvider) -> Result<Received, Rejection> {
        let Self { xml, shape } = self;
        if shape.assertions + shape.encrypted_assertions != 1 {
            return Err(Rejection::AssertionCount(shape.assertions + shape.encrypted_assertions));
        }
        if shape.misplaced_assertions > 0 {
            return Err(Rejection::Check("the assertion is not a child of the Response".into()));
        }
        let encrypted = match shape.encrypted_span.filter(|_| shape.encrypted_assertions == 1) {
            Some(span) => Some(decrypt::unwrap(&xml, span, &sp.encryption_keys)?),
            None => None,
        };
        Ok(Received { xml, shape, encrypted })
    }
}

/// An answer at the ACS, decoded within bounds and scanned, holding one assertion in its place;
/// an encrypted one has its session key unwrapped but nothing decrypted yet.
#[derive(Debug)]
pub struct Received {
    xml: String,
    shape: scan::Shape,
    encrypted: Option<decrypt::Unwrapped>,
}

/// An answer ready for [`finish`]: its assertion plain (decrypted, scanned again).
#[derive(Debug)]
pub struct Opened {
    xml: String,
    shape: scan::Shape,
}

impl Received {
    /// The SHA-256 of an encrypted assertion's session key, which must be recorded as used
    /// (the replay cache) before [`Self::open`]: a ciphertext is opened once.
    pub fn session_key_digest(&self) -> Option<[u8; 32]> {
        self.encrypted.as_ref().map(decrypt::Unwrapped::key_digest)
    }

    /// Decrypts an encrypted assertion into its place and scans the whole again; a plain one
    /// passes as it is. Every failure after the key is one refusal.
    pub fn open(self) -> Result<Opened, Rejection> {
        let Some(encrypted) = self.encrypted else { return Ok(Opened { xml: self.xml, shape: self.shape }) };
        let xml = encrypted.open(&self.xml, &self.shape.root_signatures)?;
        let shape = scan::response(&xml).map_err(|_| decrypt::unopened())?;
        if shape.assertions != 1 || shape.encrypted_assertions != 0 || shape.misplaced_assertions != 0 {
            return Err(decrypt::unopened());
        }
        Ok(Opened { xml, shape })
    }
}

/// Verifies an opened answer and reads who signed in.
pub fn finish(provider: &IdentityProvider, idp: &IdpMetadata, opened: &Opened, expected: &Expected<'_>) -> Result<Asserted, Rejection> {
    let (xml, shape) = (&opened.xml, &opened.shape);
    envelope(&shape.envelope, idp, expected.sp)?;
    let saml = provider.saml().ok_or(Rejection::Signature)?;
    // Unsolicited: only where the provider allows it, and an answer to a request (any
    // `InResponseTo`) never passes for one.
    let unsolicited = expected.request_id.is_none();
    if unsolicited && (!saml.allow_idp_initiated || shape.envelope.in_response_to.is_some()) {
        return Err(Rejection::Unsolicited);
    }
    // The envelope's own InResponseTo, which the signature may not cover, must not disagree
    // with the request either (samael checks the signed one).
    if let (Some(said), Some(request_id)) = (&shape.envelope.in_response_to, expected.request_id)
        && said != request_id
    {
        return Err(Rejection::Check("the response's InResponseTo is not the request this browser started".into()));
    }
    // samael verifies nothing when the metadata has no certificate: never let that happen.
    if idp.signing_certificates.is_empty() || saml.entity_id != idp.entity_id {
        return Err(Rejection::Signature);
    }
    let requests = expected.request_id.map(|id| [id]);
    let assertion = verifier(idp, expected.sp, unsolicited).parse_xml_response(xml, requests.as_ref().map(|r| r.as_slice())).map_err(|error| match error {
        samael::service_provider::Error::FailedToValidateSignature => Rejection::Signature,
        other => Rejection::Check(other.to_string()),
    })?;
    if unsolicited && answers_a_request(&assertion) {
        return Err(Rejection::Unsolicited);
    }
    audience(&assertion, &expected.sp.entity_id)?;
    identity_of(provider, idp, assertion)
}

/// The response's own claims, which its signature may not cover (only the assertion's may):
/// a `Response` root, a successful status, the provider as issuer, the ACS as destination.
fn envelope(envelope: &scan::Envelope, idp: &IdpMetadata, sp: &ServiceProvider) -> Result<(), Rejection> {
    if envelope.root != "Response" {
        return Err(Rejection::Check(format!("the document is a `{}`, not a Response", envelope.root.chars().take(40).collect::<String>())));
    }
    if envelope.status.as_deref().is_some_and(|status| status != STATUS_SUCCESS) {
        return Err(Rejection::Check("the response's StatusCode is not Success".into()));
    }
    if envelope.issuer.as_deref().is_some_and(|issuer| issuer != idp.entity_id) {
        return Err(Rejection::Check("the response's Issuer is not the provider's entityID".into()));
    }
    if envelope.destination.as_deref().is_some_and(|destination| destination != sp.acs_url) {
        return Err(Rejection::Check("the response's Destination is not Gatehouse's ACS".into()));
    }
    Ok(())
}

/// Every `AudienceRestriction` must name Gatehouse (SAML Core §2.5.1.4), and one must exist:
/// an assertion for anyone is an assertion another service provider could replay here.
fn audience(assertion: &Assertion, entity_id: &str) -> Result<(), Rejection> {
    let restrictions = assertion.conditions.as_ref().and_then(|c| c.audience_restrictions.as_deref()).unwrap_or_default();
    if restrictions.is_empty() {
        return Err(Rejection::AudienceMissing);
    }
    if restrictions.iter().all(|r| r.audience.iter().any(|a| a == entity_id)) { Ok(()) } else { Err(Rejection::AudienceMismatch) }
}

/// The first value of the first attribute named (its `Name`, or its `FriendlyName`: `mail`
/// for `urn:oid:0.9.2342.19200300.100.1.3`).
fn attribute<'a>(assertion: &'a Assertion, names: &[&str]) -> Option<&'a str> {
    let statements = assertion.attribute_statements.as_deref().unwrap_or_default();
    names.iter().find_map(|name| {
        statements
            .iter()
            .flat_map(|s| &s.attributes)
            .find(|a| a.name.as_deref() == Some(name) || a.friendly_name.as_deref() == Some(name))
            .and_then(|a| a.values.iter().find_map(|v| v.value.as_deref()))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// The email under the provider's settings: its configured attribute; else the NameID when it
/// is an address; else the usual attributes.
fn email_of(saml: &SamlUpstream, assertion: &Assertion, name_id_format: Option<&str>, subject: &str) -> Option<Email> {
    let email_text = match &saml.email_attribute {
        Some(configured) => attribute(assertion, &[configured.as_str()]),
        None if name_id_format == Some(EMAIL_FORMAT) || subject.contains('@') => Some(subject),
        None => attribute(assertion, &EMAIL_ATTRIBUTES),
    };
    email_text.filter(|e| plain_address(e)).and_then(|e| Email::parse(e).ok())
}

/// What an opened answer claims, read **without verifying anything**: only to choose which
/// provider's pinned keys must verify it, when several tenants take unsolicited answers from
/// one IdP (a domain is bound to one provider, so the claimed address names at most one).
#[derive(Debug)]
pub struct Claimed {
    assertion: Option<Assertion>,
}

/// Parses an opened answer's assertion for [`Claimed`] (nothing verified, nothing trusted).
pub fn claimed(opened: &Opened) -> Claimed {
    let assertion = opened.xml.parse::<samael::schema::Response>().ok().and_then(|response| response.assertion);
    Claimed { assertion }
}

impl Claimed {
    /// Whether the address the answer claims under `provider`'s settings is on its domains.
    pub fn on_domains_of(&self, provider: &IdentityProvider) -> bool {
        let (Some(assertion), Some(saml)) = (&self.assertion, provider.saml()) else { return false };
        let Some(name_id) = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref()) else { return false };
        email_of(saml, assertion, name_id.format.as_deref(), name_id.value.trim()).is_some_and(|email| provider.domains.contains(&email.domain()))
    }
}

fn identity_of(provider: &IdentityProvider, idp: &IdpMetadata, assertion: Assertion) -> Result<Asserted, Rejection> {
    let saml = provider.saml().ok_or(Rejection::Signature)?;
    let name_id = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref()).ok_or(Rejection::NoSubject)?;
    let subject = name_id.value.trim();
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(Rejection::NoSubject);
    }
    if name_id.format.as_deref() == Some(TRANSIENT) {
        return Err(Rejection::Check("a transient NameID changes at every sign-in: configure a persistent one at the provider".into()));
    }
    let email = email_of(saml, &assertion, name_id.format.as_deref(), subject);
    let name_names: Vec<&str> = saml.name_attribute.iter().map(String::as_str).chain(NAME_ATTRIBUTES).collect();
    let name = attribute(&assertion, &name_names).filter(|n| n.len() <= 200).map(str::to_owned);
    let authn_instant = assertion.authn_statements.iter().flatten().find_map(|s| s.authn_instant).map(|t| t.timestamp());
    let authn_context = assertion.authn_statements.as_deref().unwrap_or_default().iter().find_map(|s| s.authn_context.as_ref()?.value.as_ref()?.value.clone());
    let mfa_asserted = authn_context.as_ref().is_some_and(|c| provider.mfa_acr_values.contains(c));
    let first_method = authn_context.as_deref().filter(|c| c.ends_with("PasswordProtectedTransport") || c.ends_with(":Password")).map(|_| "pwd".to_owned());
    let confirmation_end = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after)
        .max();
    let condition_end = assertion.conditions.as_ref().and_then(|c| c.not_on_or_after);
    let ends =
        [confirmation_end, condition_end].into_iter().flatten().max().map_or(assertion.issue_instant.timestamp() + MAX_ISSUE_DELAY_SECONDS, |t| t.timestamp());
    let identity = UpstreamIdentity {
        issuer: idp.entity_id.clone(),
        subject: subject.to_owned(),
        email,
        // SAML says nothing of verification: the provider's binding to the domain is the proof
        // (the sign-in crate links or creates only on its bound domains).
        email_verified: true,
        name,
        mfa_asserted,
        first_method,
    };
    Ok(Asserted { assertion_id: assertion.id.clone(), valid_until: ends + SKEW_SECONDS, identity, authn_context, authn_instant })
}

#[cfg(test)]
mod tests {
    use super::*;
    use samael::schema::{AudienceRestriction, Conditions, Issuer};

    fn assertion(audiences: Option<Vec<Vec<&str>>>) -> Assertion {
        let conditions = audiences.map(|restrictions| Conditions {
            not_before: None,
            not_on_or_after: None,
            audience_restrictions: Some(
                restrictions.into_iter().map(|a| AudienceRestriction { audience: a.into_iter().map(str::to_owned).collect() }).collect(),
            ),
            one_time_use: None,
            proxy_restriction: None,
        });
        Assertion {
            id: "_a".into(),
            issue_instant: chrono::Utc::now(),
            version: "2.0".into(),
            issuer: Issuer::default(),
            signature: None,
            subject: None,
            conditions,
            authn_statements: None,
            attribute_statements: None,
        }
    }

    #[test]
    fn an_assertion_for_anyone_or_for_another_sp_is_refused() {
        let me = "https://id.test/saml/metadata";
        assert_eq!(audience(&assertion(None), me), Err(Rejection::AudienceMissing));
        assert_eq!(audience(&assertion(Some(vec![])), me), Err(Rejection::AudienceMissing));
        assert_eq!(audience(&assertion(Some(vec![vec![me]])), me), Ok(()));
        assert_eq!(audience(&assertion(Some(vec![vec!["https://other.test", me]])), me), Ok(()), "one of a restriction's audiences");
        assert_eq!(audience(&assertion(Some(vec![vec![me], vec!["https://other.test"]])), me), Err(Rejection::AudienceMismatch), "every restriction");
    }

    #[test]
    fn a_response_is_decoded_within_bounds() {
        assert_eq!(decode("not base64!"), Err(Rejection::Encoding));
        assert_eq!(decode(&"A".repeat(MAX_RESPONSE / 3 * 4 + 8)), Err(Rejection::TooLarge));
        assert_eq!(decode("PHI+\n PC9yPg=="), Ok("<r></r>".into()), "line breaks and spaces are ignored");
    }
}
