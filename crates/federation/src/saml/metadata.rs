//! The two sides' metadata: the provider's, parsed once when it is saved (its signing
//! certificates pinned, its endpoints checked), and Gatehouse's own, published at
//! `ISSUER/saml/metadata` for the provider's admin to import.

use gatehouse_core::federation::{MAX_SAML_METADATA, upstream_url};
use samael::crypto::CertificateDer;
use samael::metadata::EntityDescriptor;

use std::sync::Arc;

use super::sp_key::EncryptionKey;
use super::{HTTP_POST, HTTP_REDIRECT, MetadataError, decrypt, scan};

/// The path of Gatehouse's SP metadata (its URL is the entityID) and of its ACS.
pub const METADATA_PATH: &str = "/saml/metadata";
pub const ACS_PATH: &str = "/saml/acs";

/// Gatehouse as a service provider: what it tells every SAML provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceProvider {
    /// `ISSUER/saml/metadata`.
    pub entity_id: String,
    /// `ISSUER/saml/acs`, HTTP-POST.
    pub acs_url: String,
    /// The keys providers encrypt assertions to (their certificates are in the metadata).
    pub encryption_keys: Arc<[EncryptionKey]>,
}

fn xml_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

impl ServiceProvider {
    pub fn for_issuer(issuer: &str) -> Self {
        Self { entity_id: format!("{issuer}{METADATA_PATH}"), acs_url: format!("{issuer}{ACS_PATH}"), encryption_keys: Arc::new([]) }
    }

    pub fn with_encryption_keys(self, keys: Vec<EncryptionKey>) -> Self {
        Self { encryption_keys: keys.into(), ..self }
    }

    /// One `KeyDescriptor use="encryption"` per key, with the algorithms Gatehouse opens,
    /// AES-GCM first (providers that read the list pick from its top).
    fn key_descriptors(&self) -> String {
        let methods = [decrypt::AES256_GCM, decrypt::AES128_GCM, decrypt::AES256_CBC, decrypt::AES128_CBC, decrypt::RSA_OAEP_MGF1P, decrypt::RSA_OAEP]
            .map(|uri| format!(r#"      <md:EncryptionMethod Algorithm="{uri}"/>"#))
            .join("\n");
        // Retired keys still open answers in flight; only active ones are offered.
        self.encryption_keys
            .iter()
            .filter(|key| key.is_active())
            .map(|key| {
                format!(
                    "    <md:KeyDescriptor use=\"encryption\">\n      <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:KeyName>{kid}</ds:KeyName><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n{methods}\n    </md:KeyDescriptor>\n",
                    kid = xml_attribute(key.kid()),
                    certificate = key.certificate_base64(),
                )
            })
            .collect()
    }

    /// The SP metadata document: who Gatehouse is, the certificates to encrypt assertions to,
    /// where answers go (HTTP-POST), the NameID formats it reads. `WantAssertionsSigned="true"`:
    /// an encrypted assertion must carry its own signature (anyone can encrypt to Gatehouse), and
    /// providers that read the flag (Shibboleth) then sign it; a plain assertion under a
    /// signature of the whole response is still taken.
    pub fn metadata_xml(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
{keys}    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{HTTP_POST}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            entity = xml_attribute(&self.entity_id),
            acs = xml_attribute(&self.acs_url),
            keys = self.key_descriptors(),
        )
    }
}

/// A provider's metadata, parsed and checked.
#[derive(Clone, Debug)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Its SingleSignOnService over HTTP-Redirect, if it offers one (preferred).
    pub sso_redirect: Option<String>,
    /// Its SingleSignOnService over HTTP-POST, if it offers one.
    pub sso_post: Option<String>,
    /// Its SingleLogoutService over HTTP-Redirect, for the signed-out page's link.
    pub slo_redirect: Option<String>,
    /// The certificates its signatures must verify with (DER).
    pub signing_certificates: Vec<CertificateDer>,
    /// The parsed document, which the verifier reads the pinned certificates from.
    pub(super) descriptor: EntityDescriptor,
}

impl IdpMetadata {
    /// Parses and checks a provider's metadata: one EntityDescriptor with an IDPSSODescriptor,
    /// at least one signing certificate (RSA of 2048 bits or more, or EC), and a
    /// SingleSignOnService over a binding Gatehouse speaks at a URL it may reach.
    pub fn parse(xml: &str) -> Result<Self, MetadataError> {
        if xml.len() > MAX_SAML_METADATA {
            return Err(MetadataError::TooLarge(MAX_SAML_METADATA));
        }
        if scan::has_dtd(xml) {
            return Err(MetadataError::Dtd);
        }
        let descriptor = xml.parse::<EntityDescriptor>().map_err(|e| MetadataError::Malformed(e.to_string()))?;
        let entity_id = descriptor.entity_id.clone().filter(|e| !e.trim().is_empty()).ok_or_else(|| MetadataError::Malformed("no entityID".into()))?;
        let idp = descriptor.idp_sso_descriptors.as_deref().unwrap_or_default();
        if idp.is_empty() {
            return Err(MetadataError::NotAnIdentityProvider);
        }
        if idp.len() > 1 {
            return Err(MetadataError::Malformed("more than one IDPSSODescriptor: give the one provider's".into()));
        }
        let endpoint = |binding: &str, services: &dyn Fn(&samael::metadata::IdpSsoDescriptor) -> Vec<samael::metadata::Endpoint>| {
            idp.iter().flat_map(services).find(|s| s.binding == binding).map(|s| s.location)
        };
        let sso_redirect = endpoint(HTTP_REDIRECT, &|d| d.single_sign_on_services.clone());
        let sso_post = endpoint(HTTP_POST, &|d| d.single_sign_on_services.clone());
        let slo_redirect = endpoint(HTTP_REDIRECT, &|d| d.single_logout_services.clone());
        if sso_redirect.is_none() && sso_post.is_none() {
            return Err(MetadataError::NoSingleSignOn);
        }
        for url in [&sso_redirect, &sso_post, &slo_redirect].into_iter().flatten() {
            upstream_url(url).map_err(|e| MetadataError::Endpoint(e.to_string()))?;
        }
        let verifier = samael::service_provider::ServiceProvider { idp_metadata: descriptor.clone(), ..Default::default() };
        let signing_certificates = verifier.idp_signing_certs().map_err(|e| MetadataError::BadCertificate(e.to_string()))?.unwrap_or_default();
        if signing_certificates.is_empty() {
            return Err(MetadataError::NoSigningCertificate);
        }
        for certificate in &signing_certificates {
            usable(certificate.der_data())?;
        }
        Ok(Self { entity_id, sso_redirect, sso_post, slo_redirect, signing_certificates, descriptor })
    }
}

