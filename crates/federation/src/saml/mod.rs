//! A SAML 2.0 upstream, with Gatehouse as its service provider: the entityID is
//! `ISSUER/saml/metadata`, the AssertionConsumerService `ISSUER/saml/acs` (HTTP-POST).
//!
//! Signatures are verified by `samael` with xmlsec, against the certificates pinned from the
//! provider's metadata, and the response is reduced to its signed subtree before anything is
//! read (signature wrapping finds nothing outside it). Around it, checks of Gatehouse's own:
//! a size cap and no DTD before any XML parser sees the document, exclusive c14n and SHA-2
//! signatures only, exactly one assertion, an `Audience` that names Gatehouse (a missing one
//! is refused), the `InResponseTo` of a request this browser started. An encrypted assertion is
//! opened with Gatehouse's SP key first and must carry the provider's signature itself.

mod decrypt;
mod metadata;
mod request;
mod response;
mod scan;
mod sp_key;

pub use metadata::{ACS_PATH, IdpMetadata, METADATA_PATH, ServiceProvider, fetch_metadata};
pub use request::{Outbound, SamlAsk, Started, begin};
pub use response::{Asserted, Claimed, Expected, Opened, Received, Scanned, claimed, finish, read};
pub use sp_key::{EncryptionKey, SpKeyError, load_or_create as load_sp_keys};

/// The SAML HTTP-Redirect and HTTP-POST bindings.
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// The largest `SAMLResponse` accepted, decoded.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Clock skew tolerated on an assertion's validity window.
pub const SKEW_SECONDS: i64 = 60;

/// Why a provider's metadata cannot be used. Shown to the operator or admin saving it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the metadata carries a DTD, which Gatehouse does not read")]
    Dtd,
    #[error("the metadata is not a SAML EntityDescriptor: {0}")]
    Malformed(String),
    #[error("the metadata describes no identity provider (IDPSSODescriptor)")]
    NotAnIdentityProvider,
    #[error("the metadata names no signing certificate: a provider without one cannot be saved")]
    NoSigningCertificate,
    #[error("a signing certificate in the metadata is not usable: {0}")]
    BadCertificate(String),
    #[error("the metadata offers no SingleSignOnService over HTTP-Redirect or HTTP-POST")]
    NoSingleSignOn,
    #[error("{0}")]
    Endpoint(String),
    #[error("the metadata could not be fetched: {0}")]
    Fetch(String),
}

/// Why an answer was refused: each names the check that failed (for the admin and the log;
/// the browser sees one generic message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("saml: the response is not valid base64")]
    Encoding,
    #[error("saml: the response is larger than Gatehouse accepts")]
    TooLarge,
    #[error("saml: the response carries a DTD")]
    Dtd,
    #[error("saml: the response is not well-formed XML")]
    Malformed,
    #[error("saml: the response carries a comment or processing instruction")]
    Comment,
    #[error("saml: the response nests deeper than Gatehouse reads")]
    TooDeep,
    #[error("saml: {0} algorithm `{1}` is not accepted (exclusive c14n and SHA-256 or stronger only)")]
    Algorithm(&'static str, String),
    #[error("saml: the response must carry exactly one assertion, it carries {0}")]
    AssertionCount(usize),
    #[error("saml: the encrypted assertion cannot be read: {0}")]
    Decryption(String),
    #[error("saml: the signature does not verify with the provider's pinned certificates (unsigned, another key, or wrapped)")]
    Signature,
    #[error("saml: {0}")]
    Check(String),
    #[error("saml: the assertion names no Audience")]
    AudienceMissing,
    #[error("saml: the assertion's Audience is not Gatehouse's entityID")]
    AudienceMismatch,
    #[error("saml: the assertion has no subject (NameID)")]
    NoSubject,
    #[error("saml: the assertion was already used (replay)")]
    Replayed,
    #[error("saml: the response answers no request this browser started (unsolicited)")]
    Unsolicited,
}