impl IdpMetadata {
    /// The SHA-256 fingerprints of the pinned signing certificates (hex, colon-free), for the
    /// audit trail: a swapped certificate is a changed trust anchor.
    pub fn certificate_fingerprints(&self) -> Vec<String> {
        self.signing_certificates
            .iter()
            .filter_map(|c| openssl::x509::X509::from_der(c.der_data()).ok()?.digest(openssl::hash::MessageDigest::sha256()).ok())
            .map(|digest| digest.iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    }
}

/// Fetches a provider's metadata from its URL, bounded as every upstream call (no redirect
/// followed, `timeout`, at most [`MAX_SAML_METADATA`] bytes); `public_only` for a URL an admin
/// typed (see [`crate::guard`]).
pub async fn fetch_metadata(url: &str, timeout: std::time::Duration, public_only: bool) -> Result<String, MetadataError> {
    upstream_url(url).map_err(|e| MetadataError::Endpoint(e.to_string()))?;
    let fetch = |e: crate::UpstreamError| MetadataError::Fetch(e.to_string());
    let client = if public_only {
        crate::guard::check_public(url).await.map_err(fetch)?;
        crate::guard::public_only_client(timeout).map_err(fetch)?
    } else {
        crate::fetch::client(timeout).map_err(fetch)?
    };
    let body = crate::fetch::body("SAML metadata", client.get(url).send().await).await.map_err(fetch)?;
    String::from_utf8(body).map_err(|_| MetadataError::Malformed("not UTF-8".into()))
}

/// An X.509 certificate whose key may sign: RSA of 2048 bits or more, or an EC key.
fn usable(der: &[u8]) -> Result<(), MetadataError> {
    let certificate = openssl::x509::X509::from_der(der).map_err(|_| MetadataError::BadCertificate("not a DER X.509 certificate".into()))?;
    let key = certificate.public_key().map_err(|_| MetadataError::BadCertificate("no public key".into()))?;
    match key.id() {
        openssl::pkey::Id::RSA if key.bits() >= 2048 => Ok(()),
        openssl::pkey::Id::RSA => Err(MetadataError::BadCertificate(format!("an RSA key of {} bits (2048 at least)", key.bits()))),
        openssl::pkey::Id::EC => Ok(()),
        _ => Err(MetadataError::BadCertificate("only RSA and EC keys are accepted".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(inner: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test/saml"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{inner}</md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    const SSO: &str = r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/>"#;

    #[test]
    fn metadata_without_a_signing_certificate_or_a_usable_endpoint_is_refused() {
        assert_eq!(IdpMetadata::parse(&idp(SSO)).unwrap_err(), MetadataError::NoSigningCertificate);
        assert_eq!(IdpMetadata::parse(&idp("")).unwrap_err(), MetadataError::NoSingleSignOn);
        let plain_http = SSO.replace("https://idp.test", "http://idp.test");
        assert!(matches!(IdpMetadata::parse(&idp(&plain_http)), Err(MetadataError::Endpoint(_))));
        let sp_only = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.test"/>"#;
        assert_eq!(IdpMetadata::parse(sp_only).unwrap_err(), MetadataError::NotAnIdentityProvider);
        let garbage_key = r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#;
        assert!(matches!(IdpMetadata::parse(&idp(&format!("{garbage_key}{SSO}"))), Err(MetadataError::BadCertificate(_))));
        assert_eq!(IdpMetadata::parse(&format!("<!DOCTYPE x>{}", idp(SSO))).unwrap_err(), MetadataError::Dtd);
        assert_eq!(IdpMetadata::parse(&" ".repeat(MAX_SAML_METADATA + 1)).unwrap_err(), MetadataError::TooLarge(MAX_SAML_METADATA));
    }

    #[test]
    fn gatehouses_metadata_names_its_entity_id_and_acs_escaped() {
        let sp = ServiceProvider::for_issuer("https://id.test/a&b");
        assert_eq!(sp.entity_id, "https://id.test/a&b/saml/metadata");
        let xml = sp.metadata_xml();
        assert!(xml.contains(r#"entityID="https://id.test/a&amp;b/saml/metadata""#), "{xml}");
        assert!(xml.contains(r#"Location="https://id.test/a&amp;b/saml/acs""#) && xml.contains(super::super::HTTP_POST));
        let parsed: EntityDescriptor = xml.parse().unwrap();
        assert_eq!(parsed.entity_id.as_deref(), Some("https://id.test/a&b/saml/metadata"));
    }
}
